package tokens

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type creds map[string]storage.Credential

func (c creds) Credential(_ context.Context, userID string) (storage.Credential, error) {
	cr, ok := c[userID]
	if !ok {
		return cr, storage.ErrNotFound
	}
	return cr, nil
}

type fixture struct {
	svc   *Service
	clock *clock
	creds creds
	store *sqlite.Store
	keys  *secret.Keys
}

func newFixture(t testing.TB, alg string) *fixture {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, _ := secret.Load(secret.Random(32))
	f := &fixture{clock: &clock{t: time.Now().Truncate(time.Second)}, creds: creds{}, store: store, keys: keys}
	f.creds["u1"] = storage.Credential{AccountID: "100", UserID: "u1"}
	f.svc, err = New(context.Background(), store, keys, f.creds, Config{Issuer: "https://z1.example", Zone: "z1", TTL: 24 * time.Hour, Alg: alg, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func decodePart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueClaims(t *testing.T) {
	f := newFixture(t, RS256)
	iss, err := f.svc.Issue(context.Background(), f.creds["u1"], UseAccess)
	if err != nil {
		t.Fatal(err)
	}
	h := decodePart(t, iss.Token, 0)
	if h["alg"] != "RS256" || h["typ"] != "JWT" || h["kid"] == "" {
		t.Errorf("header = %v", h)
	}
	c := decodePart(t, iss.Token, 1)
	want := []string{"iss", "sub", "aud", "client_id", "iat", "nbf", "exp", "jti", "zone", "token_use", "name", "profile"}
	if len(c) != len(want) {
		t.Errorf("claims = %v, want exactly %v", c, want)
	}
	for _, k := range want {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %s missing", k)
		}
	}
	if c["exp"].(float64)-c["iat"].(float64) != 86400 || c["aud"] != "orchestrator" || c["zone"] != "z1" || c["name"] != "100" ||
		c["sub"] != "u1" || c["client_id"] != "u1" || c["token_use"] != "access" || c["iss"] != "https://z1.example" {
		t.Errorf("claims = %v", c)
	}
	var profile map[string]any
	if err := json.Unmarshal([]byte(c["profile"].(string)), &profile); err != nil || profile["tenantId"] != "100" || profile["role"] != "account" {
		t.Errorf("profile = %v (%v)", c["profile"], err)
	}
	if _, err := f.svc.Verify(context.Background(), iss.Token); err != nil {
		t.Errorf("Verify(fresh) = %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	for _, alg := range []string{RS256, ES256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			ctx := context.Background()
			good, err := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
			if err != nil {
				t.Fatal(err)
			}
			other := newFixture(t, alg) // another server's key
			foreign, _ := other.svc.Issue(ctx, f.creds["u1"], UseAccess)
			flipped := []byte(good.Token)
			flipped[len(flipped)-5] ^= 0x01
			parts := strings.Split(good.Token, ".")
			none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
			cases := map[string]string{
				"empty": "", "garbage": "abc", "one byte changed": string(flipped), "other signer": foreign.Token,
				"alg none": none, "two parts": parts[0] + "." + parts[1], "huge": strings.Repeat("a", 10000),
			}
			for name, tok := range cases {
				if _, err := f.svc.Verify(ctx, tok); !errors.Is(err, ErrInvalid) {
					t.Errorf("%s: Verify = %v, want ErrInvalid", name, err)
				}
			}
		})
	}
}

func TestVerifyIssuerZoneAndExpiry(t *testing.T) {
	f := newFixture(t, RS256)
	ctx := context.Background()
	// Same keys, other issuer or zone.
	for name, cfg := range map[string]Config{
		"issuer": {Issuer: "https://evil.example", Zone: "z1"},
		"zone":   {Issuer: "https://z1.example", Zone: "z2"},
	} {
		cfg.TTL, cfg.Now = time.Hour, f.clock.Now
		o, err := New(ctx, f.store, f.keys, f.creds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := o.Issue(ctx, f.creds["u1"], UseAccess)
		if _, err := f.svc.Verify(ctx, tok.Token); !errors.Is(err, ErrInvalid) {
			t.Errorf("wrong %s: Verify = %v, want ErrInvalid", name, err)
		}
	}
	tok, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
	if _, err := f.svc.Verify(ctx, tok.Token); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(24*time.Hour - time.Second)
	if _, err := f.svc.Verify(ctx, tok.Token); err != nil {
		t.Errorf("1 s before expiry: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.svc.Verify(ctx, tok.Token); !errors.Is(err, ErrInvalid) {
		t.Errorf("at expiry (cached): Verify = %v, want ErrInvalid", err)
	}
}

// A token whose jti the account revoked (RFC 7009) is refused, cached or
// not; the account's other tokens are not.
func TestRevokedJTI(t *testing.T) {
	f := newFixture(t, RS256)
	ctx := context.Background()
	tok, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
	other, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
	if _, err := f.svc.Verify(ctx, tok.Token); err != nil {
		t.Fatal(err)
	}
	c := f.creds["u1"]
	c.RevokedJTIs = map[string]struct{}{tok.Claims.ID: {}}
	f.creds["u1"] = c
	if _, err := f.svc.Verify(ctx, tok.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked jti: Verify = %v, want ErrRevoked", err)
	}
	if _, err := f.svc.Verify(ctx, other.Token); err != nil {
		t.Errorf("another token of the account: %v", err)
	}
}

func TestRevocation(t *testing.T) {
	f := newFixture(t, RS256)
	ctx := context.Background()
	old, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
	if _, err := f.svc.Verify(ctx, old.Token); err != nil {
		t.Fatal(err)
	}
	// Regeneration at this very millisecond revokes it (cached or not).
	c := f.creds["u1"]
	c.Revocation = c.Revocation.Then(f.clock.Now(), f.clock.Now())
	f.creds["u1"] = c
	if _, err := f.svc.Verify(ctx, old.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("after regeneration: Verify = %v, want ErrRevoked", err)
	}
	// A token issued in the same millisecond after it is valid.
	fresh, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
	if _, err := f.svc.Verify(ctx, fresh.Token); err != nil {
		t.Errorf("new token after regeneration: %v", err)
	}
	// Grace: revoked only from the end of the grace on.
	c.Revocation = c.Revocation.Then(f.clock.Now().Add(time.Millisecond), f.clock.Now().Add(time.Minute))
	f.creds["u1"] = c
	if _, err := f.svc.Verify(ctx, fresh.Token); err != nil {
		t.Errorf("within grace: %v", err)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.svc.Verify(ctx, fresh.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("after grace: Verify = %v, want ErrRevoked", err)
	}
	// Credential gone (account deleted).
	delete(f.creds, "u1")
	if _, err := f.svc.Verify(ctx, fresh.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("deleted credential: Verify = %v, want ErrRevoked", err)
	}
}

func TestRotationPublishesBeforeSigning(t *testing.T) {
	f := newFixture(t, RS256)
	ctx := context.Background()
	before, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
	oldKID := decodePart(t, before.Token, 0)["kid"]
	rec, err := f.svc.Rotate(ctx, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []struct{ Kid string } }
	json.Unmarshal(f.svc.JWKS(ctx), &set)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS after rotate has %d keys, want 2", len(set.Keys))
	}
	tok, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
	if kid := decodePart(t, tok.Token, 0)["kid"]; kid != oldKID {
		t.Errorf("signed with %v before the delay, want the old key %v", kid, oldKID)
	}
	f.clock.Advance(5 * time.Minute)
	tok, _ = f.svc.Issue(ctx, f.creds["u1"], UseAccess)
	if kid := decodePart(t, tok.Token, 0)["kid"]; kid != rec.KID {
		t.Errorf("signed with %v after the delay, want the new key %v", kid, rec.KID)
	}
	if _, err := f.svc.Verify(ctx, before.Token); err != nil {
		t.Errorf("token of the retired key: %v", err)
	}
	// Once every token of the old key has expired, it is unpublished.
	f.clock.Advance(24*time.Hour + 2*time.Minute)
	if err := f.svc.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(f.svc.JWKS(ctx), &set)
	if len(set.Keys) != 1 || set.Keys[0].Kid != rec.KID {
		t.Errorf("JWKS after old key expired = %+v, want only %s", set.Keys, rec.KID)
	}
}

func BenchmarkIssue(b *testing.B) {
	for _, alg := range []string{RS256, ES256, EdDSA} {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, alg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.svc.Issue(ctx, f.creds["u1"], UseAccess); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, RS256)
	ctx := context.Background()
	b.Run("first-sight", func(b *testing.B) {
		toks := make([]string, 0, 1024)
		for range 1024 {
			t, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
			toks = append(toks, t.Token)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			// Drop the memo so every verification checks the signature.
			f.svc.verified.InvalidateAll()
			if _, err := f.svc.Verify(ctx, toks[i%len(toks)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("repeated", func(b *testing.B) {
		t, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.svc.Verify(ctx, t.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzVerify feeds arbitrary strings, and mutations of a valid token, to
// Verify: it must never panic and must accept nothing but the exact token.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f, RS256)
	ctx := context.Background()
	good, _ := fx.svc.Issue(ctx, fx.creds["u1"], UseAccess)
	f.Add(good.Token)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat(".", 100))
	f.Add(good.Token[:len(good.Token)-1])
	f.Fuzz(func(t *testing.T, tok string) {
		cl, err := fx.svc.Verify(ctx, tok)
		if tok == good.Token {
			if err != nil {
				t.Fatalf("valid token refused: %v", err)
			}
			return
		}
		if err == nil {
			// Only a token with the very same signed content may pass
			// (base64 padding-free variants of it are not accepted by the
			// parser either).
			t.Fatalf("Verify accepted %q: %+v", tok, cl)
		}
	})
}

// TestIssueTest pins the console's testing token: the claims of Issue
// with token_use "test" and the lifetime asked for, whatever the
// configured TTL, under the same revocation rule.
func TestIssueTest(t *testing.T) {
	f := newFixture(t, RS256)
	ctx := context.Background()
	// A configured lifetime other than the testing token's, so that the
	// two cannot be confused.
	svc, err := New(ctx, f.store, f.keys, f.creds, Config{Issuer: "https://z1.example", Zone: "z1", TTL: time.Hour, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := svc.IssueTest(ctx, f.creds["u1"], ttl); err == nil {
			t.Errorf("IssueTest(ttl %v) = nil error, want a refusal", ttl)
		}
	}
	test, err := svc.IssueTest(ctx, f.creds["u1"], TestTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	access, err := svc.Issue(ctx, f.creds["u1"], UseAccess)
	if err != nil {
		t.Fatal(err)
	}
	if test.ExpiresIn != TestTokenTTL || access.ExpiresIn != time.Hour {
		t.Errorf("ExpiresIn = %v (test), %v (access), want %v and 1h", test.ExpiresIn, access.ExpiresIn, TestTokenTTL)
	}
	if h := decodePart(t, test.Token, 0); h["alg"] != "RS256" || h["typ"] != "JWT" || h["kid"] != decodePart(t, access.Token, 0)["kid"] {
		t.Errorf("header = %v", h)
	}
	tc, ac := decodePart(t, test.Token, 1), decodePart(t, access.Token, 1)
	if tc["token_use"] != "test" || tc["exp"].(float64)-tc["iat"].(float64) != 86400 {
		t.Errorf("testing token claims = %v", tc)
	}
	// Every other claim is as Issue makes it (jti aside, unique per token).
	for _, k := range []string{"iss", "sub", "aud", "client_id", "iat", "nbf", "zone", "name", "profile"} {
		if tc[k] != ac[k] {
			t.Errorf("claim %s = %v, Issue gives %v", k, tc[k], ac[k])
		}
	}
	if len(tc) != len(ac) || tc["jti"] == ac["jti"] {
		t.Errorf("claims = %v, want the claim set of Issue %v with its own jti", tc, ac)
	}
	cl, err := svc.Verify(ctx, test.Token)
	if err != nil || cl.TokenUse != UseTest || *cl != *test.Claims {
		t.Fatalf("Verify = %+v, %v; want the issued claims %+v", cl, err, test.Claims)
	}
	// Revoked by a password regeneration like any token; one issued in
	// the same millisecond after it is valid.
	c := f.creds["u1"]
	c.Revocation = c.Revocation.Then(f.clock.Now(), f.clock.Now())
	f.creds["u1"] = c
	if _, err := svc.Verify(ctx, test.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("after regeneration: Verify = %v, want ErrRevoked", err)
	}
	fresh, err := svc.IssueTest(ctx, f.creds["u1"], TestTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Verify(ctx, fresh.Token); err != nil {
		t.Errorf("testing token after regeneration: %v", err)
	}
}

// TestTestingTokenOutlivesRotation reproduces security review 2026-12,
// finding 9: with --token-ttl 5s, a rotated-out key was deleted 65 s after
// it stopped signing, so the console's 24 h testing token it had signed
// died early. A key stays published, and verifies, as long as any token
// it signed can live.
func TestTestingTokenOutlivesRotation(t *testing.T) {
	f := newFixture(t, RS256)
	ctx := context.Background()
	svc, err := New(ctx, f.store, f.keys, f.creds, Config{Issuer: "https://z1.example", Zone: "z1", TTL: 5 * time.Second, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	test, err := svc.IssueTest(ctx, f.creds["u1"], TestTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	kid := decodePart(t, test.Token, 0)["kid"].(string)
	published := func() bool {
		t.Helper()
		var set struct{ Keys []struct{ Kid string } }
		if err := json.Unmarshal(svc.JWKS(ctx), &set); err != nil {
			t.Fatal(err)
		}
		for _, k := range set.Keys {
			if k.Kid == kid {
				return true
			}
		}
		return false
	}
	if _, err := svc.Rotate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(70 * time.Second)
	if err := svc.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	svc.verified.InvalidateAll() // check the signature, not the memo
	if _, err := svc.Verify(ctx, test.Token); err != nil {
		t.Errorf("testing token 70 s after its key was rotated out: %v", err)
	}
	if !published() {
		t.Errorf("kid %s of a live testing token is not in the JWKS 70 s after rotation", kid)
	}
	f.clock.Advance(TestTokenTTL - 70*time.Second - time.Second)
	svc.Reload(ctx)
	svc.verified.InvalidateAll()
	if _, err := svc.Verify(ctx, test.Token); err != nil || !published() {
		t.Errorf("testing token 1 s before it expires: %v (published %v)", err, published())
	}
	// Once it has expired (and the minute of skew passed), the key goes.
	f.clock.Advance(time.Second + time.Minute + time.Second)
	if err := svc.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if published() {
		t.Errorf("kid %s still published after every token it signed expired", kid)
	}
	if _, err := svc.IssueTest(ctx, f.creds["u1"], TestTokenTTL+time.Second); err == nil {
		t.Errorf("IssueTest beyond the time keys stay published: want a refusal")
	}
}

// countingStore counts the reads of the signing keys.
type countingStore struct {
	storage.SigningKeys
	lists atomic.Int64
}

func (c *countingStore) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	c.lists.Add(1)
	return c.SigningKeys.ListSigningKeys(ctx)
}

// forge returns tok with its header's kid replaced (the signature no
// longer matches, which does not matter: the kid is looked up first).
func forge(t testing.TB, tok, kid string) string {
	t.Helper()
	parts := strings.SplitN(tok, ".", 2)
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	return base64.RawURLEncoding.EncodeToString(h) + "." + parts[1]
}

// TestUnknownKIDsDoNotReloadEachTime reproduces security review 2026-12,
// finding 14: every token with an unknown kid read and decrypted every
// signing key. 1,000 forged kids now cause at most a few store reads, and
// a key added by another node is still found within the reload bound.
func TestUnknownKIDsDoNotReloadEachTime(t *testing.T) {
	f := newFixture(t, RS256)
	ctx := context.Background()
	cs := &countingStore{SigningKeys: f.store}
	svc, err := New(ctx, cs, f.keys, f.creds, Config{Issuer: "https://z1.example", Zone: "z1", TTL: time.Hour, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := svc.Issue(ctx, f.creds["u1"], UseAccess)
	before := cs.lists.Load()
	for i := range 1000 {
		if _, err := svc.Verify(ctx, forge(t, good.Token, fmt.Sprintf("forged-%d", i))); !errors.Is(err, ErrInvalid) {
			t.Fatalf("forged kid %d: Verify = %v, want ErrInvalid", i, err)
		}
		if i%100 == 99 {
			f.clock.Advance(100 * time.Millisecond) // 1,000 tokens over 1 s
		}
	}
	if n := cs.lists.Load() - before; n > 2 {
		t.Errorf("1,000 forged kids read the signing keys %d times, want at most 2", n)
	}

	// Another node rotates a key in (same store, same secret) and signs
	// with it at once.
	other, err := New(ctx, f.store, f.keys, f.creds, Config{Issuer: "https://z1.example", Zone: "z1", TTL: time.Hour, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := other.Rotate(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := other.Issue(ctx, f.creds["u1"], UseAccess)
	if kid := decodePart(t, fresh.Token, 0)["kid"]; kid != rec.KID {
		t.Fatalf("other node signs with %v, want %s", kid, rec.KID)
	}
	deadline := f.clock.Now().Add(unknownKIDReloadEvery)
	for {
		_, err := svc.Verify(ctx, fresh.Token)
		if err == nil {
			break
		}
		if f.clock.Now().After(deadline) {
			t.Fatalf("key of another node still refused %v after it was added: %v", unknownKIDReloadEvery, err)
		}
		f.clock.Advance(100 * time.Millisecond)
	}
	// Reloads reuse the keys already loaded: the old signer is the very
	// same value, not decrypted again.
	oldKID := decodePart(t, good.Token, 0)["kid"].(string)
	k1 := svc.state.Load().byKID[oldKID]
	if err := svc.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if k2 := svc.state.Load().byKID[oldKID]; k2 != k1 {
		t.Errorf("Reload decrypted key %s again (new value), want the loaded one reused", oldKID)
	}
}

// BenchmarkVerifyUnknownKID measures a token with a made-up kid: the cost
// an attacker imposes per forged token.
func BenchmarkVerifyUnknownKID(b *testing.B) {
	f := newFixture(b, RS256)
	ctx := context.Background()
	// A few more keys in the store, as after some rotations.
	for range 3 {
		if _, err := f.svc.Rotate(ctx, 0); err != nil {
			b.Fatal(err)
		}
	}
	good, _ := f.svc.Issue(ctx, f.creds["u1"], UseAccess)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.svc.Verify(ctx, forge(b, good.Token, fmt.Sprintf("forged-%d", i)))
		i++
	}
}

// On a store shared by several nodes a rotation asked to sign at once
// still waits MinRotationDelay, so that every node's next reload
// publishes the key before any node signs with it.
func TestRotationMinDelay(t *testing.T) {
	f := newFixture(t, RS256)
	ctx := context.Background()
	svc, err := New(ctx, f.store, f.keys, f.creds, Config{Issuer: "https://z1.example", Zone: "z1", TTL: time.Hour, Now: f.clock.Now, MinRotationDelay: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := svc.Issue(ctx, f.creds["u1"], UseAccess)
	oldKID := decodePart(t, before.Token, 0)["kid"]
	rec, err := svc.Rotate(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.SignsFrom.Sub(rec.CreatedAt); got != 15*time.Second {
		t.Errorf("a rotation without delay signs %v after it is published, want 15s", got)
	}
	if tok, _ := svc.Issue(ctx, f.creds["u1"], UseAccess); decodePart(t, tok.Token, 0)["kid"] != oldKID {
		t.Error("the new key signs before MinRotationDelay")
	}
	f.clock.Advance(15 * time.Second)
	if tok, _ := svc.Issue(ctx, f.creds["u1"], UseAccess); decodePart(t, tok.Token, 0)["kid"] != rec.KID {
		t.Error("the new key does not sign after MinRotationDelay")
	}
	if rec, _ := svc.Rotate(ctx, time.Minute); rec.SignsFrom.Sub(rec.CreatedAt) != time.Minute {
		t.Error("a longer delay than the minimum was not kept")
	}
}
