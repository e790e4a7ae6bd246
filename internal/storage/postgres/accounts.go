package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator/orchestrator/internal/storage"
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
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		return q.QueryRow(ctx, `SELECT deleted_at FROM accounts WHERE id = $1`, id).Scan(&deletedAt)
	})
	return err == nil && deletedAt != 0
}

func (s *Store) createAccount(ctx context.Context, n storage.NewAccount) error {
	a := n.Account
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, auth_version, created_at, upgraded_at) VALUES ($1,$2,$3,$4,$5)`,
			a.ID, a.Name, a.AuthVersion, ms(a.CreatedAt), ms(a.UpgradedAt)); err != nil {
			if isUnique(err) {
				return fmt.Errorf("account %s: %w", a.ID, storage.ErrAlreadyExists)
			}
			return err
		}
		k := n.APIKey
		if _, err := tx.Exec(ctx, `INSERT INTO api_keys (hash, account_id, sealed, created_at, retired_at) VALUES ($1,$2,$3,$4,0)`,
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

func insertCredential(ctx context.Context, tx pgx.Tx, accountID string, c storage.Credential) error {
	r := c.Revocation
	_, err := tx.Exec(ctx, `INSERT INTO credentials (account_id, user_id, secret_hash, seed, created_at, revoked_before_ms, pending_before_ms, pending_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		accountID, c.UserID, c.SecretHash, c.Seed, ms(c.CreatedAt), r.BeforeMs, r.PendingBeforeMs, ms(r.PendingAt))
	if isUnique(err) {
		return fmt.Errorf("credential: %w", storage.ErrAlreadyExists)
	}
	return err
}

const accountCols = `id, name, auth_version, created_at, upgraded_at`

func scanAccount(row pgx.Row) (storage.Account, error) {
	var a storage.Account
	var created, upgraded int64
	if err := row.Scan(&a.ID, &a.Name, &a.AuthVersion, &created, &upgraded); err != nil {
		return storage.Account{}, notFound(err)
	}
	a.CreatedAt, a.UpgradedAt = fromMS(created), fromMS(upgraded)
	return a, nil
}

