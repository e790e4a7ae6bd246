package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// denylistStore counts the loads of an account's denylist and can hold
// them, after they read the store, until released.
type denylistStore struct {
	Store
	loads   atomic.Int64
	mu      sync.Mutex
	hold    chan struct{} // nil: loads do not wait
	entered chan struct{} // told once per held load
}

func (d *denylistStore) RevokedTokens(ctx context.Context, accountID string, now time.Time) ([]string, error) {
	d.loads.Add(1)
	jtis, err := d.Store.RevokedTokens(ctx, accountID, now)
	d.mu.Lock()
	hold, entered := d.hold, d.entered
	d.mu.Unlock()
	if hold != nil {
		entered <- struct{}{}
		<-hold
	}
	return jtis, err
}

// holdLoads makes the loads that start from now on wait until the
// returned function is called; entered tells when each one has read.
func (d *denylistStore) holdLoads() (entered <-chan struct{}, release func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	hold, in := make(chan struct{}), make(chan struct{}, 100)
	d.hold, d.entered = hold, in
	return in, func() {
		d.mu.Lock()
		d.hold = nil
		d.mu.Unlock()
		close(hold)
	}
}

func newDenylistService(t *testing.T) (*Service, *denylistStore, Account) {
	t.Helper()
	st := &denylistStore{Store: openStore(t).Store}
	keys, _ := secret.Load(secret.Random(32))
	s := New(st, keys, "z1", nil)
	a, err := s.Create(context.Background(), CreateRequest{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, a
}

// TestConcurrentCredentialReadsShareOneLoad: after a revocation sends an
// account's credential back to the store, a burst of concurrent
// verifications reads it (and its denylist) once, not once each
// (review finding F1).
func TestConcurrentCredentialReadsShareOneLoad(t *testing.T) {
	s, st, a := newDenylistService(t)
	ctx := context.Background()
	user := a.Credentials.UserID
	if _, err := s.Credential(ctx, user); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := s.RevokeToken(ctx, a.AccountID, fmt.Sprint("jti-", i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	entered, release := st.holdLoads()
	before := st.loads.Load()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			c, err := s.Credential(ctx, user)
			if err == nil && len(c.RevokedJTIs) != 100 {
				err = fmt.Errorf("%d revoked jtis, want 100", len(c.RevokedJTIs))
			}
			errs <- err
		})
	}
	<-entered
	// The others find the load under way (or, once it is done, the
	// cache); give them the time to get there.
	time.Sleep(100 * time.Millisecond)
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := st.loads.Load() - before; got != 1 {
		t.Errorf("%d concurrent Credential calls after a revocation loaded the denylist %d times, want 1", n, got)
	}
}

// TestSharedLoadNotUsedAfterARevocation: a load that began before a
// revocation is not handed to a request that came after the revocation
// was acknowledged; that request reads again and refuses the token.
func TestSharedLoadNotUsedAfterARevocation(t *testing.T) {
	s, st, a := newDenylistService(t)
	ctx := context.Background()
	user := a.Credentials.UserID
	if _, err := s.Credential(ctx, user); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	if err := s.RevokeToken(ctx, a.AccountID, "first", exp); err != nil {
		t.Fatal(err)
	}
	entered, release := st.holdLoads()
	early := make(chan storage.Credential, 1)
	go func() {
		c, err := s.Credential(ctx, user)
		if err != nil {
			t.Error(err)
		}
		early <- c
	}()
	<-entered // the early load has read the denylist: "first" only
	if err := s.RevokeToken(ctx, a.AccountID, "second", exp); err != nil {
		t.Fatal(err)
	}
	late := make(chan storage.Credential, 1)
	go func() {
		c, err := s.Credential(ctx, user)
		if err != nil {
			t.Error(err)
		}
		late <- c
	}()
	// The late request joins the early load (or starts its own, which
	// waits too); then both go on.
	select {
	case <-entered:
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if c := <-early; len(c.RevokedJTIs) == 0 {
		t.Errorf("the early request's credential has no revoked jtis")
	}
	c := <-late
	if _, ok := c.RevokedJTIs["second"]; !ok {
		t.Errorf("a request after the revocation was acknowledged got the credential read before it: revoked %v", c.RevokedJTIs)
	}
	if c, err := s.Credential(ctx, user); err != nil || len(c.RevokedJTIs) != 2 {
		t.Errorf("Credential afterwards = %v, %v; want both jtis revoked", c.RevokedJTIs, err)
	}
}

// TestRevokeTokenLimit: an account's live revocations are bounded; past
// the bound RevokeToken refuses and changes nothing (not even the
// epoch), other accounts are not affected, and room comes back as the
// revoked tokens expire.
func TestRevokeTokenLimit(t *testing.T) {
	s, _, a := newDenylistService(t)
	ctx := context.Background()
	if s.RevokedTokensLimit() != MaxRevokedTokens {
		t.Errorf("default limit %d, want MaxRevokedTokens (%d)", s.RevokedTokensLimit(), MaxRevokedTokens)
	}
	s.LimitRevokedTokens(3)
	b, err := s.Create(ctx, CreateRequest{Name: "B"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, exp := range []time.Duration{time.Hour, 2 * time.Hour, 2 * time.Hour} {
		if err := s.RevokeToken(ctx, a.AccountID, fmt.Sprint("j", i), now.Add(exp)); err != nil {
			t.Fatal(err)
		}
	}
	epoch := s.epochs.Epoch(ctx, a.AccountID)
	if err := s.RevokeToken(ctx, a.AccountID, "j3", now.Add(time.Hour)); !errors.Is(err, ErrTooManyRevocations) {
		t.Fatalf("RevokeToken past the limit = %v, want ErrTooManyRevocations", err)
	}
	if got := s.epochs.Epoch(ctx, a.AccountID); got != epoch {
		t.Errorf("a refused revocation bumped the epoch")
	}
	c, err := s.Credential(ctx, a.Credentials.UserID)
	if err != nil || len(c.RevokedJTIs) != 3 {
		t.Errorf("revoked jtis after a refusal = %v, %v; want the 3 earlier ones", c.RevokedJTIs, err)
	}
	if err := s.RevokeToken(ctx, b.AccountID, "j3", now.Add(time.Hour)); err != nil {
		t.Errorf("another account's revocation: %v", err)
	}
	// Once j0 has expired, there is room for one more.
	s.now = func() time.Time { return now.Add(time.Hour + time.Second) }
	if err := s.RevokeToken(ctx, a.AccountID, "j3", now.Add(2*time.Hour)); err != nil {
		t.Errorf("RevokeToken once an entry expired: %v", err)
	}
}

// TestNewCredentialRefusesOlderTokens: a created, imported or upgraded
// credential refuses every token issued before its millisecond and
// accepts one issued within it (review finding F3).
func TestNewCredentialRefusesOlderTokens(t *testing.T) {
	s, now := newService(t)
	ctx := context.Background()
	imported := &Credentials{UserID: "0e9c2f1a-6b4d-4c1e-9a7f-3d2b1c0e9f8a", Password: "imported-tenant-password-0123456789"}
	created, _ := s.Create(ctx, CreateRequest{Name: "A"})
	imp, _ := s.Create(ctx, CreateRequest{Name: "B", Credentials: imported})
	v1, _ := s.Create(ctx, CreateRequest{Name: "C", AuthVersion: storage.AuthV1})
	up, err := s.Upgrade(ctx, v1.AccountID)
	if err != nil || created.Credentials == nil || imp.Credentials == nil {
		t.Fatal(created, imp, err)
	}
	ms := now.UnixMilli()
	for name, c := range map[string]*Credentials{"created": created.Credentials, "imported": imp.Credentials, "upgraded": up.Credentials} {
		cred, err := s.AuthenticateClient(ctx, c.UserID, c.Password)
		if err != nil {
			t.Fatal(err)
		}
		if r := cred.Revocation; !r.Kills(ms-1, *now) || r.Kills(ms, *now) {
			t.Errorf("%s credential: revocation %+v; want tokens before %d dead, tokens of its millisecond live", name, r, ms)
		}
	}
}
