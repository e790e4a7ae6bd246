package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// Actions recorded. An entry's action is one of these, sometimes
// followed by details ("api_key.regenerate grace=10m0s").
const (
	AccountCreate          = "account.create"
	AccountDelete          = "account.delete"
	AccountUpgrade         = "account.upgrade"
	APIKeyRegenerate       = "api_key.regenerate"
	APIKeyRegenerateFailed = "api_key.regenerate_failed"
	APIKeyView             = "api_key.view"
	CredentialsRegenerate  = "credentials.regenerate"
	CredentialsView        = "credentials.view"
	ConsoleUserCreate      = "console_user.create"
	ConsoleSignIn          = "console.sign_in"
	ConsoleSignOut         = "console.sign_out"
	TestTokenIssue         = "test_token.issue"
	TokenRevoke            = "token.revoke"
	SigningKeyRotate       = "signing_key.rotate"
	LoginFailed            = "login.failed"
	// Changes made in the console's Policies and Context data pages
	// (the API's own writes are not audited).
	PolicyCreate  = "policy.create"
	PolicyUpdate  = "policy.update"
	PolicyDelete  = "policy.delete"
	PolicyMove    = "policy.move"
	ContextDelete = "context.delete"
)

// Operator is the actor of operator API requests (and so of the CLI).
const Operator = "operator"

// Zone is the account id of the entries that belong to no account.
const Zone = ""

// Config is what a Recorder is built from; every field has a default.
type Config struct {
	Now func() time.Time // nil: time.Now
	Log *slog.Logger
	// WriteFailed is called once for every entry the store refused
	// (orchestrator_audit_write_failures_total).
	WriteFailed func()
	// AccountOf returns the account of a v2 user ID (storage.ErrNotFound
	// when none has it), for the rows of aggregated login failures. It
	// is called by Flush, off the request path. nil: every such row is
	// the zone's.
	AccountOf func(ctx context.Context, userID string) (string, error)
	// MaxFailureKeys bounds the (user ID, minute) pairs kept in memory
	// between flushes (default 10,000); failures beyond it are counted
	// in one zone row per minute.
	MaxFailureKeys int
}

// Recorder writes and reads the audit log. Its methods are safe for
// concurrent use.
type Recorder struct {
	store storage.Audit
	cfg   Config

	mu       sync.Mutex
	failures map[failureKey]*failureCount
	overflow map[time.Time]int // failures not kept, by minute
}

type failureKey struct {
	userID string
	minute time.Time
}

type failureCount struct {
	n         int
	addresses []string // distinct, the first maxAddresses
	more      bool     // more addresses than kept
}

// maxAddresses bounds the client addresses kept per aggregated row.
const maxAddresses = 4

// New returns a Recorder writing to store.
func New(store storage.Audit, cfg Config) *Recorder {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.WriteFailed == nil {
		cfg.WriteFailed = func() {}
	}
	if cfg.MaxFailureKeys <= 0 {
		cfg.MaxFailureKeys = 10_000
	}
	return &Recorder{store: store, cfg: cfg, failures: map[failureKey]*failureCount{}, overflow: map[time.Time]int{}}
}

// Record appends one entry, now, to the log of accountID (Zone for the
// zone's). The write is not cut short by a client that goes away: what
// it describes happened. A failure is logged and counted, and returned
// for callers that must not go on without a record.
func (r *Recorder) Record(ctx context.Context, accountID, actor, address, action string) error {
	if r == nil {
		return nil // a server built without one (some tests)
	}
	return r.append(ctx, storage.AuditEvent{Time: r.now(), AccountID: accountID, Actor: actor, Action: action, Address: address})
}

func (r *Recorder) now() time.Time { return r.cfg.Now().UTC().Truncate(time.Millisecond) }