// GetAccount implements storage.Accounts.
func (s *Store) GetAccount(ctx context.Context, id string) (storage.Account, error) {
	if !storable(id) {
		return storage.Account{}, storage.ErrNotFound
	}
	var a storage.Account
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var err error
		a, err = scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 AND deleted_at = 0`, id))
		return err
	})
	return a, err
}

// ListAccounts implements storage.Accounts, ordered by id.
func (s *Store) ListAccounts(ctx context.Context) ([]storage.Account, error) {
	var out []storage.Account
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		rows, _ := q.Query(ctx, `SELECT `+accountCols+` FROM accounts WHERE deleted_at = 0 ORDER BY id`)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Account, error) { return scanAccount(r) })
		return err
	})
	if out == nil && err == nil {
		out = []storage.Account{}
	}
	return out, err
}

// purgeBatch is how many rows one step of an account deletion removes:
// each step is a transaction of its own, so that deleting a large
// account never holds its locks (and the WAL) for long.
const purgeBatch = 5000

// purgeSteps remove an account's bulk data, purgeBatch rows at a time
// ($1 the account id, $2 the batch size). Each runs until a batch comes
// back short. The context steps run under the account's ccs_usage row
// lock (the lock order of every context write).
var purgeSteps = []struct {
	q       string
	context bool
}{
	{`DELETE FROM ccs_properties WHERE account_id = $1 AND (namespace, session_id, name) IN (
		SELECT namespace, session_id, name FROM ccs_properties WHERE account_id = $1 LIMIT $2)`, true},
	{`DELETE FROM ccs_sessions WHERE account_id = $1 AND (namespace, session_id) IN (
		SELECT namespace, session_id FROM ccs_sessions WHERE account_id = $1 LIMIT $2)`, true},
	{`DELETE FROM ccs_namespaces WHERE account_id = $1 AND name IN (
		SELECT name FROM ccs_namespaces WHERE account_id = $1 LIMIT $2)`, true},
	{`DELETE FROM policy_evaluations WHERE seq IN (
		SELECT seq FROM policy_evaluations WHERE account_id = $1 LIMIT $2)`, false},
	{`DELETE FROM policies WHERE account_id = $1 AND id IN (
		SELECT id FROM policies WHERE account_id = $1 LIMIT $2)`, false},
}

// DeleteAccount implements storage.Accounts, in the steps of the SQLite
// backend:
//
//  1. at once: the account is marked deleted (GetAccount and ListAccounts
//     no longer see it) and its keys, credentials and console users go,
//     so nothing authenticates as it from the store on;
//  2. its context data, evaluation log and policies, purgeBatch rows per
//     transaction;
//  3. the account row, whose cascade removes whatever was written
//     meanwhile (by a request authenticated just before step 1).
//
// It returns after step 3. The steps run to the end even if ctx is
// cancelled once step 1 is done; an interrupted deletion is finished by
// the next DeleteAccount or CreateAccount of the same id, on any node.
// Each step holds the account row (FOR SHARE) while it deletes, so a
// purge that runs late never touches an account created again with the
// same id.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	if !storable(id) {
		return storage.ErrNotFound
	}
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var deletedAt int64
		if err := tx.QueryRow(ctx, `SELECT deleted_at FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&deletedAt); err != nil {
			return notFound(err)
		}
		if deletedAt != 0 {
			return nil // an interrupted deletion: finish it
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE accounts SET deleted_at = $2 WHERE id = $1`, id, max(time.Now().UnixMilli(), 1))
		b.Queue(`DELETE FROM api_keys WHERE account_id = $1`, id)
		b.Queue(`DELETE FROM credentials WHERE account_id = $1`, id)
		b.Queue(`DELETE FROM console_users WHERE account_id = $1`, id)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return err
	}
	return s.purgeAccount(context.WithoutCancel(ctx), id)
}

// purgeAccount runs steps 2 and 3 of DeleteAccount for an account marked
// deleted.
func (s *Store) purgeAccount(ctx context.Context, id string) error {
	// held locks the account row, while it is still marked deleted, and
	// its usage row when context data is deleted.
	held := func(ctx context.Context, tx pgx.Tx, usage bool) (bool, error) {
		var deletedAt int64
		err := tx.QueryRow(ctx, `SELECT deleted_at FROM accounts WHERE id = $1 FOR SHARE`, id).Scan(&deletedAt)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && deletedAt == 0 {
			return false, nil
		}
		if err != nil || !usage {
			return err == nil, err
		}
		_, err = tx.Exec(ctx, `SELECT 1 FROM ccs_usage WHERE account_id = $1 FOR UPDATE`, id)
		return err == nil, err
	}
	for _, step := range purgeSteps {
		for {
			var n int64
			gone := false
			err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
				// Afresh on each run: a run that failed (and is run
				// again) says nothing about the account being gone.
				n, gone = 0, false
				ok, err := held(ctx, tx, step.context)
				if err != nil {
					return err
				}
				if !ok {
					gone = true
					return nil
				}
				tag, err := tx.Exec(ctx, step.q, id, purgeBatch)
				n = tag.RowsAffected()
				return err
			})
			if err != nil {
				return fmt.Errorf("delete account %s: %w", id, err)
			}
			if gone {
				return nil
			}
			if n < purgeBatch {
				break
			}
		}
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		// The usage row first: the lock order of the context writes the
		// cascade may meet.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM ccs_usage WHERE account_id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1 AND deleted_at != 0`, id)
		return err
	})
}

// UpgradeAccount implements storage.Accounts.
func (s *Store) UpgradeAccount(ctx context.Context, id string, c storage.Credential, at time.Time) (storage.Account, error) {
	if !storable(id) {
		return storage.Account{}, storage.ErrNotFound
	}
	var out storage.Account
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 AND deleted_at = 0 FOR NO KEY UPDATE`, id))
		if err != nil {
			return err
		}
		if a.AuthVersion == storage.AuthV2 {
			return fmt.Errorf("account %s is already v2: %w", id, storage.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET auth_version = $1, upgraded_at = $2 WHERE id = $3`, storage.AuthV2, ms(at), id); err != nil {
			return err
		}
		a.AuthVersion, a.UpgradedAt = storage.AuthV2, fromMS(ms(at))
		if err := insertCredential(ctx, tx, id, c); err != nil {
			return err
		}
		out = a
		return nil
	})
	return out, err
}

