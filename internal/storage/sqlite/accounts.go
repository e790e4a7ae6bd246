package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

var storageErrNotFound = storage.ErrNotFound

var (
	_ storage.Accounts     = (*Store)(nil)
	_ storage.APIKeys      = (*Store)(nil)
	_ storage.Credentials  = (*Store)(nil)
	_ storage.ConsoleUsers = (*Store)(nil)
	_ storage.SigningKeys  = (*Store)(nil)
	_ storage.Audit        = (*Store)(nil)
	_ storage.LastUse      = (*Store)(nil)
	_ storage.Pinger       = (*Store)(nil)
)

// CreateAccount implements storage.Accounts. An id whose deletion was
// interrupted (a crash during the purge) is finished first, so that it can
// be created again, empty.
func (s *Store) CreateAccount(ctx context.Context, n storage.NewAccount) error {
	err := s.createAccount(ctx, n)
	if errors.Is(err, storage.ErrAlreadyExists) && s.deleting(ctx, n.Account.ID) {
		if err := s.purgeAccount(context.WithoutCancel(ctx), n.Account.ID); err != nil {
			return err
		}
		err = s.createAccount(ctx, n)
	}
	return err
}

// deleting reports whether account id is marked deleted but not yet gone.
func (s *Store) deleting(ctx context.Context, id string) bool {
	var deletedAt int64
	err := s.r.QueryRowContext(ctx, `SELECT deleted_at FROM accounts WHERE id = ?`, id).Scan(&deletedAt)
	return err == nil && deletedAt != 0
}

func (s *Store) createAccount(ctx context.Context, n storage.NewAccount) error {
	a := n.Account
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, auth_version, created_at, upgraded_at) VALUES (?,?,?,?,?)`,
			a.ID, a.Name, a.AuthVersion, ms(a.CreatedAt), ms(a.UpgradedAt)); err != nil {
			if isUnique(err) {
				return fmt.Errorf("account %s: %w", a.ID, storage.ErrAlreadyExists)
			}
			return err
		}
		k := n.APIKey
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (hash, account_id, sealed, created_at, retired_at) VALUES (?,?,?,?,0)`,
			k.Hash, a.ID, k.Sealed, ms(k.CreatedAt)); err != nil {
			if isUnique(err) {
				return fmt.Errorf("api key: %w", storage.ErrAlreadyExists)
			}
			return err
		}
		if c := n.Credential; c != nil {
			if err := insertCredential(ctx, tx, a.ID, *c); err != nil {
				return err
			}
		}
		if u := n.ConsoleUser; u != nil {
			u.AccountID = a.ID
			if err := insertConsoleUser(ctx, tx, *u); err != nil {
				return err
			}
		}
		return nil
	})
}

func insertCredential(ctx context.Context, tx *sql.Tx, accountID string, c storage.Credential) error {
	r := c.Revocation
	_, err := tx.ExecContext(ctx, `INSERT INTO credentials (account_id, user_id, secret_hash, seed, created_at, revoked_before_ms, pending_before_ms, pending_at) VALUES (?,?,?,?,?,?,?,?)`,
		accountID, c.UserID, c.SecretHash, c.Seed, ms(c.CreatedAt), r.BeforeMs, r.PendingBeforeMs, ms(r.PendingAt))
	if isUnique(err) {
		return fmt.Errorf("credential: %w", storage.ErrAlreadyExists)
	}
	return err
}

const accountCols = `id, name, auth_version, created_at, upgraded_at`

func scanAccount(row interface{ Scan(...any) error }) (storage.Account, error) {
	var a storage.Account
	var created, upgraded int64
	if err := row.Scan(&a.ID, &a.Name, &a.AuthVersion, &created, &upgraded); err != nil {
		return a, notFound(err)
	}
	a.CreatedAt, a.UpgradedAt = fromMS(created), fromMS(upgraded)
	return a, nil
}

