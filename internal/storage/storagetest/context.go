package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// ckey is the session document most context tests use.
var ckey = storage.ContextKey{AccountID: "500", Namespace: "ns", SessionID: "s1"}

func prop(name, value string) storage.ContextProperty {
	return storage.ContextProperty{Name: name, Value: []byte(value)}
}

func merge(t *testing.T, b Backend, m storage.ContextMerge) {
	t.Helper()
	if err := b.MergeProperties(context.Background(), m); err != nil {
		t.Fatalf("MergeProperties(%+v): %v", m.Key, err)
	}
}

// values returns name → value of the live properties of k at now.
func values(t *testing.T, b Backend, k storage.ContextKey, names []string, now time.Time) map[string]string {
	t.Helper()
	ps, err := b.GetProperties(context.Background(), k, names, now)
	if err != nil {
		t.Fatalf("GetProperties(%+v, %q): %v", k, names, err)
	}
	out := map[string]string{}
	for i, p := range ps {
		if i > 0 && ps[i-1].Name >= p.Name {
			t.Errorf("GetProperties not ordered by name: %q before %q", ps[i-1].Name, p.Name)
		}
		out[p.Name] = string(p.Value)
	}
	return out
}

func expiries(t *testing.T, b Backend, k storage.ContextKey, now time.Time) map[string]time.Time {
	t.Helper()
	ps, err := b.GetProperties(context.Background(), k, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Time{}
	for _, p := range ps {
		out[p.Name] = p.ExpiresAt
	}
	return out
}

func contextAccount(t *testing.T, b Backend) {
	t.Helper()
	mustCreate(t, b, newAccount(ckey.AccountID, true))
}

func testContextNamespaces(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	a := ckey.AccountID
	list, err := b.ListNamespaces(ctx, a)
	if err != nil || len(list) != 0 {
		t.Fatalf("ListNamespaces(empty) = %v, %v; want [], nil", list, err)
	}
	_, err = b.GetNamespace(ctx, a, "ns")
	wantErr(t, "GetNamespace(missing)", err, storage.ErrNotFound)

	steps := []struct {
		name string
		put  storage.ContextNamespace
	}{
		{"create without TTL", storage.ContextNamespace{Name: "b", CreatedAt: t0}},
		{"create with TTL", storage.ContextNamespace{Name: "a", CreatedAt: t0, TTL: time.Hour, HasTTL: true}},
		{"again without TTL keeps TTL and creation time", storage.ContextNamespace{Name: "a", CreatedAt: t0.Add(time.Minute)}},
		{"set TTL 0 (forever) on existing", storage.ContextNamespace{Name: "b", CreatedAt: t0.Add(time.Minute), HasTTL: true}},
	}
	for _, st := range steps {
		if err := b.PutNamespace(ctx, a, st.put, storage.ContextQuota{}); err != nil {
			t.Fatalf("%s: PutNamespace: %v", st.name, err)
		}
	}
	want := []storage.ContextNamespace{
		{Name: "a", CreatedAt: t0, TTL: time.Hour, HasTTL: true},
		{Name: "b", CreatedAt: t0, HasTTL: true},
	}
	got, err := b.ListNamespaces(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListNamespaces mismatch (-want +got):\n%s", diff)
	}
	one, err := b.GetNamespace(ctx, a, "a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[0], one); diff != "" {
		t.Errorf("GetNamespace(a) mismatch (-want +got):\n%s", diff)
	}

	// Deleting a namespace deletes its sessions and properties; deleting
	// again is not an error.
	merge(t, b, storage.ContextMerge{Key: storage.ContextKey{AccountID: a, Namespace: "a", SessionID: "s"}, Properties: []storage.ContextProperty{prop("p", "1")}, Now: t0})
	merge(t, b, storage.ContextMerge{Key: storage.ContextKey{AccountID: a, Namespace: "b", SessionID: "s"}, Properties: []storage.ContextProperty{prop("p", "2")}, Now: t0})
	for range 2 {
		if err := b.DeleteNamespace(ctx, a, "a"); err != nil {
			t.Fatalf("DeleteNamespace: %v", err)
		}
	}
	if got := values(t, b, storage.ContextKey{AccountID: a, Namespace: "a", SessionID: "s"}, nil, t0); len(got) != 0 {
		t.Errorf("properties after DeleteNamespace = %v, want none", got)
	}
	if got := values(t, b, storage.ContextKey{AccountID: a, Namespace: "b", SessionID: "s"}, nil, t0); got["p"] != "2" {
		t.Errorf("other namespace after DeleteNamespace = %v, want p=2", got)
	}
	got, _ = b.ListNamespaces(ctx, a)
	if len(got) != 1 || got[0].Name != "b" {
		t.Errorf("ListNamespaces after delete = %+v, want [b]", got)
	}
	// A write creates its namespace.
	merge(t, b, storage.ContextMerge{Key: storage.ContextKey{AccountID: a, Namespace: "c", SessionID: "s"}, Properties: []storage.ContextProperty{prop("p", "3")}, Now: t0})
	if _, err := b.GetNamespace(ctx, a, "c"); err != nil {
		t.Errorf("GetNamespace after first write: %v", err)
	}
}

func testContextMerge(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	other := ckey
	other.SessionID = "s2"

	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("a", `1`), prop("b", `"x"`)}, Now: t0})
	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("b", `{"y":[1,2]}`), prop("c", `null`), prop("c", `true`)}, Now: t0})
	merge(t, b, storage.ContextMerge{Key: other, Properties: []storage.ContextProperty{prop("a", `2`)}, Now: t0})

	tests := []struct {
		name  string
		key   storage.ContextKey
		names []string
		want  map[string]string
	}{
		{"all, later values win, duplicates in one write: last wins", ckey, nil, map[string]string{"a": "1", "b": `{"y":[1,2]}`, "c": "true"}},
		{"selection", ckey, []string{"a", "c", "missing"}, map[string]string{"a": "1", "c": "true"}},
		{"one", ckey, []string{"b"}, map[string]string{"b": `{"y":[1,2]}`}},
		{"one missing", ckey, []string{"zz"}, map[string]string{}},
		{"empty selection", ckey, []string{}, map[string]string{}},
		{"other session is separate", other, nil, map[string]string{"a": "2"}},
		{"unknown session", storage.ContextKey{AccountID: ckey.AccountID, Namespace: "ns", SessionID: "nope"}, nil, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, values(t, b, tt.key, tt.names, t0)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}

	// Deletes: named (idempotent), then all; the session and its TTL stay.
	if err := b.PutSession(ctx, ckey, storage.ContextSession{ID: ckey.SessionID, CreatedAt: t0, TTL: time.Minute, HasTTL: true}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := b.DeleteProperties(ctx, ckey, []string{"a", "missing"}); err != nil {
			t.Fatalf("DeleteProperties: %v", err)
		}
	}
	if diff := cmp.Diff(map[string]string{"b": `{"y":[1,2]}`, "c": "true"}, values(t, b, ckey, nil, t0)); diff != "" {
		t.Errorf("after DeleteProperties(a) (-want +got):\n%s", diff)
	}
	if err := b.DeleteProperties(ctx, ckey, nil); err != nil {
		t.Fatal(err)
	}
	if got := values(t, b, ckey, nil, t0); len(got) != 0 {
		t.Errorf("after DeleteProperties(all) = %v, want none", got)
	}
	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("d", `4`)}, Now: t0})
	if exp := expiries(t, b, ckey, t0); !exp["d"].Equal(t0.Add(time.Minute)) {
		t.Errorf("session TTL after DeleteProperties(all): d expires %v, want %v (TTL kept)", exp["d"], t0.Add(time.Minute))
	}

	// DeleteSession removes properties and TTL.
	for range 2 {
		if err := b.DeleteSession(ctx, ckey); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
	}
	if got := values(t, b, ckey, nil, t0); len(got) != 0 {
		t.Errorf("after DeleteSession = %v, want none", got)
	}
	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("e", `5`)}, Now: t0})
	if exp := expiries(t, b, ckey, t0); !exp["e"].IsZero() {
		t.Errorf("after DeleteSession: e expires %v, want never (TTL gone)", exp["e"])
	}
}