// RotateAPIKey implements storage.APIKeys. The account row is locked
// first, so rotations of one account on any node run one after the
// other and each retires the keys the previous one left.
func (s *Store) RotateAPIKey(ctx context.Context, k storage.APIKey, retireAt time.Time) error {
	if !storable(k.AccountID) {
		return storage.ErrNotFound
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 AND deleted_at = 0 FOR NO KEY UPDATE`, k.AccountID).Scan(&one)
		if err != nil {
			return notFound(err)
		}
		now := ms(k.CreatedAt)
		// Every older key retires at retireAt or at its own, earlier,
		// retirement: a key in the grace of an earlier rotation must stop
		// too when this one has no grace, and a grace never extends it.
		at := max(ms(retireAt), 1)
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM api_keys WHERE account_id = $1 AND retired_at != 0 AND retired_at <= $2`, k.AccountID, now)
		b.Queue(`UPDATE api_keys SET retired_at = $1 WHERE account_id = $2 AND (retired_at = 0 OR retired_at > $1)`, at, k.AccountID)
		b.Queue(`INSERT INTO api_keys (hash, account_id, sealed, created_at, retired_at) VALUES ($1,$2,$3,$4,0)`,
			k.Hash, k.AccountID, k.Sealed, now)
		err = tx.SendBatch(ctx, b).Close()
		if isUnique(err) {
			return fmt.Errorf("api key: %w", storage.ErrAlreadyExists)
		}
		return err
	})
}

const keyCols = `hash, account_id, sealed, created_at, retired_at, last_used_at`

func scanKey(row pgx.Row) (storage.APIKey, error) {
	var k storage.APIKey
	var created, retired, used int64
	if err := row.Scan(&k.Hash, &k.AccountID, &k.Sealed, &created, &retired, &used); err != nil {
		return storage.APIKey{}, notFound(err)
	}
	k.CreatedAt, k.RetiredAt, k.LastUsedAt = fromMS(created), fromMS(retired), fromMS(used)
	return k, nil
}

// APIKeyByHash implements storage.APIKeys.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (storage.APIKey, error) {
	var k storage.APIKey
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var err error
		k, err = scanKey(q.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = $1`, hash))
		return err
	})
	return k, err
}

// CurrentAPIKey implements storage.APIKeys.
func (s *Store) CurrentAPIKey(ctx context.Context, accountID string) (storage.APIKey, error) {
	if !storable(accountID) {
		return storage.APIKey{}, storage.ErrNotFound
	}
	var k storage.APIKey
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var err error
		k, err = scanKey(q.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE account_id = $1 AND retired_at = 0`, accountID))
		return err
	})
	return k, err
}

// ListAPIKeys implements storage.LastUse.
func (s *Store) ListAPIKeys(ctx context.Context, accountID string) ([]storage.APIKey, error) {
	if !storable(accountID) {
		return []storage.APIKey{}, nil
	}
	var out []storage.APIKey
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		rows, _ := q.Query(ctx, `SELECT `+keyCols+` FROM api_keys WHERE account_id = $1 ORDER BY retired_at = 0 DESC, retired_at DESC, created_at DESC`, accountID)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.APIKey, error) { return scanKey(r) })
		return err
	})
	if out == nil && err == nil {
		out = []storage.APIKey{}
	}
	return out, err
}

