package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// t0 is a fixed time with millisecond precision, as backends store it.
var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newAccount(id string, v2 bool) storage.NewAccount {
	n := storage.NewAccount{
		Account: storage.Account{ID: id, Name: "Acct " + id, AuthVersion: storage.AuthV1, CreatedAt: t0},
		APIKey:  storage.APIKey{AccountID: id, Hash: []byte("hash-" + id), Sealed: []byte("sealed-" + id), CreatedAt: t0},
	}
	if v2 {
		n.Account.AuthVersion = storage.AuthV2
		n.Credential = &storage.Credential{AccountID: id, UserID: "user-" + id, SecretHash: []byte("secret-" + id), Seed: []byte("seed-" + id), CreatedAt: t0}
	}
	return n
}

func mustCreate(t *testing.T, b Backend, n storage.NewAccount) {
	t.Helper()
	if err := b.CreateAccount(context.Background(), n); err != nil {
		t.Fatalf("CreateAccount(%s): %v", n.Account.ID, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func testAccounts(t *testing.T, b Backend) {
	ctx := context.Background()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	_, err := b.GetAccount(ctx, "1")
	wantErr(t, "GetAccount(missing)", err, storage.ErrNotFound)

	list, err := b.ListAccounts(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("ListAccounts(empty) = %v, %v; want [], nil", list, err)
	}

	mustCreate(t, b, newAccount("200", true))
	mustCreate(t, b, newAccount("100", false))
	err = b.CreateAccount(ctx, newAccount("100", false))
	wantErr(t, "CreateAccount(duplicate id)", err, storage.ErrAlreadyExists)

	dupKey := newAccount("300", false)
	dupKey.APIKey.Hash = []byte("hash-100")
	wantErr(t, "CreateAccount(duplicate key hash)", b.CreateAccount(ctx, dupKey), storage.ErrAlreadyExists)
	_, err = b.GetAccount(ctx, "300")
	wantErr(t, "GetAccount after failed create (atomic)", err, storage.ErrNotFound)

	got, err := b.GetAccount(ctx, "200")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(newAccount("200", true).Account, got); diff != "" {
		t.Errorf("GetAccount(200) mismatch (-want +got):\n%s", diff)
	}
	list, err = b.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "100" || list[1].ID != "200" {
		t.Errorf("ListAccounts = %+v, want ids [100 200]", list)
	}

	// Upgrade v1 → v2 creates the credential; a second upgrade conflicts.
	up := storage.Credential{AccountID: "100", UserID: "user-100", SecretHash: []byte("s"), Seed: []byte("x"), CreatedAt: t0}
	a, err := b.UpgradeAccount(ctx, "100", up, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("UpgradeAccount: %v", err)
	}
	if a.AuthVersion != storage.AuthV2 || !a.UpgradedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("UpgradeAccount = %+v, want v2 upgraded at %v", a, t0.Add(time.Hour))
	}
	if c, err := b.CredentialByAccount(ctx, "100"); err != nil || c.UserID != "user-100" {
		t.Errorf("CredentialByAccount after upgrade = %+v, %v", c, err)
	}
	_, err = b.UpgradeAccount(ctx, "100", up, t0)
	wantErr(t, "UpgradeAccount(v2)", err, storage.ErrConflict)
	_, err = b.UpgradeAccount(ctx, "999", up, t0)
	wantErr(t, "UpgradeAccount(missing)", err, storage.ErrNotFound)

	wantErr(t, "DeleteAccount(missing)", b.DeleteAccount(ctx, "999"), storage.ErrNotFound)
	if err := b.DeleteAccount(ctx, "200"); err != nil {
		t.Fatal(err)
	}
	_, err = b.GetAccount(ctx, "200")
	wantErr(t, "GetAccount(deleted)", err, storage.ErrNotFound)
}

func testAPIKeys(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("1", false))
	k, err := b.APIKeyByHash(ctx, []byte("hash-1"))
	if err != nil || k.AccountID != "1" || string(k.Sealed) != "sealed-1" || !k.RetiredAt.IsZero() {
		t.Fatalf("APIKeyByHash = %+v, %v", k, err)
	}
	_, err = b.APIKeyByHash(ctx, []byte("nope"))
	wantErr(t, "APIKeyByHash(missing)", err, storage.ErrNotFound)

	// Rotate with a grace: the old key is retired in the future.
	t1 := t0.Add(time.Minute)
	grace := t1.Add(10 * time.Minute)
	if err := b.RotateAPIKey(ctx, storage.APIKey{AccountID: "1", Hash: []byte("h2"), Sealed: []byte("s2"), CreatedAt: t1}, grace); err != nil {
		t.Fatal(err)
	}
	old, err := b.APIKeyByHash(ctx, []byte("hash-1"))
	if err != nil || !old.RetiredAt.Equal(grace) {
		t.Fatalf("old key after rotate = %+v, %v; want retired at %v", old, err, grace)
	}
	cur, err := b.CurrentAPIKey(ctx, "1")
	if err != nil || string(cur.Hash) != "h2" {
		t.Fatalf("CurrentAPIKey = %+v, %v; want h2", cur, err)
	}

	// Rotate at once: h2 retired now; hash-1 (past its grace by then) is dropped.
	t2 := grace.Add(time.Minute)
	if err := b.RotateAPIKey(ctx, storage.APIKey{AccountID: "1", Hash: []byte("h3"), Sealed: []byte("s3"), CreatedAt: t2}, t2); err != nil {
		t.Fatal(err)
	}
	if k, err := b.APIKeyByHash(ctx, []byte("h2")); err != nil || !k.RetiredAt.Equal(t2) {
		t.Errorf("h2 after second rotate = %+v, %v; want retired at %v", k, err, t2)
	}
	_, err = b.APIKeyByHash(ctx, []byte("hash-1"))
	wantErr(t, "expired old key is purged", err, storage.ErrNotFound)
	if cur, err := b.CurrentAPIKey(ctx, "1"); err != nil || string(cur.Hash) != "h3" {
		t.Errorf("CurrentAPIKey = %+v, %v; want h3", cur, err)
	}

	// Security review 2026-12, finding 8: h3 → h4 with a grace, then
	// h4 → h5 without. Every older key stops at once, not only h4.
	t3 := t2.Add(time.Minute)
	if err := b.RotateAPIKey(ctx, storage.APIKey{AccountID: "1", Hash: []byte("h4"), Sealed: []byte("s4"), CreatedAt: t3}, t3.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	t4 := t3.Add(time.Minute)
	if err := b.RotateAPIKey(ctx, storage.APIKey{AccountID: "1", Hash: []byte("h5"), Sealed: []byte("s5"), CreatedAt: t4}, t4); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"h3", "h4"} {
		if k, err := b.APIKeyByHash(ctx, []byte(h)); err == nil && (k.RetiredAt.IsZero() || k.RetiredAt.After(t4)) {
			t.Errorf("%s after a rotation without grace: retired at %v, want at or before %v", h, k.RetiredAt, t4)
		}
	}
	// A longer grace never extends an older key's retirement.
	t5 := t4.Add(time.Minute)
	if err := b.RotateAPIKey(ctx, storage.APIKey{AccountID: "1", Hash: []byte("h6"), Sealed: []byte("s6"), CreatedAt: t5}, t5.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	t6 := t5.Add(time.Minute)
	if err := b.RotateAPIKey(ctx, storage.APIKey{AccountID: "1", Hash: []byte("h7"), Sealed: []byte("s7"), CreatedAt: t6}, t6.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if k, err := b.APIKeyByHash(ctx, []byte("h5")); err != nil || !k.RetiredAt.Equal(t5.Add(10*time.Minute)) {
		t.Errorf("h5 after a longer grace = %+v, %v; want still retired at %v", k, err, t5.Add(10*time.Minute))
	}
	if k, err := b.APIKeyByHash(ctx, []byte("h6")); err != nil || !k.RetiredAt.Equal(t6.Add(time.Hour)) {
		t.Errorf("h6 = %+v, %v; want retired at %v", k, err, t6.Add(time.Hour))
	}
	wantErr(t, "RotateAPIKey(missing account)",
		b.RotateAPIKey(ctx, storage.APIKey{AccountID: "9", Hash: []byte("h9"), Sealed: []byte("s"), CreatedAt: t2}, t2), storage.ErrNotFound)
	_, err = b.CurrentAPIKey(ctx, "9")
	wantErr(t, "CurrentAPIKey(missing)", err, storage.ErrNotFound)
}

func testCredentials(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("1", true))
	c, err := b.CredentialByUserID(ctx, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*newAccount("1", true).Credential, c); diff != "" {
		t.Errorf("CredentialByUserID mismatch (-want +got):\n%s", diff)
	}
	_, err = b.CredentialByUserID(ctx, "nobody")
	wantErr(t, "CredentialByUserID(missing)", err, storage.ErrNotFound)

	// A regeneration at t1 with a minute of grace.
	t1 := t0.Add(time.Hour)
	c.SecretHash, c.Seed, c.CreatedAt = []byte("new"), []byte("seed2"), t1
	c.Revocation = storage.Revocation{BeforeMs: 1 << 60} // ignored: the store advances its own
	stored, err := b.ReplaceCredential(ctx, c, t1.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	c.Revocation = storage.Revocation{PendingBeforeMs: t1.UnixMilli(), PendingAt: t1.Add(time.Minute)}
	if diff := cmp.Diff(c, stored); diff != "" {
		t.Errorf("ReplaceCredential returned (-want +got):\n%s", diff)
	}
	got, err := b.CredentialByAccount(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("after ReplaceCredential (-want +got):\n%s", diff)
	}
	c.AccountID = "2"
	_, err = b.ReplaceCredential(ctx, c, t1)
	wantErr(t, "ReplaceCredential(missing)", err, storage.ErrNotFound)

	dup := newAccount("2", true)
	dup.Credential.UserID = "user-1"
	wantErr(t, "CreateAccount(duplicate user id)", b.CreateAccount(ctx, dup), storage.ErrAlreadyExists)
}

// testRevocationMonotonic pins SPEC §3, "revocation only moves forward",
// in the store: each ReplaceCredential advances the stored revocation, so
// a regeneration with a grace never revives what an earlier one killed
// (security review 2026-12, finding 4), and never extends a running grace.
func testRevocationMonotonic(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("1", true))
	base, err := b.CredentialByAccount(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	regen := func(at time.Time, grace time.Duration) storage.Revocation {
		t.Helper()
		c := base
		c.SecretHash, c.CreatedAt = []byte("s-"+at.String()), at
		got, err := b.ReplaceCredential(ctx, c, at.Add(grace))
		if err != nil {
			t.Fatal(err)
		}
		stored, err := b.CredentialByUserID(ctx, "user-1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got.Revocation, stored.Revocation); diff != "" {
			t.Fatalf("returned and stored revocation differ (-returned +stored):\n%s", diff)
		}
		return stored.Revocation
	}
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	tok0 := ms(t0) // issued before every regeneration

	// Without grace: killed at once; then a grace does not revive it.
	r := regen(t1, 0)
	if !r.Kills(tok0, t1) {
		t.Fatalf("after regeneration without grace %+v: old token alive", r)
	}
	r = regen(t2, 10*time.Minute)
	if !r.Kills(tok0, t2) {
		t.Errorf("regeneration with grace after one without revived the old token: %+v", r)
	}
	// A token issued between the two lives during the second grace.
	between := ms(t1) + 1
	if r.Kills(between, t2.Add(9*time.Minute)) || !r.Kills(between, t2.Add(10*time.Minute)) {
		t.Errorf("token issued between the regenerations, %+v: want alive for the 10 min grace only", r)
	}
	if r.Kills(ms(t2)+1, t2.Add(time.Hour)) {
		t.Errorf("token issued after the last regeneration is revoked: %+v", r)
	}

	// A second grace while one runs does not extend it: tokens of the
	// first grace die at its end (t2+10m), not at t3+10m.
	r = regen(t3, 10*time.Minute)
	if r.Kills(between, t2.Add(9*time.Minute)) || !r.Kills(between, t2.Add(10*time.Minute)) {
		t.Errorf("second grace extended the first one: %+v", r)
	}
	if !r.Kills(tok0, t3) {
		t.Errorf("old token revived: %+v", r)
	}
	// A regeneration without grace kills everything pending at once.
	t4 := t3.Add(time.Minute)
	r = regen(t4, 0)
	if !r.Kills(ms(t3), t4) || !r.Kills(between, t4) || !r.Kills(tok0, t4) || r.Kills(ms(t4)+1, t4) {
		t.Errorf("after regeneration without grace during a grace: %+v", r)
	}
	// A pending revocation whose time has passed is folded in: a later
	// grace does not bring its tokens back.
	t5 := t4.Add(time.Minute)
	regen(t5, time.Minute)
	t6 := t5.Add(2 * time.Minute)
	r = regen(t6, time.Hour)
	if !r.Kills(ms(t5), t6) || r.Kills(ms(t5)+1, t6) || !r.Kills(ms(t5)+1, t6.Add(time.Hour)) {
		t.Errorf("expired grace folded wrongly: %+v", r)
	}
}

func testConsoleUsers(t *testing.T, b Backend) {
	ctx := context.Background()
	n := newAccount("1", true)
	n.ConsoleUser = &storage.ConsoleUser{Email: "a@example.com", PasswordHash: "$argon2id$x", CreatedAt: t0}
	mustCreate(t, b, n)
	u, err := b.GetConsoleUser(ctx, "1", "a@example.com")
	if err != nil || u.PasswordHash != "$argon2id$x" || u.AccountID != "1" {
		t.Fatalf("GetConsoleUser = %+v, %v", u, err)
	}
	_, err = b.GetConsoleUser(ctx, "2", "a@example.com")
	wantErr(t, "GetConsoleUser(other account)", err, storage.ErrNotFound)
	u2 := storage.ConsoleUser{AccountID: "1", Email: "b@example.com", PasswordHash: "h", CreatedAt: t0}
	if err := b.CreateConsoleUser(ctx, u2); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreateConsoleUser(duplicate)", b.CreateConsoleUser(ctx, u2), storage.ErrAlreadyExists)
	u2.AccountID = "404"
	wantErr(t, "CreateConsoleUser(missing account)", b.CreateConsoleUser(ctx, u2), storage.ErrNotFound)
}

func testSigningKeys(t *testing.T, b Backend) {
	ctx := context.Background()
	keys, err := b.ListSigningKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("ListSigningKeys(empty) = %v, %v", keys, err)
	}
	k1 := storage.SigningKey{KID: "a", Alg: "RS256", Private: []byte("p1"), CreatedAt: t0, SignsFrom: t0}
	k2 := storage.SigningKey{KID: "b", Alg: "ES256", Private: []byte("p2"), CreatedAt: t0, SignsFrom: t0.Add(time.Minute)}
	for _, k := range []storage.SigningKey{k2, k1} {
		if err := b.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "AddSigningKey(duplicate)", b.AddSigningKey(ctx, k1), storage.ErrAlreadyExists)
	keys, err = b.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]storage.SigningKey{k1, k2}, keys); diff != "" {
		t.Errorf("ListSigningKeys (-want +got):\n%s", diff)
	}
	// Keys with the same SignsFrom come in the order they were added,
	// whatever their kids: "z" then "m" (added in that order) after "b".
	kz := storage.SigningKey{KID: "z", Alg: "RS256", Private: []byte("p3"), CreatedAt: t0, SignsFrom: t0.Add(time.Minute)}
	km := storage.SigningKey{KID: "m", Alg: "RS256", Private: []byte("p4"), CreatedAt: t0, SignsFrom: t0.Add(time.Minute)}
	for _, k := range []storage.SigningKey{kz, km} {
		if err := b.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err = b.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]storage.SigningKey{k1, k2, kz, km}, keys); diff != "" {
		t.Errorf("ListSigningKeys with equal SignsFrom (-want +got):\n%s", diff)
	}
	if err := b.DeleteSigningKey(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteSigningKey(missing)", b.DeleteSigningKey(ctx, "a"), storage.ErrNotFound)
}

