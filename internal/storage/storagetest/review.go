package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// Cases added by the adversarial review of the PostgreSQL backend: each
// is a contract of storage.Store that the suite did not check.

// testExpiryBoundary: a property whose ExpiresAt equals now is gone for
// every read, and PurgeContext deletes it.
func testExpiryBoundary(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("700", false))
	k := storage.ContextKey{AccountID: "700", Namespace: "ns", SessionID: "s"}
	merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("a", "1")}, TTL: time.Second, HasTTL: true, Now: t0})
	at := t0.Add(time.Second)
	if got := values(t, b, k, nil, at.Add(-time.Millisecond)); len(got) != 1 {
		t.Fatalf("a millisecond before expiry: %v, want the property", got)
	}
	if got := values(t, b, k, nil, at); len(got) != 0 {
		t.Errorf("GetProperties at ExpiresAt = %v, want none", got)
	}
	if got := values(t, b, k, []string{"a"}, at); len(got) != 0 {
		t.Errorf("GetProperties(a) at ExpiresAt = %v, want none", got)
	}
	if docs, err := b.ListDocuments(ctx, "700", "ns", at, 0, 10, true); err != nil || len(docs) != 0 {
		t.Errorf("ListDocuments at ExpiresAt = %+v, %v; want none", docs, err)
	}
	if ss, err := b.ListSessions(ctx, "700", "ns", at); err != nil || len(ss) != 0 {
		t.Errorf("ListSessions at ExpiresAt = %+v, %v; want none", ss, err)
	}
	if n, err := b.PurgeContext(ctx, at.Add(-time.Millisecond), 10); err != nil || n != 0 {
		t.Errorf("PurgeContext before expiry = %d, %v; want 0", n, err)
	}
	if n, err := b.PurgeContext(ctx, at, 10); err != nil || n != 1 {
		t.Errorf("PurgeContext at ExpiresAt = %d, %v; want 1", n, err)
	}
}