func testContextSessions(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	a := ckey.AccountID
	key := func(sid string) storage.ContextKey {
		return storage.ContextKey{AccountID: a, Namespace: "ns", SessionID: sid}
	}

	// PutSession creates the namespace.
	if err := b.PutSession(ctx, key("t"), storage.ContextSession{ID: "t", CreatedAt: t0, TTL: time.Hour, HasTTL: true}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetNamespace(ctx, a, "ns"); err != nil {
		t.Errorf("GetNamespace after PutSession: %v", err)
	}
	if err := b.PutSession(ctx, key("t"), storage.ContextSession{ID: "t", CreatedAt: t0.Add(time.Hour)}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	merge(t, b, storage.ContextMerge{Key: key("b"), Properties: []storage.ContextProperty{prop("p", "1")}, Now: t0})
	merge(t, b, storage.ContextMerge{Key: key("a"), Properties: []storage.ContextProperty{prop("p", "1"), prop("q", "2")}, Now: t0})
	merge(t, b, storage.ContextMerge{Key: key("c"), Properties: []storage.ContextProperty{prop("p", "1")}, Now: t0, TTL: time.Second, HasTTL: true})
	merge(t, b, storage.ContextMerge{Key: key("d"), Now: t0}) // empty write: no live property

	later := t0.Add(2 * time.Second)
	got, err := b.ListSessions(ctx, a, "ns", later)
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.ContextSession{
		{ID: "a", CreatedAt: t0},
		{ID: "b", CreatedAt: t0},
		{ID: "t", CreatedAt: t0, TTL: time.Hour, HasTTL: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListSessions (-want +got):\n%s", diff)
	}

	pages := []struct {
		name          string
		offset, limit int
		props         bool
		want          []storage.ContextDocument
	}{
		{"ids", 0, 10, false, []storage.ContextDocument{{SessionID: "a", Properties: []storage.ContextProperty{}}, {SessionID: "b", Properties: []storage.ContextProperty{}}}},
		{"second page", 1, 1, false, []storage.ContextDocument{{SessionID: "b", Properties: []storage.ContextProperty{}}}},
		{"past the end", 5, 10, false, []storage.ContextDocument{}},
		{"with properties", 0, 10, true, []storage.ContextDocument{
			{SessionID: "a", Properties: []storage.ContextProperty{prop("p", "1"), prop("q", "2")}},
			{SessionID: "b", Properties: []storage.ContextProperty{prop("p", "1")}},
		}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			got, err := b.ListDocuments(ctx, a, "ns", later, p.offset, p.limit, p.props)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(p.want, got); diff != "" {
				t.Errorf("ListDocuments(%d, %d) (-want +got):\n%s", p.offset, p.limit, diff)
			}
		})
	}
	// Before c expired, it is listed with its property.
	docs, err := b.ListDocuments(ctx, a, "ns", t0, 0, 10, true)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.SessionID)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, ids); diff != "" {
		t.Errorf("ListDocuments before expiry (-want +got):\n%s", diff)
	}
}

