package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// The concurrency guarantees of storage.Store, written once for one
// instance and for two instances on one database (two nodes): each case
// takes the two backends the writes go through, which are the same one
// when Run calls it.

// together runs fns at once (released by one signal, so that they
// overlap as much as goroutines can) and returns their errors in order.
func together(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// documentSize is the size of k's live document as ContextMerge.MaxChars
// counts it.
func documentSize(t *testing.T, b Backend, k storage.ContextKey, now time.Time) int64 {
	t.Helper()
	ps, err := b.GetProperties(context.Background(), k, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(storage.EmptyDocumentSize)
	for _, p := range ps {
		n += storage.PropertySize(p.Name, p.Value)
	}
	return n
}

// testMaxCharsRace: two concurrent merges into one session that each fit
// but together exceed MaxChars: exactly one succeeds, the other fails with
// ErrTooLarge, and the stored document is within the bound. A few rounds,
// on fresh sessions and on one that already holds data.
func testMaxCharsRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("900", false))
	const limit = 1000
	big := func(c string) string { return `"` + strings.Repeat(c, 580) + `"` }
	for round := range 8 {
		k := storage.ContextKey{AccountID: "900", Namespace: "race", SessionID: fmt.Sprintf("s%d", round)}
		if round%2 == 1 {
			// Some data already there: 1 + 9 chars; each write still fits.
			merge(t, a, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("z", `"abc"`)}, Now: t0, MaxChars: limit})
		}
		write := func(be Backend, name string) func() error {
			return func() error {
				return be.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop(name, big(name))}, Now: t0, MaxChars: limit})
			}
		}
		errs := together(write(a, "x"), write(b, "y"))
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, storage.ErrTooLarge):
				t.Fatalf("round %d: MergeProperties: %v, want nil or ErrTooLarge", round, err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d of 2 merges that together exceed MaxChars succeeded, want exactly 1 (errors %v)", round, ok, errs)
		}
		for _, be := range []Backend{a, b} {
			if n := documentSize(t, be, k, t0); n > limit {
				t.Errorf("round %d: stored document has %d chars, over MaxChars %d", round, n, limit)
			}
		}
	}
}

// testMergeKeysRace: concurrent merges of distinct properties into one
// session, through both backends, all survive.
func testMergeKeysRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("901", false))
	k := storage.ContextKey{AccountID: "901", Namespace: "ns", SessionID: "s"}
	const writers = 50
	fns := make([]func() error, writers)
	for i := range fns {
		be := []Backend{a, b}[i%2]
		fns[i] = func() error {
			return be.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop(fmt.Sprintf("k%02d", i), fmt.Sprint(i))}, Now: t0, MaxChars: 800_000})
		}
	}
	for _, err := range together(fns...) {
		if err != nil {
			t.Fatalf("concurrent MergeProperties: %v", err)
		}
	}
	for _, be := range []Backend{a, b} {
		if got := values(t, be, k, nil, t0); len(got) != writers {
			t.Errorf("after %d concurrent merges of distinct keys: %d properties, want %d", writers, len(got), writers)
		}
	}
}

// testQuotaRace: concurrent writes of one account, each adding a
// property, never take it over MaxProperties.
func testQuotaRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("902", false))
	q := storage.ContextQuota{MaxProperties: 10}
	const writers = 30
	fns := make([]func() error, writers)
	for i := range fns {
		be := []Backend{a, b}[i%2]
		// Several sessions and namespaces: the quota is the account's.
		k := storage.ContextKey{AccountID: "902", Namespace: fmt.Sprintf("n%d", i%3), SessionID: fmt.Sprintf("s%d", i%5)}
		fns[i] = func() error {
			return be.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop(fmt.Sprintf("p%02d", i), "1")}, Now: t0, Quota: q})
		}
	}
	ok := 0
	for _, err := range together(fns...) {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrQuotaExceeded):
			t.Fatalf("MergeProperties: %v, want nil or ErrQuotaExceeded", err)
		}
	}
	if ok != int(q.MaxProperties) {
		t.Errorf("%d of %d concurrent writes succeeded, want %d (the quota)", ok, writers, q.MaxProperties)
	}
	for _, be := range []Backend{a, b} {
		if u, err := be.ContextUsage(ctx, "902"); err != nil || u.Properties != q.MaxProperties {
			t.Errorf("ContextUsage = %+v, %v; want %d properties", u, err, q.MaxProperties)
		}
	}
}