// testDocumentPaging: ListDocuments pages by byte order of the session
// ids (upper case, lower case, non-ASCII), and an offset past the end
// gives an empty page, not an error.
func testDocumentPaging(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("701", false))
	ids := []string{"b", "B", "a", "é", "Z", "_", "a b", "ä", "10", "9"}
	for _, id := range ids {
		merge(t, b, storage.ContextMerge{Key: storage.ContextKey{AccountID: "701", Namespace: "ns", SessionID: id},
			Properties: []storage.ContextProperty{prop("p", `"`+id+`"`)}, Now: t0})
	}
	want := slices.Clone(ids)
	slices.Sort(want) // byte order
	var got []string
	for off := 0; off < len(ids)+3; off += 3 {
		docs, err := b.ListDocuments(ctx, "701", "ns", t0, off, 3, off%2 == 0)
		if err != nil {
			t.Fatalf("ListDocuments(offset %d): %v", off, err)
		}
		for _, d := range docs {
			got = append(got, d.SessionID)
			if off%2 == 0 && (len(d.Properties) != 1 || string(d.Properties[0].Value) != `"`+d.SessionID+`"`) {
				t.Errorf("document %q has properties %+v", d.SessionID, d.Properties)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages = %q, want %q", got, want)
	}
	ss, err := b.ListSessions(ctx, "701", "ns", t0)
	if err != nil {
		t.Fatal(err)
	}
	var sids []string
	for _, s := range ss {
		sids = append(sids, s.ID)
	}
	if !slices.Equal(sids, want) {
		t.Errorf("ListSessions = %q, want %q", sids, want)
	}
}

// testUnknownAccountWrites: writes for an account that does not exist
// store nothing; CreatePolicy says ErrNotFound and AppendEvaluations
// drops the entries.
func testUnknownAccountWrites(t *testing.T, b Backend) {
	ctx := context.Background()
	_, err := b.CreatePolicy(ctx, newPolicy("nope", "p", "r"), 0)
	wantErr(t, "CreatePolicy(unknown account)", err, storage.ErrNotFound)
	// Context writes for an account that is gone (deleted through
	// another node, whose credentials this node still remembered) are
	// not found, not a server fault.
	k := storage.ContextKey{AccountID: "nope", Namespace: "ns", SessionID: "s"}
	wantErr(t, "MergeProperties(unknown account)", b.MergeProperties(ctx, storage.ContextMerge{Key: k, Now: t0,
		Properties: []storage.ContextProperty{{Name: "p", Value: []byte("1")}}}), storage.ErrNotFound)
	wantErr(t, "PutNamespace(unknown account)", b.PutNamespace(ctx, "nope", storage.ContextNamespace{Name: "ns", CreatedAt: t0}, storage.ContextQuota{}), storage.ErrNotFound)
	wantErr(t, "PutSession(unknown account)", b.PutSession(ctx, k, storage.ContextSession{ID: "s", CreatedAt: t0}, storage.ContextQuota{}), storage.ErrNotFound)
	mustCreate(t, b, newAccount("702", false))
	es := []storage.PolicyEvaluation{
		{Time: t0, AccountID: "nope", ConversationID: "c", PolicyID: "p", State: "TRUE"},
		{Time: t0, AccountID: "702", ConversationID: "c", PolicyID: "p", State: "TRUE"},
	}
	if err := b.AppendEvaluations(ctx, es, 10); err != nil {
		t.Fatalf("AppendEvaluations with an unknown account: %v", err)
	}
	if got, err := b.ListEvaluations(ctx, "nope", "", time.Time{}, 10); err != nil || len(got) != 0 {
		t.Errorf("entries of an unknown account = %+v, %v", got, err)
	}
	if got, err := b.ListEvaluations(ctx, "702", "", time.Time{}, 10); err != nil || len(got) != 1 {
		t.Errorf("entries of 702 = %+v, %v; want 1", got, err)
	}
	// Deleted, then created again: the log starts empty and the cap
	// counts from zero.
	if err := b.DeleteAccount(ctx, "702"); err != nil {
		t.Fatal(err)
	}
	if err := b.AppendEvaluations(ctx, es[1:], 10); err != nil {
		t.Fatalf("AppendEvaluations for a deleted account: %v", err)
	}
	mustCreate(t, b, newAccount("702", false))
	if got, err := b.ListEvaluations(ctx, "702", "", time.Time{}, 10); err != nil || len(got) != 0 {
		t.Errorf("entries after delete and recreate = %+v, %v; want none", got, err)
	}
}

// testSigningKeysSameSignsFrom: many keys with one SignsFrom list in the
// order they were added.
func testSigningKeysSameSignsFrom(t *testing.T, b Backend) {
	ctx := context.Background()
	var want []string
	for i := range 12 {
		kid := fmt.Sprintf("k%02d", 11-i) // added in reverse name order
		want = append(want, kid)
		if err := b.AddSigningKey(ctx, storage.SigningKey{KID: kid, Alg: "ES256", Private: []byte("p"), CreatedAt: t0, SignsFrom: t0}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := b.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.KID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListSigningKeys = %q, want the order added %q", got, want)
	}
}

// testCancelledContext: a call whose context was cancelled fails with an
// error that says so, not with ErrUnavailable (the store is fine).
func testCancelledContext(t *testing.T, b Backend) {
	mustCreate(t, b, newAccount("703", false))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := storage.ContextKey{AccountID: "703", Namespace: "ns", SessionID: "s"}
	for name, err := range map[string]error{
		"MergeProperties": b.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("a", "1")}, Now: t0}),
		"GetAccount":      func() error { _, err := b.GetAccount(ctx, "703"); return err }(),
		"DeleteSession":   b.DeleteSession(ctx, k),
	} {
		if !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled and not ErrUnavailable", name, err)
		}
	}
}