func testContextTTL(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	a := ckey.AccountID
	key := func(ns, sid string) storage.ContextKey {
		return storage.ContextKey{AccountID: a, Namespace: ns, SessionID: sid}
	}
	ns := func(name string, ttl time.Duration) {
		t.Helper()
		if err := b.PutNamespace(ctx, a, storage.ContextNamespace{Name: name, CreatedAt: t0, TTL: ttl, HasTTL: true}, storage.ContextQuota{}); err != nil {
			t.Fatal(err)
		}
	}
	sess := func(k storage.ContextKey, ttl time.Duration) {
		t.Helper()
		if err := b.PutSession(ctx, k, storage.ContextSession{ID: k.SessionID, CreatedAt: t0, TTL: ttl, HasTTL: true}, storage.ContextQuota{}); err != nil {
			t.Fatal(err)
		}
	}
	ns("n10", 10*time.Second)
	ns("n0", 0)
	sess(key("n10", "s5"), 5*time.Second)
	sess(key("n10", "s0"), 0)
	sess(key("n0", "s7"), 7*time.Second)

	tests := []struct {
		name   string
		key    storage.ContextKey
		ttl    time.Duration
		hasTTL bool
		want   time.Time // zero: never
	}{
		{"no TTL anywhere: never", key("free", "s"), 0, false, time.Time{}},
		{"namespace TTL", key("n10", "plain"), 0, false, t0.Add(10 * time.Second)},
		{"namespace TTL 0: never", key("n0", "plain"), 0, false, time.Time{}},
		{"session TTL wins (shorter)", key("n10", "s5"), 0, false, t0.Add(5 * time.Second)},
		{"session TTL 0 wins: never", key("n10", "s0"), 0, false, time.Time{}},
		{"session TTL wins over namespace 0", key("n0", "s7"), 0, false, t0.Add(7 * time.Second)},
		{"write TTL wins", key("n10", "s5"), 30 * time.Second, true, t0.Add(30 * time.Second)},
		{"write TTL 0: never", key("n10", "s5"), 0, true, time.Time{}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("p%d", i)
			merge(t, b, storage.ContextMerge{Key: tt.key, Properties: []storage.ContextProperty{prop(name, "1")}, TTL: tt.ttl, HasTTL: tt.hasTTL, Now: t0})
			got := expiries(t, b, tt.key, t0)[name]
			if !got.Equal(tt.want) {
				t.Errorf("ExpiresAt = %v, want %v", got, tt.want)
			}
			if !tt.want.IsZero() {
				if v := values(t, b, tt.key, []string{name}, tt.want.Add(-time.Millisecond)); v[name] != "1" {
					t.Errorf("1 ms before expiry: %v, want the property", v)
				}
				if v := values(t, b, tt.key, []string{name}, tt.want); len(v) != 0 {
					t.Errorf("at expiry: %v, want nothing (expired data is never returned)", v)
				}
				if v := values(t, b, tt.key, nil, tt.want); len(v) != 0 && v[name] != "" {
					t.Errorf("at expiry, whole document: %v, want no %s", v, name)
				}
			}
		})
	}

	t.Run("expiry counted from each write", func(t *testing.T) {
		k := key("n10", "rewrite")
		merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("x", "1"), prop("y", "1")}, Now: t0})
		merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("x", "2")}, Now: t0.Add(8 * time.Second)})
		got := values(t, b, k, nil, t0.Add(12*time.Second))
		if diff := cmp.Diff(map[string]string{"x": "2"}, got); diff != "" {
			t.Errorf("at t0+12s (-want +got):\n%s", diff)
		}
	})

	t.Run("purge", func(t *testing.T) {
		k := key("purge", "s")
		merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("gone", "1"), prop("gone2", "1")}, TTL: time.Second, HasTTL: true, Now: t0})
		merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("kept", "1")}, Now: t0})
		at := t0.Add(time.Hour)
		total := 0
		for {
			n, err := b.PurgeContext(ctx, at, 3)
			if err != nil {
				t.Fatalf("PurgeContext: %v", err)
			}
			if n > 3 {
				t.Fatalf("PurgeContext(limit 3) deleted %d", n)
			}
			total += n
			if n == 0 {
				break
			}
		}
		if total == 0 {
			t.Errorf("PurgeContext deleted nothing")
		}
		// Purged rows are gone even for a reader whose clock lags.
		if diff := cmp.Diff(map[string]string{"kept": "1"}, values(t, b, k, nil, t0)); diff != "" {
			t.Errorf("after purge (-want +got):\n%s", diff)
		}
		// A session emptied by the purge and without a TTL is not listed.
		merge(t, b, storage.ContextMerge{Key: key("purge", "empty"), Properties: []storage.ContextProperty{prop("p", "1")}, TTL: time.Second, HasTTL: true, Now: t0})
		if _, err := b.PurgeContext(ctx, at, 100); err != nil {
			t.Fatal(err)
		}
		list, err := b.ListSessions(ctx, a, "purge", t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != "s" {
			t.Errorf("ListSessions after purge = %+v, want [s]", list)
		}
	})
}