func (r *Recorder) append(ctx context.Context, e storage.AuditEvent) error {
	err := r.store.AppendAudit(context.WithoutCancel(ctx), e)
	if err != nil {
		r.cfg.WriteFailed()
		r.cfg.Log.ErrorContext(ctx, "audit: entry not written", "account", e.AccountID, "actor", e.Actor,
			"action", e.Action, "address", e.Address, "err", err)
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// LoginFailed counts a failed client authentication of userID from
// address. Failures are written by Flush as one entry per user ID and
// minute, with the count: a burst of failures costs memory bounded by
// Config.MaxFailureKeys and one row a minute per user ID, never a store
// write on the request.
func (r *Recorder) LoginFailed(userID, address string) {
	if r == nil {
		return
	}
	userID = printable(userID)
	k := failureKey{userID: userID, minute: r.cfg.Now().UTC().Truncate(time.Minute)}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.failures[k]
	if !ok {
		if len(r.failures) >= r.cfg.MaxFailureKeys {
			r.overflow[k.minute]++
			return
		}
		c = &failureCount{}
		r.failures[k] = c
	}
	c.n++
	for _, a := range c.addresses {
		if a == address {
			return
		}
	}
	if len(c.addresses) < maxAddresses {
		c.addresses = append(c.addresses, address)
	} else {
		c.more = true
	}
}

// printable replaces control characters of an attacker-chosen user ID
// (a form client_id may hold any) before it reaches the log.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// Flush writes the aggregated login failures of the minutes that are
// over, or of every minute when final (at shutdown). Each (user ID,
// minute) becomes one entry at the minute's start: actor the user ID,
// address the first client address, action "login.failed count=N" (with
// the other addresses when there were several), on the user ID's
// account, or the zone's log when no account has it. Rows not written
// are logged and counted, and dropped.
func (r *Recorder) Flush(ctx context.Context, final bool) error {
	current := r.cfg.Now().UTC().Truncate(time.Minute)
	r.mu.Lock()
	type row struct {
		k failureKey
		c *failureCount
	}
	var rows []row
	for k, c := range r.failures {
		if final || k.minute.Before(current) {
			rows = append(rows, row{k, c})
			delete(r.failures, k)
		}
	}
	overflow := map[time.Time]int{}
	for m, n := range r.overflow {
		if final || m.Before(current) {
			overflow[m] = n
			delete(r.overflow, m)
		}
	}
	r.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].k.minute.Equal(rows[j].k.minute) {
			return rows[i].k.minute.Before(rows[j].k.minute)
		}
		return rows[i].k.userID < rows[j].k.userID
	})
	var first error
	note := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, rw := range rows {
		account := Zone
		if r.cfg.AccountOf != nil {
			if a, err := r.cfg.AccountOf(ctx, rw.k.userID); err == nil {
				account = a
			}
		}
		action := fmt.Sprintf("%s count=%d", LoginFailed, rw.c.n)
		if len(rw.c.addresses) > 1 || rw.c.more {
			others := strings.Join(rw.c.addresses[1:], ",")
			if rw.c.more {
				others += ",…"
			}
			action += " also_from=" + strings.TrimPrefix(others, ",")
		}
		note(r.append(ctx, storage.AuditEvent{Time: rw.k.minute, AccountID: account, Actor: rw.k.userID,
			Action: action, Address: rw.c.addresses[0]}))
	}
	for m, n := range overflow {
		note(r.append(ctx, storage.AuditEvent{Time: m, AccountID: Zone, Actor: "",
			Action: fmt.Sprintf("%s count=%d user_ids=not_kept", LoginFailed, n)}))
	}
	return first
}

// List returns up to limit entries of accountID (Zone for the zone's),
// newest first.
func (r *Recorder) List(ctx context.Context, accountID string, limit int) ([]storage.AuditEvent, error) {
	if r == nil {
		return []storage.AuditEvent{}, nil
	}
	return r.store.ListAudit(ctx, accountID, limit)
}

// purgeBatch is how many entries one purge write removes.
const purgeBatch = 1000

// Purge deletes the entries older than retention (0: keeps everything)
// in writes of purgeBatch rows, and returns how many.
func (r *Recorder) Purge(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	before := r.cfg.Now().Add(-retention)
	total := 0
	for ctx.Err() == nil {
		n, err := r.store.PurgeAudit(ctx, before, purgeBatch)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
	return total, ctx.Err()
}