// GetAccount implements storage.Accounts.
func (s *Store) GetAccount(ctx context.Context, id string) (storage.Account, error) {
	return scanAccount(s.ps.accountGet.QueryRowContext(ctx, id))
}

// ListAccounts implements storage.Accounts, ordered by id.
func (s *Store) ListAccounts(ctx context.Context) ([]storage.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE deleted_at = 0 ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Bounds of one step of an account deletion, so that the single writer is
// never held for long: one cascading delete of an account with millions of
// rows held it for 9.4 s (security review 2026-12, finding 3), stalling
// every other tenant's writes. A step removes purgeBatch rows to start
// with; the size adapts so that a step takes about purgeStepTime on this
// machine and load, between purgeBatchMin and purgeBatchMax rows.
const (
	purgeBatch    = 1000
	purgeBatchMin = 100
	purgeBatchMax = 5000
	purgeStepTime = 40 * time.Millisecond
	// purgePause lets writes queued during a step commit on their own
	// before the next step joins the committer's queue.
	purgePause = 2 * time.Millisecond
)

// purgeSteps remove an account's bulk data, purgeBatch rows at a time
// (?1 the account id, ?2 the batch size). Each runs until a batch comes
// back short.
var purgeSteps = []string{
	`DELETE FROM ccs_properties WHERE account_id = ?1 AND (namespace, session_id, name) IN (
		SELECT namespace, session_id, name FROM ccs_properties WHERE account_id = ?1 LIMIT ?2)`,
	`DELETE FROM ccs_sessions WHERE account_id = ?1 AND (namespace, session_id) IN (
		SELECT namespace, session_id FROM ccs_sessions WHERE account_id = ?1 LIMIT ?2)`,
	`DELETE FROM ccs_namespaces WHERE account_id = ?1 AND name IN (
		SELECT name FROM ccs_namespaces WHERE account_id = ?1 LIMIT ?2)`,
	`DELETE FROM policy_evaluations WHERE rowid IN (
		SELECT rowid FROM policy_evaluations WHERE account_id = ?1 LIMIT ?2)`,
	`DELETE FROM policies WHERE account_id = ?1 AND id IN (
		SELECT id FROM policies WHERE account_id = ?1 LIMIT ?2)`,
}

// DeleteAccount implements storage.Accounts. Every table that holds an
// account's data references accounts(id) ON DELETE CASCADE, but one
// cascading delete of a large account held the single writer for seconds.
// So it goes in steps, each a write of its own through the committer,
// with other writes in between:
//
//  1. at once: the account is marked deleted (GetAccount and ListAccounts
//     no longer see it) and its keys, credentials and console users go,
//     so nothing authenticates as it from the store on;
//  2. its context data, evaluation log and policies, a bounded number of
//     rows per write (sized to take about purgeStepTime), with a pause
//     between writes so that queued writes commit on their own;
//  3. the account row, whose cascade removes whatever was written
//     meanwhile (by a request authenticated just before step 1).
//
// It returns after step 3, so nothing of the account is readable then and
// the id can be created again, empty. The steps run to the end even if ctx
// is cancelled once step 1 is done; an interrupted deletion (a crash, or
// Close) is finished by the next DeleteAccount (which then succeeds) or
// CreateAccount of the same id. Each step checks, in its own write, that
// the account is still marked deleted, so a purge that runs late never
// touches an account created again with the same id.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var deletedAt int64
		if err := tx.QueryRowContext(ctx, `SELECT deleted_at FROM accounts WHERE id = ?`, id).Scan(&deletedAt); err != nil {
			return notFound(err)
		}
		if deletedAt != 0 {
			return nil // an interrupted deletion: finish it
		}
		for _, q := range []string{
			`UPDATE accounts SET deleted_at = ?2 WHERE id = ?1`,
			`DELETE FROM api_keys WHERE account_id = ?1`,
			`DELETE FROM credentials WHERE account_id = ?1`,
			`DELETE FROM console_users WHERE account_id = ?1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id, max(time.Now().UnixMilli(), 1)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.purgeAccount(context.WithoutCancel(ctx), id)
}

// purgeAccount runs steps 2 and 3 of DeleteAccount for an account marked
// deleted.
func (s *Store) purgeAccount(ctx context.Context, id string) error {
	batch := int64(purgeBatch)
	for _, q := range purgeSteps {
		for {
			var n int64
			var took time.Duration
			gone := false
			err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				// Only while the account is still marked deleted, checked
				// in the same write: once it is gone (another purge of it
				// finished) an account created again with the id must
				// keep its new data.
				var deletedAt int64
				err := tx.QueryRowContext(ctx, `SELECT deleted_at FROM accounts WHERE id = ?`, id).Scan(&deletedAt)
				if errors.Is(err, sql.ErrNoRows) || err == nil && deletedAt == 0 {
					gone = true
					return nil
				}
				if err != nil {
					return err
				}
				start := time.Now()
				res, err := tx.ExecContext(ctx, q, id, batch)
				if err != nil {
					return err
				}
				took = time.Since(start)
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return fmt.Errorf("delete account %s: %w", id, err)
			}
			if gone {
				return nil
			}
			if n < batch {
				break
			}
			switch {
			case took > purgeStepTime:
				batch = max(batch/2, purgeBatchMin)
			case took < purgeStepTime/2:
				batch = min(batch*2, purgeBatchMax)
			}
			time.Sleep(purgePause)
		}
	}
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ? AND deleted_at != 0`, id)
		return err
	})
}