func testContextSize(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	// {"a":"xxx…"} is 1 + len(`"a":`) + len(value) + 1 characters.
	const limit = 100
	str := func(n int) string { return `"` + strings.Repeat("é", n-2) + `"` } // n characters, more bytes
	exact := str(limit - 6)

	tests := []struct {
		name    string
		key     storage.ContextKey
		before  []storage.ContextProperty
		write   []storage.ContextProperty
		wantErr error
	}{
		{"exactly at the limit, in characters", storage.ContextKey{AccountID: "500", Namespace: "size", SessionID: "exact"},
			nil, []storage.ContextProperty{prop("a", exact)}, nil},
		{"one over", storage.ContextKey{AccountID: "500", Namespace: "size", SessionID: "over"},
			nil, []storage.ContextProperty{prop("a", str(limit-5))}, storage.ErrTooLarge},
		{"over with what is stored", storage.ContextKey{AccountID: "500", Namespace: "size", SessionID: "merged"},
			[]storage.ContextProperty{prop("a", str(50))}, []storage.ContextProperty{prop("b", str(50))}, storage.ErrTooLarge},
		{"replacing a property counts once", storage.ContextKey{AccountID: "500", Namespace: "size", SessionID: "replace"},
			[]storage.ContextProperty{prop("a", str(80))}, []storage.ContextProperty{prop("a", exact)}, nil},
		{"replacing several properties at once counts them once", storage.ContextKey{AccountID: "500", Namespace: "size", SessionID: "replace-many"},
			[]storage.ContextProperty{prop("a", str(40)), prop("b", str(40))}, []storage.ContextProperty{prop("a", str(40)), prop("b", str(40))}, nil},
		{"duplicates in one write count once", storage.ContextKey{AccountID: "500", Namespace: "size", SessionID: "dup"},
			nil, []storage.ContextProperty{prop("a", exact), prop("a", exact)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				merge(t, b, storage.ContextMerge{Key: tt.key, Properties: tt.before, Now: t0, MaxChars: limit})
			}
			want := values(t, b, tt.key, nil, t0)
			err := b.MergeProperties(ctx, storage.ContextMerge{Key: tt.key, Properties: tt.write, Now: t0, MaxChars: limit})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("MergeProperties err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil {
				for _, p := range tt.write {
					want[p.Name] = string(p.Value)
				}
			}
			if diff := cmp.Diff(want, values(t, b, tt.key, nil, t0)); diff != "" {
				t.Errorf("document after write (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("nothing of a refused write is saved", func(t *testing.T) {
		k := storage.ContextKey{AccountID: "500", Namespace: "fresh", SessionID: "s"}
		err := b.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("a", `1`), prop("b", str(200))}, Now: t0, MaxChars: limit})
		wantErr(t, "MergeProperties(too large)", err, storage.ErrTooLarge)
		if _, err := b.GetNamespace(ctx, "500", "fresh"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetNamespace after refused first write: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("deleted and expired properties do not count", func(t *testing.T) {
		k := storage.ContextKey{AccountID: "500", Namespace: "size", SessionID: "freed"}
		merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("a", str(40)), prop("b", str(40))}, Now: t0, MaxChars: limit})
		if err := b.DeleteProperties(ctx, k, []string{"a"}); err != nil {
			t.Fatal(err)
		}
		merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("c", str(40))}, Now: t0, MaxChars: limit, TTL: time.Second, HasTTL: true})
		// b and c fill the document; once c expired there is room again.
		later := t0.Add(time.Minute)
		merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("d", str(40))}, Now: later, MaxChars: limit})
		if diff := cmp.Diff(map[string]string{"b": str(40), "d": str(40)}, values(t, b, k, nil, later)); diff != "" {
			t.Errorf("document (-want +got):\n%s", diff)
		}
		// And purged ones neither.
		if _, err := b.PurgeContext(ctx, later.Add(time.Hour), 100); err != nil {
			t.Fatal(err)
		}
		if err := b.DeleteProperties(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
		merge(t, b, storage.ContextMerge{Key: k, Properties: []storage.ContextProperty{prop("e", exact)}, Now: later, MaxChars: limit})
	})
}