// testUpgradeRace: concurrent upgrades of one account, on both
// instances: exactly one succeeds, the others fail with ErrConflict.
func testUpgradeRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("720", false))
	const n = 8
	fns := make([]func() error, n)
	for i := range fns {
		be := []Backend{a, b}[i%2]
		fns[i] = func() error {
			_, err := be.UpgradeAccount(ctx, "720", storage.Credential{AccountID: "720", UserID: fmt.Sprintf("u720-%d", i),
				SecretHash: []byte("s"), Seed: []byte("x"), CreatedAt: t0}, t0)
			return err
		}
	}
	ok := 0
	for _, err := range together(fns...) {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("concurrent UpgradeAccount: %v, want nil or ErrConflict", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d upgrades succeeded, want exactly 1", ok)
	}
}

// testRotateRace: concurrent rotations on both instances leave exactly
// one current key, and every older key retired.
func testRotateRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("721", false))
	const n = 10
	fns := make([]func() error, n)
	for i := range fns {
		be := []Backend{a, b}[i%2]
		fns[i] = func() error {
			at := t0.Add(time.Duration(i+1) * time.Millisecond)
			return be.RotateAPIKey(ctx, storage.APIKey{AccountID: "721", Hash: fmt.Appendf(nil, "h721-%d", i), Sealed: []byte("s"), CreatedAt: at}, at.Add(time.Hour))
		}
	}
	for _, err := range together(fns...) {
		if err != nil {
			t.Fatalf("concurrent RotateAPIKey: %v", err)
		}
	}
	cur, err := a.CurrentAPIKey(ctx, "721")
	if err != nil {
		t.Fatalf("CurrentAPIKey after concurrent rotations: %v", err)
	}
	current := 0
	for i := -1; i < n; i++ {
		h := fmt.Appendf(nil, "h721-%d", i)
		if i < 0 {
			h = []byte("hash-721")
		}
		k, err := b.APIKeyByHash(ctx, h)
		if err != nil {
			t.Fatalf("key %s: %v", h, err)
		}
		if k.RetiredAt.IsZero() {
			current++
			if !bytes.Equal(k.Hash, cur.Hash) {
				t.Errorf("key %s is current besides %s", h, cur.Hash)
			}
		}
	}
	if current != 1 {
		t.Errorf("%d current keys after concurrent rotations, want 1", current)
	}
}

