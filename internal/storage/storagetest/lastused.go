package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// testLastUsed checks storage.LastUse: last-used times only move
// forward, survive a rotation (the retired key keeps its own) and a
// password regeneration, and skip secrets that are gone.
func testLastUsed(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("1", true))
	k, err := b.CurrentAPIKey(ctx, "1")
	if err != nil || !k.LastUsedAt.IsZero() {
		t.Fatalf("CurrentAPIKey = %+v, %v; want never used", k, err)
	}
	if c, err := b.CredentialByUserID(ctx, "user-1"); err != nil || !c.LastUsedAt.IsZero() {
		t.Fatalf("CredentialByUserID = %+v, %v; want never used", c, err)
	}
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	uses := []storage.SecretUse{
		{Hash: []byte("hash-1"), At: t2},
		{UserID: "user-1", At: t1},
		{Hash: []byte("no-such-key"), At: t2},
		{UserID: "no-such-user", At: t2},
	}
	if err := b.MarkUsed(ctx, uses); err != nil {
		t.Fatalf("MarkUsed: %v", err)
	}
	// An older time (another node's flush, late) does not go back.
	if err := b.MarkUsed(ctx, []storage.SecretUse{{Hash: []byte("hash-1"), At: t1}, {UserID: "user-1", At: t0}}); err != nil {
		t.Fatal(err)
	}
	if k, _ := b.APIKeyByHash(ctx, []byte("hash-1")); !k.LastUsedAt.Equal(t2) {
		t.Errorf("APIKeyByHash.LastUsedAt = %v, want %v", k.LastUsedAt, t2)
	}
	if k, _ := b.CurrentAPIKey(ctx, "1"); !k.LastUsedAt.Equal(t2) {
		t.Errorf("CurrentAPIKey.LastUsedAt = %v, want %v", k.LastUsedAt, t2)
	}
	for what, get := range map[string]func() (storage.Credential, error){
		"CredentialByUserID":  func() (storage.Credential, error) { return b.CredentialByUserID(ctx, "user-1") },
		"CredentialByAccount": func() (storage.Credential, error) { return b.CredentialByAccount(ctx, "1") },
	} {
		if c, err := get(); err != nil || !c.LastUsedAt.Equal(t1) {
			t.Errorf("%s.LastUsedAt = %v, %v; want %v", what, c.LastUsedAt, err, t1)
		}
	}
	if err := b.MarkUsed(ctx, nil); err != nil {
		t.Errorf("MarkUsed(none): %v", err)
	}

	// A regeneration keeps the credential's last use.
	c, _ := b.CredentialByAccount(ctx, "1")
	c.SecretHash, c.CreatedAt = []byte("secret-2"), t2
	if got, err := b.ReplaceCredential(ctx, c, t2); err != nil || !got.LastUsedAt.Equal(t1) {
		t.Errorf("ReplaceCredential = %v, %v; want LastUsedAt %v", got.LastUsedAt, err, t1)
	}

	// A rotation with a grace: the retired key keeps its last use and is
	// listed after the current one; each records its own uses.
	if err := b.RotateAPIKey(ctx, storage.APIKey{AccountID: "1", Hash: []byte("hash-1b"), Sealed: []byte("s"), CreatedAt: t2}, t2.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	t3 := t2.Add(time.Minute)
	if err := b.MarkUsed(ctx, []storage.SecretUse{{Hash: []byte("hash-1"), At: t3}}); err != nil {
		t.Fatal(err)
	}
	keys, err := b.ListAPIKeys(ctx, "1")
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListAPIKeys = %+v, %v; want 2 keys", keys, err)
	}
	if string(keys[0].Hash) != "hash-1b" || !keys[0].RetiredAt.IsZero() || !keys[0].LastUsedAt.IsZero() {
		t.Errorf("ListAPIKeys[0] = %+v, want the new current key, never used", keys[0])
	}
	if string(keys[1].Hash) != "hash-1" || !keys[1].RetiredAt.Equal(t2.Add(time.Hour)) || !keys[1].LastUsedAt.Equal(t3) {
		t.Errorf("ListAPIKeys[1] = %+v, want the retired key, used at %v", keys[1], t3)
	}
	if keys, err := b.ListAPIKeys(ctx, "2"); err != nil || len(keys) != 0 {
		t.Errorf("ListAPIKeys(missing) = %+v, %v; want none", keys, err)
	}
}

// testAuditPurge checks storage.Audit's retention: PurgeAudit removes
// entries older than its cutoff, at most limit a call, of every account
// and of the zone ("" account id), and nothing newer.
func testAuditPurge(t *testing.T, b Backend) {
	ctx := context.Background()
	for i := range 5 {
		for _, acct := range []string{"1", ""} {
			e := storage.AuditEvent{Time: t0.Add(time.Duration(i) * time.Hour), AccountID: acct, Actor: "operator", Action: "api_key.regenerate", Address: "127.0.0.1"}
			if err := b.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, err := b.ListAudit(ctx, "", 10); err != nil || len(got) != 5 || got[0].AccountID != "" {
		t.Fatalf("ListAudit(zone) = %+v, %v; want 5 zone entries", got, err)
	}
	cut := t0.Add(3 * time.Hour) // entries at 0, 1 and 2 h go
	n, err := b.PurgeAudit(ctx, cut, 4)
	if err != nil || n != 4 {
		t.Fatalf("PurgeAudit(limit 4) = %d, %v; want 4", n, err)
	}
	n, err = b.PurgeAudit(ctx, cut, 4)
	if err != nil || n != 2 {
		t.Fatalf("PurgeAudit again = %d, %v; want the 2 left", n, err)
	}
	if n, err := b.PurgeAudit(ctx, cut, 4); err != nil || n != 0 {
		t.Fatalf("PurgeAudit a third time = %d, %v; want 0", n, err)
	}
	for _, acct := range []string{"1", ""} {
		got, err := b.ListAudit(ctx, acct, 10)
		if err != nil || len(got) != 2 || !got[1].Time.Equal(cut) || !got[0].Time.Equal(t0.Add(4*time.Hour)) {
			t.Errorf("ListAudit(%q) after purge = %+v, %v; want the entries at 3 h and 4 h", acct, got, err)
		}
	}
}