// testPolicyOrderRace: creates and deletes of one account's policies at
// once leave positions strictly increasing, without duplicates, and the
// count right; each policy keeps the position its create returned.
func testPolicyOrderRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("903", true))
	const old, created = 10, 20
	for i := range old {
		if _, err := a.CreatePolicy(ctx, newPolicy("903", fmt.Sprintf("old%02d", i), "r"), 0); err != nil {
			t.Fatal(err)
		}
	}
	positions := make([]int64, created)
	var fns []func() error
	for i := range created {
		be := []Backend{a, b}[i%2]
		fns = append(fns, func() error {
			p, err := be.CreatePolicy(ctx, newPolicy("903", fmt.Sprintf("new%02d", i), "r"), 0)
			positions[i] = p.Position
			return err
		})
	}
	for i := range old {
		be := []Backend{b, a}[i%2]
		fns = append(fns, func() error { return be.DeletePolicy(ctx, "903", fmt.Sprintf("old%02d", i)) })
	}
	for _, err := range together(fns...) {
		if err != nil {
			t.Fatalf("concurrent CreatePolicy/DeletePolicy: %v", err)
		}
	}
	for _, be := range []Backend{a, b} {
		ps, err := be.ListPolicies(ctx, "903")
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != created {
			t.Fatalf("ListPolicies: %d policies, want %d", len(ps), created)
		}
		for i, p := range ps {
			if i > 0 && ps[i-1].Position >= p.Position {
				t.Errorf("positions not strictly increasing: %s at %d, then %s at %d", ps[i-1].ID, ps[i-1].Position, p.ID, p.Position)
			}
			var n int
			if _, err := fmt.Sscanf(p.ID, "new%02d", &n); err != nil {
				t.Fatalf("policy %s survived", p.ID)
			}
			if positions[n] != p.Position {
				t.Errorf("policy %s listed at %d, created at %d", p.ID, p.Position, positions[n])
			}
		}
	}
}

// testPolicyMaxRace: concurrent creates beyond the account's limit:
// exactly max succeed, the others fail with ErrConflict, and positions
// are distinct and increasing.
func testPolicyMaxRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	mustCreate(t, a, newAccount("904", true))
	const max, tries = 12, 30
	fns := make([]func() error, tries)
	for i := range fns {
		be := []Backend{a, b}[i%2]
		fns[i] = func() error {
			_, err := be.CreatePolicy(ctx, newPolicy("904", fmt.Sprintf("p%02d", i), "r"), max)
			return err
		}
	}
	ok := 0
	for _, err := range together(fns...) {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrConflict):
			t.Fatalf("CreatePolicy: %v, want nil or ErrConflict", err)
		}
	}
	if ok != max {
		t.Errorf("%d of %d concurrent creates succeeded, want %d (the limit)", ok, tries, max)
	}
	ps, err := b.ListPolicies(ctx, "904")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != max {
		t.Errorf("ListPolicies: %d policies, want %d", len(ps), max)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i-1].Position >= ps[i].Position {
			t.Errorf("positions not strictly increasing: %d then %d", ps[i-1].Position, ps[i].Position)
		}
	}
}

// testPurgeRace: PurgeContext running on both backends at once deletes
// each expired property once: the counts they return add up to the
// number that expired, and only the live properties are left.
func testPurgeRace(t *testing.T, a, b Backend) {
	ctx := context.Background()
	const sessions, perSession = 4, 40
	accounts := []string{"905", "906"}
	for _, acct := range accounts {
		mustCreate(t, a, newAccount(acct, false))
		for i := range sessions {
			k := storage.ContextKey{AccountID: acct, Namespace: "ns", SessionID: fmt.Sprintf("s%d", i)}
			props := make([]storage.ContextProperty, perSession)
			for j := range props {
				props[j] = prop(fmt.Sprintf("p%02d", j), fmt.Sprint(j))
			}
			merge(t, a, storage.ContextMerge{Key: k, Properties: props, Now: t0, TTL: time.Second, HasTTL: true})
			merge(t, a, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("kept", "1")}, Now: t0})
		}
	}
	at := t0.Add(time.Minute)
	purge := func(be Backend, total *int) func() error {
		return func() error {
			for {
				n, err := be.PurgeContext(ctx, at, 7)
				if err != nil || n == 0 {
					return err
				}
				*total += n
			}
		}
	}
	counts := make([]int, 4)
	for _, err := range together(purge(a, &counts[0]), purge(b, &counts[1]), purge(a, &counts[2]), purge(b, &counts[3])) {
		if err != nil {
			t.Fatalf("PurgeContext: %v", err)
		}
	}
	// A purge may stop while rows it skipped (held by another) remain:
	// a last one finds them.
	var sweep int
	if err := purge(a, &sweep)(); err != nil {
		t.Fatal(err)
	}
	want := len(accounts) * sessions * perSession
	if got := counts[0] + counts[1] + counts[2] + counts[3] + sweep; got != want {
		t.Errorf("concurrent purges deleted %d properties in all (%v, then %d), want %d: each expired row once", got, counts, sweep, want)
	}
	for _, acct := range accounts {
		if u, err := b.ContextUsage(ctx, acct); err != nil || u.Properties != sessions {
			t.Errorf("account %s after the purges: ContextUsage = %+v, %v; want %d properties (the live ones)", acct, u, err, sessions)
		}
	}
}