// UpgradeAccount implements storage.Accounts.
func (s *Store) UpgradeAccount(ctx context.Context, id string, c storage.Credential, at time.Time) (storage.Account, error) {
	var a storage.Account
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		a, err = scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ? AND deleted_at = 0`, id))
		if err != nil {
			return err
		}
		if a.AuthVersion == storage.AuthV2 {
			return fmt.Errorf("account %s is already v2: %w", id, storage.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET auth_version = ?, upgraded_at = ? WHERE id = ?`, storage.AuthV2, ms(at), id); err != nil {
			return err
		}
		a.AuthVersion, a.UpgradedAt = storage.AuthV2, fromMS(ms(at))
		return insertCredential(ctx, tx, id, c)
	})
	return a, err
}

// RotateAPIKey implements storage.APIKeys.
func (s *Store) RotateAPIKey(ctx context.Context, k storage.APIKey, retireAt time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE id = ? AND deleted_at = 0`, k.AccountID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		now := ms(k.CreatedAt)
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE account_id = ? AND retired_at != 0 AND retired_at <= ?`, k.AccountID, now); err != nil {
			return err
		}
		// Every older key retires at retireAt or at its own, earlier,
		// retirement: a key in the grace of an earlier rotation must stop
		// too when this one has no grace, and a grace never extends it.
		at := max(ms(retireAt), 1)
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET retired_at = ? WHERE account_id = ? AND (retired_at = 0 OR retired_at > ?)`, at, k.AccountID, at); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (hash, account_id, sealed, created_at, retired_at) VALUES (?,?,?,?,0)`,
			k.Hash, k.AccountID, k.Sealed, now)
		if isUnique(err) {
			return fmt.Errorf("api key: %w", storage.ErrAlreadyExists)
		}
		return err
	})
}

const keyCols = `hash, account_id, sealed, created_at, retired_at, last_used_at`

func scanKey(row interface{ Scan(...any) error }) (storage.APIKey, error) {
	var k storage.APIKey
	var created, retired, used int64
	if err := row.Scan(&k.Hash, &k.AccountID, &k.Sealed, &created, &retired, &used); err != nil {
		return k, notFound(err)
	}
	k.CreatedAt, k.RetiredAt, k.LastUsedAt = fromMS(created), fromMS(retired), fromMS(used)
	return k, nil
}