// testLogCapRace: appends racing on both instances keep each account's
// log at the cap, the newest entries.
func testLogCapRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("722", false))
	mustCreate(t, a, newAccount("723", false))
	const n, per, max = 20, 5, 30
	fns := make([]func() error, n)
	for i := range fns {
		be := []Backend{a, b}[i%2]
		fns[i] = func() error {
			var es []storage.PolicyEvaluation
			for j := range per {
				for _, acct := range []string{"723", "722"} {
					es = append(es, storage.PolicyEvaluation{Time: t0.Add(time.Duration(i*per+j) * time.Second), AccountID: acct,
						ConversationID: "c", PolicyID: fmt.Sprint(i*per + j), State: "TRUE"})
				}
			}
			return be.AppendEvaluations(ctx, es, max)
		}
	}
	for _, err := range together(fns...) {
		if err != nil {
			t.Fatalf("concurrent AppendEvaluations: %v", err)
		}
	}
	for _, acct := range []string{"722", "723"} {
		got, err := b.ListEvaluations(ctx, acct, "", time.Time{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != max {
			t.Errorf("account %s keeps %d entries, want %d", acct, len(got), max)
			continue
		}
		for i, e := range got {
			if want := fmt.Sprint(n*per - 1 - i); e.PolicyID != want {
				t.Errorf("account %s entry %d is %s, want %s (the newest kept)", acct, i, e.PolicyID, want)
				break
			}
		}
	}
}

// testContextWritesRace: every kind of context write, and the purge and
// an account deletion, racing on both instances: no call fails for
// another reason than the account being gone (no deadlock surfaces), and
// the account created again starts empty.
func testContextWritesRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	for round := range 3 {
		id := fmt.Sprintf("73%d", round)
		mustCreate(t, a, newAccount(id, false))
		key := func(ns, s int) storage.ContextKey {
			return storage.ContextKey{AccountID: id, Namespace: fmt.Sprintf("n%d", ns), SessionID: fmt.Sprintf("s%d", s)}
		}
		for ns := range 2 {
			for s := range 3 {
				merge(t, a, storage.ContextMerge{Key: key(ns, s), Properties: []storage.ContextProperty{prop("x", "1"), prop("y", "2")},
					TTL: time.Millisecond, HasTTL: true, Now: t0})
			}
		}
		var fns []func() error
		for i := range 24 {
			be := []Backend{a, b}[i%2]
			k := key(i%2, i%3)
			q := storage.ContextQuota{MaxProperties: 1000, MaxBytes: 1 << 20}
			switch i % 6 {
			case 0:
				fns = append(fns, func() error {
					return be.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("x", "3"), prop("z", "4")},
						Now: t0.Add(time.Second), MaxChars: 1000, Quota: q})
				})
			case 1:
				fns = append(fns, func() error { return be.DeleteProperties(ctx, k, []string{"y", "x"}) })
			case 2:
				fns = append(fns, func() error { return be.DeleteSession(ctx, k) })
			case 3:
				fns = append(fns, func() error { return be.DeleteNamespace(ctx, id, k.Namespace) })
			case 4:
				fns = append(fns, func() error { _, err := be.PurgeContext(ctx, t0.Add(time.Minute), 100); return err })
			case 5:
				fns = append(fns, func() error {
					return be.PutSession(ctx, k, storage.ContextSession{ID: k.SessionID, CreatedAt: t0, TTL: time.Hour, HasTTL: true}, q)
				})
			}
		}
		fns = append(fns, func() error { return b.DeleteAccount(ctx, id) })
		errs := together(fns...)
		if err := errs[len(errs)-1]; err != nil {
			t.Fatalf("DeleteAccount racing with writes: %v", err)
		}
		for i, err := range errs[:len(errs)-1] {
			// A write that lost the race to the deletion may fail (its
			// account is gone); nothing else may.
			if err != nil && !accountGone(err) {
				t.Errorf("round %d: write %d racing with DeleteAccount: %v", round, i, err)
			}
		}
		mustCreate(t, a, newAccount(id, false))
		wantUsage(t, b, "account created again after a racing delete", id, storage.ContextUsage{})
		if nss, err := b.ListNamespaces(ctx, id); err != nil || len(nss) != 0 {
			t.Errorf("namespaces of the account created again = %+v, %v", nss, err)
		}
	}
}

// accountGone reports whether err is what a write for an account that
// was just deleted may fail with: a foreign key refusal (SQLite says
// "FOREIGN KEY constraint failed", PostgreSQL SQLSTATE 23503) or
// ErrNotFound.
func accountGone(err error) bool {
	if errors.Is(err, storage.ErrNotFound) {
		return true
	}
	s := err.Error()
	return containsAny(s, "FOREIGN KEY", "foreign key", "23503")
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if bytes.Contains([]byte(s), []byte(sub)) {
			return true
		}
	}
	return false
}

