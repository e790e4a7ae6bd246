package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// testRevokedTokens covers the denylist of tokens revoked one by one
// (RFC 7009): entries are per account, kept until their token expires,
// purged after, and gone with their account.
func testRevokedTokens(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("1", true))
	mustCreate(t, b, newAccount("2", true))
	revoke := func(acct, jti string, exp time.Time) {
		t.Helper()
		if err := b.RevokeToken(ctx, storage.RevokedToken{AccountID: acct, JTI: jti, ExpiresAt: exp}, t0, 0); err != nil {
			t.Fatalf("RevokeToken(%s, %s): %v", acct, jti, err)
		}
	}
	list := func(acct string, now time.Time) []string {
		t.Helper()
		got, err := b.RevokedTokens(ctx, acct, now)
		if err != nil {
			t.Fatalf("RevokedTokens(%s): %v", acct, err)
		}
		if got == nil {
			t.Errorf("RevokedTokens(%s) = nil, want an empty slice", acct)
		}
		slices.Sort(got)
		return got
	}
	if got := list("1", t0); len(got) != 0 {
		t.Errorf("RevokedTokens before any revocation = %v", got)
	}
	revoke("1", "a", t0.Add(time.Hour))
	revoke("1", "b", t0.Add(2*time.Hour))
	revoke("1", "b", t0.Add(time.Hour)) // again, earlier: the later expiry stays
	revoke("2", "a", t0.Add(time.Hour)) // the same jti in another account
	revoke("2", "c", t0.Add(3*time.Hour))

	if diff := cmp.Diff([]string{"a", "b"}, list("1", t0)); diff != "" {
		t.Errorf("account 1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "c"}, list("2", t0)); diff != "" {
		t.Errorf("account 2 (-want +got):\n%s", diff)
	}
	// An entry whose token has expired is not returned, purged or not.
	if diff := cmp.Diff([]string{"b"}, list("1", t0.Add(time.Hour))); diff != "" {
		t.Errorf("account 1 at the first expiry (-want +got):\n%s", diff)
	}
	if got := list("3", t0); len(got) != 0 {
		t.Errorf("RevokedTokens of an unknown account = %v", got)
	}
	err := b.RevokeToken(ctx, storage.RevokedToken{AccountID: "3", JTI: "x", ExpiresAt: t0.Add(time.Hour)}, t0, 0)
	wantErr(t, "RevokeToken of an unknown account", err, storage.ErrNotFound)

	// The purge takes expired entries only, limit at a time.
	n, err := b.PurgeRevokedTokens(ctx, t0.Add(time.Hour), 1)
	if err != nil || n != 1 {
		t.Fatalf("PurgeRevokedTokens(limit 1) = %d, %v; want 1", n, err)
	}
	n, err = b.PurgeRevokedTokens(ctx, t0.Add(time.Hour), 100)
	if err != nil || n != 1 {
		t.Fatalf("PurgeRevokedTokens = %d, %v; want the other expired entry", n, err)
	}
	if n, err := b.PurgeRevokedTokens(ctx, t0.Add(time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("PurgeRevokedTokens again = %d, %v; want 0", n, err)
	}
	// Purged entries are gone even for a reader whose clock is behind.
	if diff := cmp.Diff([]string{"b"}, list("1", t0)); diff != "" {
		t.Errorf("account 1 after the purge (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"c"}, list("2", t0)); diff != "" {
		t.Errorf("account 2 after the purge (-want +got):\n%s", diff)
	}

	// The entries go with their account; the other account keeps its own.
	if err := b.DeleteAccount(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	err = b.RevokeToken(ctx, storage.RevokedToken{AccountID: "1", JTI: "d", ExpiresAt: t0.Add(time.Hour)}, t0, 0)
	wantErr(t, "RevokeToken of a deleted account", err, storage.ErrNotFound)
	mustCreate(t, b, newAccount("1", true))
	if got := list("1", t0); len(got) != 0 {
		t.Errorf("account created again with the id: RevokedTokens = %v, want none", got)
	}
	if diff := cmp.Diff([]string{"c"}, list("2", t0)); diff != "" {
		t.Errorf("account 2 after account 1 was deleted (-want +got):\n%s", diff)
	}
	testRevokedTokensLimit(t, b)
}

// testRevokedTokensLimit covers RevokeToken's limit: entries that expire
// after now count, expired ones (purged or not) and the jti being
// revoked again do not; past the limit nothing is written; concurrent
// revocations never take an account past it; other accounts are not
// limited by it.
func testRevokedTokensLimit(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("4", true))
	mustCreate(t, b, newAccount("5", true))
	const limit = 3
	revoke := func(acct, jti string, exp, now time.Time) error {
		return b.RevokeToken(ctx, storage.RevokedToken{AccountID: acct, JTI: jti, ExpiresAt: exp}, now, limit)
	}
	// One entry that has expired by t0 does not count.
	if err := revoke("4", "old", t0, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, jti := range []string{"a", "b", "c"} {
		if err := revoke("4", jti, t0.Add(time.Hour), t0); err != nil {
			t.Fatalf("RevokeToken(%s) within the limit: %v", jti, err)
		}
	}
	wantErr(t, "RevokeToken past the limit", revoke("4", "d", t0.Add(time.Hour), t0), storage.ErrLimit)
	// Revoking a listed jti again is no new entry.
	if err := revoke("4", "b", t0.Add(2*time.Hour), t0); err != nil {
		t.Errorf("RevokeToken of a listed jti at the limit: %v", err)
	}
	if err := revoke("5", "d", t0.Add(time.Hour), t0); err != nil {
		t.Errorf("RevokeToken of another account: %v", err)
	}
	got, err := b.RevokedTokens(ctx, "4", t0)
	slices.Sort(got)
	if err != nil || !cmp.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("RevokedTokens after a refusal = %v, %v; want a b c (nothing written)", got, err)
	}
	// Once entries expire there is room again.
	if err := revoke("4", "d", t0.Add(2*time.Hour), t0.Add(time.Hour)); err != nil {
		t.Errorf("RevokeToken once the entries expired: %v", err)
	}

	// Concurrent revocations of one account stop at the limit.
	mustCreate(t, b, newAccount("6", true))
	errs := make(chan error, 20)
	for i := range 20 {
		go func() { errs <- revoke("6", fmt.Sprint("j", i), t0.Add(time.Hour), t0) }()
	}
	ok := 0
	for range 20 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrLimit):
			t.Errorf("concurrent RevokeToken: %v", err)
		}
	}
	if got, err := b.RevokedTokens(ctx, "6", t0); ok != limit || len(got) != limit || err != nil {
		t.Errorf("20 concurrent revocations with limit %d: %d succeeded, %d entries (%v), want %d", limit, ok, len(got), err, limit)
	}
}