// APIKeyByHash implements storage.APIKeys.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (storage.APIKey, error) {
	return scanKey(s.ps.keyByHash.QueryRowContext(ctx, hash))
}

// CurrentAPIKey implements storage.APIKeys.
func (s *Store) CurrentAPIKey(ctx context.Context, accountID string) (storage.APIKey, error) {
	return scanKey(s.r.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE account_id = ? AND retired_at = 0`, accountID))
}

// ListAPIKeys implements storage.LastUse.
func (s *Store) ListAPIKeys(ctx context.Context, accountID string) ([]storage.APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE account_id = ? ORDER BY retired_at = 0 DESC, retired_at DESC, created_at DESC`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.APIKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// markUsedBatch is the uses MarkUsed writes per write transaction: a
// flush of 100,000 keys in one would hold the committer, and every write
// queued behind it, for about a second.
const markUsedBatch = 1000

// MarkUsed implements storage.LastUse, markUsedBatch uses per write, with
// statements prepared once (parsing the UPDATE for every use was most of
// a flush's cost; issue 18).
func (s *Store) MarkUsed(ctx context.Context, uses []storage.SecretUse) error {
	for len(uses) > 0 {
		n := min(len(uses), markUsedBatch)
		batch := uses[:n]
		uses = uses[n:]
		err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			key, cred := tx.StmtContext(ctx, s.ps.keyUsed), tx.StmtContext(ctx, s.ps.credUsed)
			for _, u := range batch {
				var err error
				if u.Hash != nil {
					_, err = key.ExecContext(ctx, ms(u.At), u.Hash)
				} else {
					_, err = cred.ExecContext(ctx, ms(u.At), u.UserID)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

const credCols = `account_id, user_id, secret_hash, seed, created_at, revoked_before_ms, pending_before_ms, pending_at, last_used_at`

func scanCred(row interface{ Scan(...any) error }) (storage.Credential, error) {
	var c storage.Credential
	var created, pendingAt, used int64
	if err := row.Scan(&c.AccountID, &c.UserID, &c.SecretHash, &c.Seed, &created, &c.Revocation.BeforeMs, &c.Revocation.PendingBeforeMs, &pendingAt, &used); err != nil {
		return c, notFound(err)
	}
	c.CreatedAt, c.Revocation.PendingAt, c.LastUsedAt = fromMS(created), fromMS(pendingAt), fromMS(used)
	return c, nil
}

// CredentialByUserID implements storage.Credentials.
func (s *Store) CredentialByUserID(ctx context.Context, userID string) (storage.Credential, error) {
	return scanCred(s.ps.credByUser.QueryRowContext(ctx, userID))
}

// CredentialByAccount implements storage.Credentials.
func (s *Store) CredentialByAccount(ctx context.Context, accountID string) (storage.Credential, error) {
	return scanCred(s.r.QueryRowContext(ctx, `SELECT `+credCols+` FROM credentials WHERE account_id = ?`, accountID))
}

// ReplaceCredential implements storage.Credentials. The stored
// revocation is read and advanced in the same write transaction (the
// committer runs one at a time), so two regenerations racing cannot undo
// each other's revocation.
func (s *Store) ReplaceCredential(ctx context.Context, c storage.Credential, revokeAt time.Time) (storage.Credential, error) {
	var out storage.Credential
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		old, err := scanCred(tx.QueryRowContext(ctx, `SELECT `+credCols+` FROM credentials WHERE account_id = ? AND user_id = ?`, c.AccountID, c.UserID))
		if err != nil {
			return err
		}
		c.Revocation = old.Revocation.Then(c.CreatedAt, revokeAt)
		r := c.Revocation
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET secret_hash = ?, seed = ?, created_at = ?, revoked_before_ms = ?, pending_before_ms = ?, pending_at = ? WHERE account_id = ? AND user_id = ?`,
			c.SecretHash, c.Seed, ms(c.CreatedAt), r.BeforeMs, r.PendingBeforeMs, ms(r.PendingAt), c.AccountID, c.UserID); err != nil {
			return err
		}
		c.CreatedAt, c.Revocation.PendingAt = fromMS(ms(c.CreatedAt)), fromMS(ms(r.PendingAt))
		c.LastUsedAt = old.LastUsedAt
		out = c
		return nil
	})
	return out, err
}

func insertConsoleUser(ctx context.Context, tx *sql.Tx, u storage.ConsoleUser) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO console_users (account_id, email, password_hash, created_at) VALUES (?,?,?,?)`,
		u.AccountID, u.Email, u.PasswordHash, ms(u.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("console user %s: %w", u.Email, storage.ErrAlreadyExists)
	}
	return err
}

// CreateConsoleUser implements storage.ConsoleUsers.
func (s *Store) CreateConsoleUser(ctx context.Context, u storage.ConsoleUser) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE id = ? AND deleted_at = 0`, u.AccountID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		return insertConsoleUser(ctx, tx, u)
	})
}

// GetConsoleUser implements storage.ConsoleUsers.
func (s *Store) GetConsoleUser(ctx context.Context, accountID, email string) (storage.ConsoleUser, error) {
	var u storage.ConsoleUser
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT account_id, email, password_hash, created_at FROM console_users WHERE account_id = ? AND email = ?`, accountID, email).
		Scan(&u.AccountID, &u.Email, &u.PasswordHash, &created)
	u.CreatedAt = fromMS(created)
	return u, notFound(err)
}

// AddSigningKey implements storage.SigningKeys.
func (s *Store) AddSigningKey(ctx context.Context, k storage.SigningKey) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO signing_keys (kid, alg, private, created_at, signs_from) VALUES (?,?,?,?,?)`,
		k.KID, k.Alg, k.Private, ms(k.CreatedAt), ms(k.SignsFrom))
	if isUnique(err) {
		return fmt.Errorf("signing key %s: %w", k.KID, storage.ErrAlreadyExists)
	}
	return s.storageErr(err)
}

// ListSigningKeys implements storage.SigningKeys, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT kid, alg, private, created_at, signs_from FROM signing_keys ORDER BY signs_from, rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.SigningKey{}
	for rows.Next() {
		var k storage.SigningKey
		var created, from int64
		if err := rows.Scan(&k.KID, &k.Alg, &k.Private, &created, &from); err != nil {
			return nil, err
		}
		k.CreatedAt, k.SignsFrom = fromMS(created), fromMS(from)
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteSigningKey implements storage.SigningKeys.
func (s *Store) DeleteSigningKey(ctx context.Context, kid string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid)
	if err != nil {
		return s.storageErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// AppendAudit implements storage.Audit.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_log (time, account_id, actor, action, address) VALUES (?,?,?,?,?)`,
		ms(e.Time), e.AccountID, e.Actor, e.Action, e.Address)
	return s.storageErr(err) // a console page that cannot audit says why
}

// ListAudit implements storage.Audit, newest first.
func (s *Store) ListAudit(ctx context.Context, accountID string, limit int) ([]storage.AuditEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `SELECT time, account_id, actor, action, address FROM audit_log WHERE account_id = ? ORDER BY seq DESC LIMIT ?`, accountID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.AuditEvent{}
	for rows.Next() {
		var e storage.AuditEvent
		var t int64
		if err := rows.Scan(&t, &e.AccountID, &e.Actor, &e.Action, &e.Address); err != nil {
			return nil, err
		}
		e.Time = fromMS(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeAudit implements storage.Audit, in one short write of at most
// limit rows (found by the time index).
func (s *Store) PurgeAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE seq IN
			(SELECT seq FROM audit_log WHERE time < ? ORDER BY time LIMIT ?)`, ms(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
