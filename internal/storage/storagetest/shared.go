package storagetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// RunShared runs the cases of two backends open on one database: the
// nodes of one zone. open must return two instances on the same fresh,
// empty database; it is called once per subtest.
func RunShared(t *testing.T, open func(t *testing.T) (a, b Backend)) {
	cases := []struct {
		name string
		test func(t *testing.T, a, b Backend)
	}{
		{"ReadsAcrossNodes", testReadsAcrossNodes},
		{"CredentialAcrossNodes", testCredentialAcrossNodes},
		{"MaxCharsRace", testMaxCharsRace},
		{"MergeKeysRace", testMergeKeysRace},
		{"QuotaRace", testQuotaRace},
		{"PolicyOrderRace", testPolicyOrderRace},
		{"PolicyMaxRace", testPolicyMaxRace},
		{"PurgeRace", testPurgeRace},
		{"UpgradeRace", testUpgradeRace},
		{"RotateRace", testRotateRace},
		{"LogCapRace", testLogCapRace},
		{"ContextWritesRace", testContextWritesRace},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := open(t)
			c.test(t, a, b)
		})
	}
}

// testReadsAcrossNodes: a write that returned on one instance is read on
// the other.
func testReadsAcrossNodes(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("910", true))
	if got, err := b.GetAccount(ctx, "910"); err != nil || got.Name != "Acct 910" {
		t.Fatalf("GetAccount on the other node = %+v, %v", got, err)
	}
	k := storage.ContextKey{AccountID: "910", Namespace: "ns", SessionID: "s"}
	merge(t, a, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("a", "1")}, Now: t0})
	merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("b", "2")}, Now: t0})
	for _, be := range []Backend{a, b} {
		if diff := cmp.Diff(map[string]string{"a": "1", "b": "2"}, values(t, be, k, nil, t0)); diff != "" {
			t.Errorf("document written on both nodes (-want +got):\n%s", diff)
		}
	}
	key := storage.SigningKey{KID: "k", Alg: "ES256", Private: []byte("p"), CreatedAt: t0, SignsFrom: t0}
	if err := a.AddSigningKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if keys, err := b.ListSigningKeys(ctx); err != nil || len(keys) != 1 || keys[0].KID != "k" {
		t.Errorf("ListSigningKeys on the other node = %+v, %v", keys, err)
	}
	nk := storage.APIKey{AccountID: "910", Hash: []byte("rotated"), Sealed: []byte("s2"), CreatedAt: t0.Add(time.Minute)}
	if err := b.RotateAPIKey(ctx, nk, nk.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if cur, err := a.CurrentAPIKey(ctx, "910"); err != nil || !bytes.Equal(cur.Hash, nk.Hash) {
		t.Errorf("CurrentAPIKey after a rotation on the other node = %+v, %v", cur, err)
	}
	p, err := a.CreatePolicy(ctx, newPolicy("910", "p", "r1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	p.Revision, p.UpdatedAt = "r2", t0.Add(time.Hour)
	if _, err := b.UpdatePolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := a.GetPolicy(ctx, "910", "p"); err != nil || got.Revision != "r2" {
		t.Errorf("GetPolicy after an update on the other node = %+v, %v", got, err)
	}
	if err := b.DeleteAccount(ctx, "910"); err != nil {
		t.Fatal(err)
	}
	_, err = a.GetAccount(ctx, "910")
	wantErr(t, "GetAccount after a delete on the other node", err, storage.ErrNotFound)
	_, err = a.APIKeyByHash(ctx, nk.Hash)
	wantErr(t, "APIKeyByHash after a delete on the other node", err, storage.ErrNotFound)
	if got := values(t, a, k, nil, t0); len(got) != 0 {
		t.Errorf("context data after a delete on the other node = %v", got)
	}
}

// testCredentialAcrossNodes: a regeneration on one node shows its
// revocation on the other, and regenerations racing on both nodes each
// advance the stored revocation (none works on a stale copy).
func testCredentialAcrossNodes(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("911", true))
	base, err := a.CredentialByAccount(ctx, "911")
	if err != nil {
		t.Fatal(err)
	}
	regen := func(be Backend, at time.Time, grace time.Duration) error {
		c := base
		c.SecretHash, c.CreatedAt = []byte("s-"+at.String()), at
		_, err := be.ReplaceCredential(ctx, c, at.Add(grace))
		return err
	}
	t1 := t0.Add(time.Hour)
	if err := regen(a, t1, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := b.CredentialByUserID(ctx, "user-911")
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Revocation{PendingBeforeMs: t1.UnixMilli(), PendingAt: t1.Add(time.Minute)}
	if diff := cmp.Diff(want, got.Revocation); diff != "" {
		t.Errorf("revocation read on the other node (-want +got):\n%s", diff)
	}
	// Without grace, at distinct times, on both nodes at once: whatever
	// the order they commit in, everything up to the latest is dead.
	const n = 20
	t2 := t1.Add(time.Minute)
	fns := make([]func() error, n)
	for i := range fns {
		be := []Backend{a, b}[i%2]
		fns[i] = func() error { return regen(be, t2.Add(time.Duration(i)*time.Millisecond), 0) }
	}
	for _, err := range together(fns...) {
		if err != nil {
			t.Fatalf("concurrent ReplaceCredential: %v", err)
		}
	}
	latest := t2.Add((n - 1) * time.Millisecond).UnixMilli()
	for _, be := range []Backend{a, b} {
		c, err := be.CredentialByUserID(ctx, "user-911")
		if err != nil {
			t.Fatal(err)
		}
		if want := (storage.Revocation{BeforeMs: latest}); c.Revocation != want {
			t.Errorf("after %d concurrent regenerations: revocation %+v, want %+v (a regeneration applied to a stale copy)", n, c.Revocation, want)
		}
	}
}