// testUnstorableKeys: a lookup by an id that holds bytes no backend can
// have stored for it (a NUL, invalid UTF-8: what a client may send as a
// user ID or an email) finds nothing, as for any unknown id, and a
// delete of it deletes nothing; neither fails otherwise (an
// unauthenticated token request must get 401, not 500).
func testUnstorableKeys(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("704", true))
	for _, bad := range []string{"a\x00b", "a\xffb", "\xc3"} {
		_, err := b.GetAccount(ctx, bad)
		wantErr(t, fmt.Sprintf("GetAccount(%q)", bad), err, storage.ErrNotFound)
		_, err = b.CredentialByUserID(ctx, bad)
		wantErr(t, fmt.Sprintf("CredentialByUserID(%q)", bad), err, storage.ErrNotFound)
		_, err = b.CredentialByAccount(ctx, bad)
		wantErr(t, fmt.Sprintf("CredentialByAccount(%q)", bad), err, storage.ErrNotFound)
		_, err = b.GetConsoleUser(ctx, "704", bad)
		wantErr(t, fmt.Sprintf("GetConsoleUser(%q)", bad), err, storage.ErrNotFound)
		_, err = b.CurrentAPIKey(ctx, bad)
		wantErr(t, fmt.Sprintf("CurrentAPIKey(%q)", bad), err, storage.ErrNotFound)
		_, err = b.GetPolicy(ctx, "704", bad)
		wantErr(t, fmt.Sprintf("GetPolicy(%q)", bad), err, storage.ErrNotFound)
		_, err = b.GetNamespace(ctx, "704", bad)
		wantErr(t, fmt.Sprintf("GetNamespace(%q)", bad), err, storage.ErrNotFound)
		wantErr(t, fmt.Sprintf("DeletePolicy(%q)", bad), b.DeletePolicy(ctx, "704", bad), storage.ErrNotFound)
		wantErr(t, fmt.Sprintf("DeleteAccount(%q)", bad), b.DeleteAccount(ctx, bad), storage.ErrNotFound)
		if es, err := b.ListEvaluations(ctx, "704", bad, time.Time{}, 10); err != nil || len(es) != 0 {
			t.Errorf("ListEvaluations(conversation %q) = %v, %v; want none", bad, es, err)
		}
		if ps, err := b.ListPolicies(ctx, bad); err != nil || len(ps) != 0 {
			t.Errorf("ListPolicies(%q) = %v, %v; want none", bad, ps, err)
		}
		k := storage.ContextKey{AccountID: "704", Namespace: "ns", SessionID: bad}
		if ps, err := b.GetProperties(ctx, k, nil, t0); err != nil || len(ps) != 0 {
			t.Errorf("GetProperties(session %q) = %v, %v; want none", bad, ps, err)
		}
		if ps, err := b.GetProperties(ctx, ckey, []string{"a", bad}, t0); err != nil || len(ps) != 0 {
			t.Errorf("GetProperties(names a, %q) = %v, %v; want none", bad, ps, err)
		}
		if err := b.DeleteSession(ctx, k); err != nil {
			t.Errorf("DeleteSession(%q): %v, want nil (idempotent)", bad, err)
		}
		if err := b.DeleteProperties(ctx, ckey, []string{bad}); err != nil {
			t.Errorf("DeleteProperties(%q): %v, want nil (idempotent)", bad, err)
		}
		if err := b.DeleteNamespace(ctx, "704", bad); err != nil {
			t.Errorf("DeleteNamespace(%q): %v, want nil (idempotent)", bad, err)
		}
		if u, err := b.ContextUsage(ctx, bad); err != nil || u != (storage.ContextUsage{}) {
			t.Errorf("ContextUsage(%q) = %v, %v; want zero", bad, u, err)
		}
		if ss, err := b.ListSessions(ctx, "704", bad, t0); err != nil || len(ss) != 0 {
			t.Errorf("ListSessions(%q) = %v, %v; want none", bad, ss, err)
		}
		if ds, err := b.ListDocuments(ctx, "704", bad, t0, 0, 10, true); err != nil || len(ds) != 0 {
			t.Errorf("ListDocuments(%q) = %v, %v; want none", bad, ds, err)
		}
		if as, err := b.ListAudit(ctx, bad, 10); err != nil || len(as) != 0 {
			t.Errorf("ListAudit(%q) = %v, %v; want none", bad, as, err)
		}
	}
}