// MarkUsed implements storage.LastUse, in one transaction. A time only
// moves forward, so nodes flushing the same secret in any order leave
// the latest.
func (s *Store) MarkUsed(ctx context.Context, uses []storage.SecretUse) error {
	if len(uses) == 0 {
		return nil
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, u := range uses {
			if u.Hash != nil {
				b.Queue(`UPDATE api_keys SET last_used_at = $1 WHERE hash = $2 AND last_used_at < $1`, ms(u.At), u.Hash)
			} else if storable(u.UserID) {
				b.Queue(`UPDATE credentials SET last_used_at = $1 WHERE user_id = $2 AND last_used_at < $1`, ms(u.At), u.UserID)
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

const credCols = `account_id, user_id, secret_hash, seed, created_at, revoked_before_ms, pending_before_ms, pending_at, last_used_at`

func scanCred(row pgx.Row) (storage.Credential, error) {
	var c storage.Credential
	var created, pendingAt, used int64
	if err := row.Scan(&c.AccountID, &c.UserID, &c.SecretHash, &c.Seed, &created, &c.Revocation.BeforeMs, &c.Revocation.PendingBeforeMs, &pendingAt, &used); err != nil {
		return storage.Credential{}, notFound(err)
	}
	c.CreatedAt, c.Revocation.PendingAt, c.LastUsedAt = fromMS(created), fromMS(pendingAt), fromMS(used)
	return c, nil
}

func (s *Store) credential(ctx context.Context, where string, arg string) (storage.Credential, error) {
	if !storable(arg) {
		return storage.Credential{}, storage.ErrNotFound
	}
	var c storage.Credential
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var err error
		c, err = scanCred(q.QueryRow(ctx, `SELECT `+credCols+` FROM credentials WHERE `+where+` = $1`, arg))
		return err
	})
	return c, err
}

// CredentialByUserID implements storage.Credentials.
func (s *Store) CredentialByUserID(ctx context.Context, userID string) (storage.Credential, error) {
	return s.credential(ctx, "user_id", userID)
}

// CredentialByAccount implements storage.Credentials.
func (s *Store) CredentialByAccount(ctx context.Context, accountID string) (storage.Credential, error) {
	return s.credential(ctx, "account_id", accountID)
}

// ReplaceCredential implements storage.Credentials. The stored
// revocation is read under its row lock (FOR UPDATE) and advanced in the
// same transaction, so two regenerations racing on any nodes cannot undo
// each other's revocation.
func (s *Store) ReplaceCredential(ctx context.Context, c storage.Credential, revokeAt time.Time) (storage.Credential, error) {
	if !storable(c.AccountID, c.UserID) {
		return storage.Credential{}, storage.ErrNotFound
	}
	var out storage.Credential
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		old, err := scanCred(tx.QueryRow(ctx, `SELECT `+credCols+` FROM credentials WHERE account_id = $1 AND user_id = $2 FOR UPDATE`, c.AccountID, c.UserID))
		if err != nil {
			return err
		}
		n := c
		n.Revocation = old.Revocation.Then(c.CreatedAt, revokeAt)
		r := n.Revocation
		if _, err := tx.Exec(ctx, `UPDATE credentials SET secret_hash = $1, seed = $2, created_at = $3, revoked_before_ms = $4, pending_before_ms = $5, pending_at = $6
			WHERE account_id = $7 AND user_id = $8`,
			n.SecretHash, n.Seed, ms(n.CreatedAt), r.BeforeMs, r.PendingBeforeMs, ms(r.PendingAt), n.AccountID, n.UserID); err != nil {
			return err
		}
		n.CreatedAt, n.Revocation.PendingAt = fromMS(ms(n.CreatedAt)), fromMS(ms(r.PendingAt))
		n.LastUsedAt = old.LastUsedAt
		out = n
		return nil
	})
	return out, err
}