func testContextConcurrency(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	const writers = 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			errs <- b.MergeProperties(ctx, storage.ContextMerge{
				Key:        ckey,
				Properties: []storage.ContextProperty{prop(fmt.Sprintf("k%02d", i), fmt.Sprint(i)), prop("shared", fmt.Sprint(i))},
				Now:        t0, MaxChars: 800_000,
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent MergeProperties: %v", err)
		}
	}
	got := values(t, b, ckey, nil, t0)
	if len(got) != writers+1 {
		t.Errorf("after %d concurrent merges: %d properties, want %d", writers, len(got), writers+1)
	}
	for i := range writers {
		if v := got[fmt.Sprintf("k%02d", i)]; v != fmt.Sprint(i) {
			t.Errorf("k%02d = %q, want %d", i, v, i)
		}
	}
}

func testContextAccountDelete(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	mustCreate(t, b, newAccount("501", false))
	otherKey := storage.ContextKey{AccountID: "501", Namespace: "ns", SessionID: "s1"}
	if err := b.PutSession(ctx, ckey, storage.ContextSession{ID: ckey.SessionID, CreatedAt: t0, TTL: time.Hour, HasTTL: true}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("p", "1")}, Now: t0})
	merge(t, b, storage.ContextMerge{Key: otherKey, Properties: []storage.ContextProperty{prop("p", "2")}, Now: t0})
	if err := b.DeleteAccount(ctx, ckey.AccountID); err != nil {
		t.Fatal(err)
	}
	if got := values(t, b, ckey, nil, t0); len(got) != 0 {
		t.Errorf("properties of a deleted account = %v", got)
	}
	if list, err := b.ListNamespaces(ctx, ckey.AccountID); err != nil || len(list) != 0 {
		t.Errorf("namespaces of a deleted account = %v, %v", list, err)
	}
	if list, err := b.ListSessions(ctx, ckey.AccountID, "ns", t0); err != nil || len(list) != 0 {
		t.Errorf("sessions of a deleted account = %v, %v", list, err)
	}
	if got := values(t, b, otherKey, nil, t0); got["p"] != "2" {
		t.Errorf("other account's data = %v, want p=2", got)
	}
}

