package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// testContextRetention checks that ContextMerge.MaxRetention caps every
// way a write's expiry is resolved (SPEC §5: no property outlives
// --max-retention after its last write).
func testContextRetention(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	a := ckey.AccountID
	key := func(ns, sid string) storage.ContextKey {
		return storage.ContextKey{AccountID: a, Namespace: ns, SessionID: sid}
	}
	if err := b.PutNamespace(ctx, a, storage.ContextNamespace{Name: "n10h", CreatedAt: t0, TTL: 10 * time.Hour, HasTTL: true}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutSession(ctx, key("n10h", "s0"), storage.ContextSession{ID: "s0", CreatedAt: t0, TTL: 0, HasTTL: true}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	hour := storage.Retention{D: time.Hour}
	months := storage.Retention{Months: 13}

	tests := []struct {
		name   string
		key    storage.ContextKey
		ttl    time.Duration
		hasTTL bool
		cap    storage.Retention
		want   time.Time // zero: never
	}{
		{"no cap: forever stays forever", key("free", "s"), 0, true, storage.Retention{}, time.Time{}},
		{"write TTL 0 (forever) is capped", key("free", "s"), 0, true, hour, t0.Add(time.Hour)},
		{"longer write TTL is capped", key("free", "s"), 2 * time.Hour, true, hour, t0.Add(time.Hour)},
		{"shorter write TTL stands", key("free", "s"), 30 * time.Minute, true, hour, t0.Add(30 * time.Minute)},
		{"no TTL anywhere is capped", key("free", "s"), 0, false, hour, t0.Add(time.Hour)},
		{"longer namespace TTL is capped", key("n10h", "plain"), 0, false, hour, t0.Add(time.Hour)},
		{"session TTL 0 is capped", key("n10h", "s0"), 0, false, hour, t0.Add(time.Hour)},
		{"calendar months", key("free", "s"), 0, true, months, t0.AddDate(0, 13, 0)},
		{"a TTL just under 13 months stands", key("free", "s"), t0.AddDate(0, 13, 0).Sub(t0) - time.Second, true, months, t0.AddDate(0, 13, 0).Add(-time.Second)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("p%d", i)
			merge(t, b, storage.ContextMerge{Key: tt.key, Properties: []storage.ContextProperty{prop(name, "1")},
				TTL: tt.ttl, HasTTL: tt.hasTTL, Now: t0, MaxRetention: tt.cap})
			if got := expiries(t, b, tt.key, t0)[name]; !got.Equal(tt.want) {
				t.Errorf("ExpiresAt = %v, want %v", got, tt.want)
			}
			if !tt.want.IsZero() {
				if v := values(t, b, tt.key, []string{name}, tt.want); len(v) != 0 {
					t.Errorf("at the cap: %v, want nothing", v)
				}
			}
		})
	}

	t.Run("the cap runs from the last write", func(t *testing.T) {
		k := key("free", "rewrite")
		for _, at := range []time.Time{t0, t0.Add(40 * time.Minute)} {
			merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("x", "1"), prop("y", "1")}, HasTTL: true, Now: at, MaxRetention: hour})
		}
		if got, want := expiries(t, b, k, t0)["x"], t0.Add(100*time.Minute); !got.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v", got, want)
		}
	})
}

// testContextCapExpiry checks CapContextExpiry, which brings the rows
// written before a retention cap took effect under it.
func testContextCapExpiry(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("510", true))
	mustCreate(t, b, newAccount("520", false))
	until := t0.Add(time.Hour)
	type row struct {
		key  storage.ContextKey
		name string
		ttl  time.Duration // 0: never
		want time.Time     // after the cap
	}
	var rows []row
	for _, acct := range []string{"510", "520"} {
		for _, sid := range []string{"a", "b"} {
			k := storage.ContextKey{AccountID: acct, Namespace: "ns", SessionID: sid}
			rows = append(rows,
				row{k, "never", 0, until},
				row{k, "late", 10 * time.Hour, until},
				row{k, "at", time.Hour, until},
				row{k, "early", 30 * time.Minute, t0.Add(30 * time.Minute)},
			)
		}
	}
	for _, r := range rows {
		merge(t, b, storage.ContextMerge{Key: r.key, Properties: []storage.ContextProperty{prop(r.name, `"`+r.name+`"`)}, TTL: r.ttl, HasTTL: true, Now: t0})
	}
	usage := func() []storage.ContextUsage {
		var out []storage.ContextUsage
		for _, acct := range []string{"510", "520"} {
			u, err := b.ContextUsage(ctx, acct)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, u)
		}
		return out
	}
	before := usage()

	capAll := func(limit int) (changed, calls int) {
		t.Helper()
		var from storage.ContextPosition
		for {
			calls++
			if calls > len(rows)/limit+2 {
				t.Fatalf("CapContextExpiry(limit %d) still going after %d calls", limit, calls)
			}
			next, n, err := b.CapContextExpiry(ctx, until, from, limit)
			if err != nil {
				t.Fatalf("CapContextExpiry: %v", err)
			}
			if n < 0 || n > limit {
				t.Fatalf("CapContextExpiry(limit %d) changed %d", limit, n)
			}
			changed += n
			if next == (storage.ContextPosition{}) {
				return changed, calls
			}
			if !after(next, from) {
				t.Fatalf("CapContextExpiry went from %+v to %+v, not forward", from, next)
			}
			from = next
		}
	}
	changed, calls := capAll(3)
	if want := 8; changed != want { // "never" and "late" of 4 sessions
		t.Errorf("changed %d properties, want %d", changed, want)
	}
	if calls < len(rows)/3 {
		t.Errorf("%d calls of limit 3 for %d rows: batches too large", calls, len(rows))
	}
	for _, r := range rows {
		if got := expiries(t, b, r.key, t0)[r.name]; !got.Equal(r.want) {
			t.Errorf("%s/%s %s: ExpiresAt = %v, want %v", r.key.AccountID, r.key.SessionID, r.name, got, r.want)
		}
	}
	want := map[string]string{"never": `"never"`, "late": `"late"`, "at": `"at"`, "early": `"early"`}
	if diff := cmp.Diff(want, values(t, b, rows[0].key, nil, t0)); diff != "" {
		t.Errorf("values after the cap (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, usage()); diff != "" {
		t.Errorf("usage changed by the cap (-before +after):\n%s", diff)
	}
	if again, _ := capAll(100); again != 0 {
		t.Errorf("capping again changed %d properties, want 0", again)
	}
	// Nothing outlives the cap: the purge at the cap deletes every row.
	n, err := b.PurgeContext(ctx, until, 100)
	if err != nil || n != len(rows) {
		t.Errorf("PurgeContext at the cap = %d, %v; want %d", n, err, len(rows))
	}
	// Past the last row: done at once.
	if next, n, err := b.CapContextExpiry(ctx, until, storage.ContextPosition{Key: storage.ContextKey{AccountID: "999"}}, 10); err != nil || n != 0 || next != (storage.ContextPosition{}) {
		t.Errorf("CapContextExpiry past the end = %+v, %d, %v; want the zero position, 0, nil", next, n, err)
	}
}

// after reports whether p comes after q in key order.
func after(p, q storage.ContextPosition) bool {
	a := []string{p.Key.AccountID, p.Key.Namespace, p.Key.SessionID, p.Name}
	b := []string{q.Key.AccountID, q.Key.Namespace, q.Key.SessionID, q.Name}
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}