func insertConsoleUser(ctx context.Context, tx pgx.Tx, u storage.ConsoleUser) error {
	_, err := tx.Exec(ctx, `INSERT INTO console_users (account_id, email, password_hash, created_at) VALUES ($1,$2,$3,$4)`,
		u.AccountID, u.Email, u.PasswordHash, ms(u.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("console user %s: %w", u.Email, storage.ErrAlreadyExists)
	}
	return err
}

// CreateConsoleUser implements storage.ConsoleUsers.
func (s *Store) CreateConsoleUser(ctx context.Context, u storage.ConsoleUser) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 AND deleted_at = 0 FOR KEY SHARE`, u.AccountID).Scan(&one); err != nil {
			return notFound(err)
		}
		return insertConsoleUser(ctx, tx, u)
	})
}

// GetConsoleUser implements storage.ConsoleUsers.
func (s *Store) GetConsoleUser(ctx context.Context, accountID, email string) (storage.ConsoleUser, error) {
	if !storable(accountID, email) {
		return storage.ConsoleUser{}, storage.ErrNotFound
	}
	var u storage.ConsoleUser
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		var created int64
		err := q.QueryRow(ctx, `SELECT account_id, email, password_hash, created_at FROM console_users WHERE account_id = $1 AND email = $2`, accountID, email).
			Scan(&u.AccountID, &u.Email, &u.PasswordHash, &created)
		u.CreatedAt = fromMS(created)
		return notFound(err)
	})
	return u, err
}

// AddSigningKey implements storage.SigningKeys.
func (s *Store) AddSigningKey(ctx context.Context, k storage.SigningKey) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, alg, private, created_at, signs_from) VALUES ($1,$2,$3,$4,$5)`,
			k.KID, k.Alg, k.Private, ms(k.CreatedAt), ms(k.SignsFrom))
		if isUnique(err) {
			return fmt.Errorf("signing key %s: %w", k.KID, storage.ErrAlreadyExists)
		}
		return err
	})
}

// ListSigningKeys implements storage.SigningKeys: oldest SignsFrom
// first, then in the order they were added (seq).
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	var out []storage.SigningKey
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		rows, _ := q.Query(ctx, `SELECT kid, alg, private, created_at, signs_from FROM signing_keys ORDER BY signs_from, seq`)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SigningKey, error) {
			var k storage.SigningKey
			var created, from int64
			err := r.Scan(&k.KID, &k.Alg, &k.Private, &created, &from)
			k.CreatedAt, k.SignsFrom = fromMS(created), fromMS(from)
			return k, err
		})
		return err
	})
	if out == nil && err == nil {
		out = []storage.SigningKey{}
	}
	return out, err
}

// DeleteSigningKey implements storage.SigningKeys.
func (s *Store) DeleteSigningKey(ctx context.Context, kid string) error {
	if !storable(kid) {
		return storage.ErrNotFound
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE kid = $1`, kid)
		if err == nil && tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		return err
	})
}

// AppendAudit implements storage.Audit.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit_log (time, account_id, actor, action, address) VALUES ($1,$2,$3,$4,$5)`,
			ms(e.Time), e.AccountID, e.Actor, e.Action, e.Address)
		return err
	})
}

// ListAudit implements storage.Audit, newest first.
func (s *Store) ListAudit(ctx context.Context, accountID string, limit int) ([]storage.AuditEvent, error) {
	if !storable(accountID) {
		return []storage.AuditEvent{}, nil
	}
	if limit <= 0 {
		limit = 100
	}
	var out []storage.AuditEvent
	err := s.read(ctx, func(ctx context.Context, q querier) error {
		rows, _ := q.Query(ctx, `SELECT time, account_id, actor, action, address FROM audit_log WHERE account_id = $1 ORDER BY seq DESC LIMIT $2`, accountID, limit)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.AuditEvent, error) {
			var e storage.AuditEvent
			var t int64
			err := r.Scan(&t, &e.AccountID, &e.Actor, &e.Action, &e.Address)
			e.Time = fromMS(t)
			return e, err
		})
		return err
	})
	if out == nil && err == nil {
		out = []storage.AuditEvent{}
	}
	return out, err
}

// PurgeAudit implements storage.Audit. One node of the zone does the
// work at a time (SPEC §9).
func (s *Store) PurgeAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		n = 0
		if ok, err := zoneTurn(ctx, tx, purgeAuditLock); err != nil || !ok {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM audit_log WHERE seq IN (
			SELECT seq FROM audit_log WHERE time < $1 ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED)`, ms(before), limit)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}