// rowUsage is what one row with these names and value counts in
// storage.ContextUsage.Bytes.
func rowUsage(parts ...string) int64 {
	n := int64(storage.ContextRowBytes)
	for _, p := range parts {
		n += int64(len(p))
	}
	return n
}

func wantUsage(t *testing.T, b Backend, what, accountID string, want storage.ContextUsage) {
	t.Helper()
	got, err := b.ContextUsage(context.Background(), accountID)
	if err != nil {
		t.Fatalf("%s: ContextUsage: %v", what, err)
	}
	if got != want {
		t.Errorf("%s: ContextUsage = %+v, want %+v", what, got, want)
	}
}

// testContextUsage checks that every path that adds or removes a row
// keeps the account's usage exact: the quota is only as good as it.
func testContextUsage(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	a := ckey.AccountID
	wantUsage(t, b, "empty", a, storage.ContextUsage{})

	ns := rowUsage("ns")
	sess := func(sid string) int64 { return rowUsage("ns", sid) }
	p := func(sid, name, value string) int64 { return rowUsage("ns", sid, name, value) }

	if err := b.PutNamespace(ctx, a, storage.ContextNamespace{Name: "ns", CreatedAt: t0}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, b, "namespace", a, storage.ContextUsage{Bytes: ns})
	if err := b.PutNamespace(ctx, a, storage.ContextNamespace{Name: "ns", CreatedAt: t0, TTL: time.Hour, HasTTL: true}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, b, "namespace TTL set: no new row", a, storage.ContextUsage{Bytes: ns})
	if err := b.PutSession(ctx, ckey, storage.ContextSession{ID: "s1", CreatedAt: t0, TTL: time.Minute, HasTTL: true}, storage.ContextQuota{}); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, b, "session", a, storage.ContextUsage{Bytes: ns + sess("s1")})
	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("a", `1`), prop("bé", `"x"`)}, Now: t0})
	wantUsage(t, b, "two properties", a, storage.ContextUsage{Properties: 2, Bytes: ns + sess("s1") + p("s1", "a", `1`) + p("s1", "bé", `"x"`)})
	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("a", `[1,2,3]`)}, Now: t0})
	wantUsage(t, b, "replaced value", a, storage.ContextUsage{Properties: 2, Bytes: ns + sess("s1") + p("s1", "a", `[1,2,3]`) + p("s1", "bé", `"x"`)})
	s2 := storage.ContextKey{AccountID: a, Namespace: "ns", SessionID: "s2"}
	merge(t, b, storage.ContextMerge{Key: s2, Properties: []storage.ContextProperty{prop("c", `true`), prop("d", `null`)}, Now: t0, TTL: time.Second, HasTTL: true})
	base := ns + sess("s1") + p("s1", "a", `[1,2,3]`) + p("s1", "bé", `"x"`)
	wantUsage(t, b, "another session", a, storage.ContextUsage{Properties: 4, Bytes: base + sess("s2") + p("s2", "c", `true`) + p("s2", "d", `null`)})
	if _, err := b.PurgeContext(ctx, t0.Add(2*time.Second), 100); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, b, "purged: expired properties and their empty session release it", a, storage.ContextUsage{Properties: 2, Bytes: base})
	if err := b.DeleteProperties(ctx, ckey, []string{"a", "zz"}); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, b, "one property deleted", a, storage.ContextUsage{Properties: 1, Bytes: ns + sess("s1") + p("s1", "bé", `"x"`)})
	if err := b.DeleteProperties(ctx, ckey, nil); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, b, "all deleted, the session stays", a, storage.ContextUsage{Bytes: ns + sess("s1")})
	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("e", `5`)}, Now: t0})
	if err := b.DeleteSession(ctx, ckey); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, b, "session deleted", a, storage.ContextUsage{Bytes: ns})
	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("e", `5`)}, Now: t0})
	if err := b.DeleteNamespace(ctx, a, "ns"); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, b, "namespace deleted", a, storage.ContextUsage{})
	merge(t, b, storage.ContextMerge{Key: ckey, Properties: []storage.ContextProperty{prop("e", `5`)}, Now: t0})
	if err := b.DeleteAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, b, "account deleted", a, storage.ContextUsage{})
}