func testAudit(t *testing.T, b Backend) {
	ctx := context.Background()
	for i, action := range []string{"api_key.view", "api_key.regenerate"} {
		e := storage.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), AccountID: "1", Actor: "a@example.com", Action: action, Address: "127.0.0.1"}
		if err := b.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.ListAudit(ctx, "1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != "api_key.regenerate" || got[1].Action != "api_key.view" || !got[0].Time.Equal(t0.Add(time.Second)) {
		t.Errorf("ListAudit = %+v, want newest first", got)
	}
	if got, _ := b.ListAudit(ctx, "2", 10); len(got) != 0 {
		t.Errorf("ListAudit(other) = %+v, want none", got)
	}
}

func testDeleteCascades(t *testing.T, b Backend) {
	ctx := context.Background()
	n := newAccount("1", true)
	n.ConsoleUser = &storage.ConsoleUser{Email: "a@example.com", PasswordHash: "h", CreatedAt: t0}
	mustCreate(t, b, n)
	if err := b.DeleteAccount(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	_, err := b.APIKeyByHash(ctx, []byte("hash-1"))
	wantErr(t, "key of deleted account", err, storage.ErrNotFound)
	_, err = b.CredentialByUserID(ctx, "user-1")
	wantErr(t, "credential of deleted account", err, storage.ErrNotFound)
	_, err = b.GetConsoleUser(ctx, "1", "a@example.com")
	wantErr(t, "console user of deleted account", err, storage.ErrNotFound)
	// The same id and secrets can be used again.
	mustCreate(t, b, n)
}

// testDeleteRecreate pins SPEC §2, "its data, keys and tokens die with
// it", for a deletion a backend may do in steps (security review 2026-12,
// finding 3): after DeleteAccount returns, an account created again with
// the same id sees none of the old context data, policies or evaluation
// log, whatever their volume; other accounts keep theirs.
func testDeleteRecreate(t *testing.T, b Backend) {
	ctx := context.Background()
	const id, other = "600", "601"
	n := newAccount(id, true)
	n.ConsoleUser = &storage.ConsoleUser{Email: "a@example.com", PasswordHash: "h", CreatedAt: t0}
	mustCreate(t, b, n)
	mustCreate(t, b, newAccount(other, false))
	// Enough rows to take a backend's deletion through several steps.
	const sessions, perSession = 3, 2500
	for _, acct := range []string{id, other} {
		if err := b.PutNamespace(ctx, acct, storage.ContextNamespace{Name: "ns", CreatedAt: t0, TTL: time.Hour, HasTTL: true}, storage.ContextQuota{}); err != nil {
			t.Fatal(err)
		}
		for i := range sessions {
			props := make([]storage.ContextProperty, perSession)
			for j := range props {
				props[j] = prop(fmt.Sprintf("p%04d", j), fmt.Sprint(j))
			}
			merge(t, b, storage.ContextMerge{Key: storage.ContextKey{AccountID: acct, Namespace: "ns", SessionID: fmt.Sprintf("s%d", i)}, Properties: props, Now: t0})
		}
		for _, pid := range []string{"p1", "p2"} {
			if _, err := b.CreatePolicy(ctx, newPolicy(acct, pid, "r"), 0); err != nil {
				t.Fatal(err)
			}
		}
		evs := make([]storage.PolicyEvaluation, 2500)
		for i := range evs {
			evs[i] = storage.PolicyEvaluation{Time: t0.Add(time.Duration(i) * time.Millisecond), AccountID: acct, ConversationID: "c1", PolicyID: "p1", State: "TRUE"}
		}
		if err := b.AppendEvaluations(ctx, evs, 0); err != nil {
			t.Fatal(err)
		}
	}

	if err := b.DeleteAccount(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err := b.GetAccount(ctx, id)
	wantErr(t, "GetAccount(deleted)", err, storage.ErrNotFound)
	if list, err := b.ListAccounts(ctx); err != nil || len(list) != 1 || list[0].ID != other {
		t.Errorf("ListAccounts after delete = %+v, %v; want only %s", list, err, other)
	}
	wantErr(t, "DeleteAccount(deleted)", b.DeleteAccount(ctx, id), storage.ErrNotFound)
	wantErr(t, "RotateAPIKey(deleted)", b.RotateAPIKey(ctx, storage.APIKey{AccountID: id, Hash: []byte("hx"), Sealed: []byte("s"), CreatedAt: t0}, t0), storage.ErrNotFound)

	mustCreate(t, b, newAccount(id, true)) // same id, same secrets, no console user
	for _, acct := range []string{id, other} {
		nss, err := b.ListNamespaces(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := b.ListSessions(ctx, acct, "ns", t0)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := b.ListDocuments(ctx, acct, "ns", t0, 0, 100, true)
		if err != nil {
			t.Fatal(err)
		}
		props := 0
		for i := range sessions {
			props += len(values(t, b, storage.ContextKey{AccountID: acct, Namespace: "ns", SessionID: fmt.Sprintf("s%d", i)}, nil, t0))
		}
		evs, err := b.ListEvaluations(ctx, acct, "", time.Time{}, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		got := []int{len(nss), len(ss), len(docs), props, len(policyIDs(t, b, acct)), len(evs)}
		want := []int{1, sessions, sessions, sessions * perSession, 2, 2500}
		what := "other account"
		if acct == id {
			want, what = []int{0, 0, 0, 0, 0, 0}, "re-created account"
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: [namespaces sessions documents properties policies evaluations] (-want +got):\n%s", what, diff)
		}
	}
	_, err = b.GetNamespace(ctx, id, "ns")
	wantErr(t, "GetNamespace of the re-created account", err, storage.ErrNotFound)
	_, err = b.GetConsoleUser(ctx, id, "a@example.com")
	wantErr(t, "console user of the deleted account", err, storage.ErrNotFound)
}