// testContextQuota checks that a write over the account's quota fails
// with ErrQuotaExceeded and saves nothing, that deletes and the purge
// release quota, and that expired properties do not hold it.
func testContextQuota(t *testing.T, b Backend) {
	ctx := context.Background()
	contextAccount(t, b)
	mustCreate(t, b, newAccount("501", false))
	a := ckey.AccountID
	q := storage.ContextQuota{MaxProperties: 3}
	write := func(k storage.ContextKey, at time.Time, ttl time.Duration, props ...storage.ContextProperty) error {
		return b.MergeProperties(ctx, storage.ContextMerge{Key: k, Properties: props, Now: at, TTL: ttl, HasTTL: ttl > 0, Quota: q})
	}
	if err := write(ckey, t0, 0, prop("a", "1"), prop("b", "2")); err != nil {
		t.Fatal(err)
	}
	other := storage.ContextKey{AccountID: a, Namespace: "other", SessionID: "x"}
	err := write(other, t0, 0, prop("c", "3"), prop("d", "4"))
	wantErr(t, "fourth property", err, storage.ErrQuotaExceeded)
	if _, err := b.GetNamespace(ctx, a, "other"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("refused write created its namespace: %v", err)
	}
	wantUsage(t, b, "after the refused write", a, storage.ContextUsage{Properties: 2,
		Bytes: rowUsage("ns") + rowUsage("ns", "s1") + rowUsage("ns", "s1", "a", "1") + rowUsage("ns", "s1", "b", "2")})
	if err := write(other, t0, 0, prop("c", "3")); err != nil {
		t.Fatalf("third property: %v", err)
	}
	if err := write(ckey, t0, 0, prop("a", `"a longer value"`), prop("b", "0")); err != nil {
		t.Errorf("replacing properties at the quota: %v", err)
	}
	wantErr(t, "at the quota", write(ckey, t0, 0, prop("z", "1")), storage.ErrQuotaExceeded)
	if got := values(t, b, ckey, nil, t0); len(got) != 2 {
		t.Errorf("properties after the refused write = %v", got)
	}
	if err := write(storage.ContextKey{AccountID: "501", Namespace: "ns", SessionID: "s"}, t0, 0, prop("z", "1")); err != nil {
		t.Errorf("another account is not bound by this one's usage: %v", err)
	}
	if err := b.DeleteProperties(ctx, other, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if err := write(ckey, t0, 0, prop("c", "3")); err != nil {
		t.Errorf("after a delete released one: %v", err)
	}

	// Expired properties hold no quota, purged or not.
	if err := b.DeleteProperties(ctx, ckey, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if err := write(other, t0, time.Second, prop("t", "1")); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * time.Second)
	if err := write(other, later, 0, prop("u", "1")); err != nil {
		t.Errorf("a write in place of an expired, unpurged property: %v", err)
	}
	wantUsage(t, b, "the write purged the expired one", a, storage.ContextUsage{Properties: 3,
		Bytes: rowUsage("ns") + rowUsage("ns", "s1") + rowUsage("ns", "s1", "a", `"a longer value"`) + rowUsage("ns", "s1", "b", "0") +
			rowUsage("other") + rowUsage("other", "x") + rowUsage("other", "x", "u", "1")})

	// A byte quota binds namespaces and sessions too.
	qb := storage.ContextQuota{MaxBytes: 1000}
	var i int
	for err = nil; err == nil && i < 100; i++ {
		err = b.PutNamespace(ctx, "501", storage.ContextNamespace{Name: fmt.Sprintf("n%02d", i), CreatedAt: t0}, qb)
	}
	wantErr(t, "namespaces over the byte quota", err, storage.ErrQuotaExceeded)
	if u, _ := b.ContextUsage(ctx, "501"); u.Bytes > qb.MaxBytes {
		t.Errorf("usage %d bytes, over the quota of %d", u.Bytes, qb.MaxBytes)
	}
	err = b.PutSession(ctx, storage.ContextKey{AccountID: "501", Namespace: "n00", SessionID: "s"}, storage.ContextSession{ID: "s", CreatedAt: t0, TTL: time.Hour, HasTTL: true}, qb)
	wantErr(t, "session over the byte quota", err, storage.ErrQuotaExceeded)
	if err := b.PutNamespace(ctx, "501", storage.ContextNamespace{Name: "n00", CreatedAt: t0, TTL: time.Hour, HasTTL: true}, qb); err != nil {
		t.Errorf("setting the TTL of an existing namespace over the quota: %v", err)
	}
	big := storage.ContextQuota{MaxBytes: 200}
	err = b.MergeProperties(ctx, storage.ContextMerge{Key: storage.ContextKey{AccountID: a, Namespace: "ns", SessionID: "s1"}, Properties: []storage.ContextProperty{prop("a", `"`+strings.Repeat("y", 300)+`"`)}, Now: later, Quota: big})
	wantErr(t, "a value over the byte quota", err, storage.ErrQuotaExceeded)
}
