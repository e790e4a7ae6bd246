package ccs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

const acct = "42"

// newService returns a service over a fresh SQLite store with account 42.
func newService(t *testing.T) (*ccs.Service, *clock, *sqlite.Store) {
	t.Helper()
	return newServiceConfig(t, ccs.Config{PurgeBatch: 2})
}

// newServiceConfig is newService with cfg (its clock is set).
func newServiceConfig(t *testing.T, cfg ccs.Config) (*ccs.Service, *clock, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ccs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.CreateAccount(context.Background(), storage.NewAccount{
		Account: storage.Account{ID: acct, Name: "a", AuthVersion: storage.AuthV2, CreatedAt: t0},
		APIKey:  storage.APIKey{AccountID: acct, Hash: []byte("h"), Sealed: []byte("s"), CreatedAt: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: t0}
	cfg.Now = c.Now
	return ccs.New(st, cfg), c, st
}

func kind(err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return err
}

func TestNames(t *testing.T) {
	tests := []struct {
		name    string
		check   func() error
		wantErr bool
	}{
		{"namespace ok", func() error { return ccs.CheckNamespace("f", "Abc_09") }, false},
		{"namespace 64", func() error { return ccs.CheckNamespace("f", strings.Repeat("a", 64)) }, false},
		{"namespace 65", func() error { return ccs.CheckNamespace("f", strings.Repeat("a", 65)) }, true},
		{"namespace empty", func() error { return ccs.CheckNamespace("f", "") }, true},
		{"namespace hyphen (SPEC §5)", func() error { return ccs.CheckNamespace("f", "faas-demo-namespace") }, false},
		{"writable hyphen", func() error { return ccs.CheckWritable("f", "a-b") }, false},
		{"reserved", func() error { return ccs.CheckWritable("f", "consumer") }, true},
		{"reserved in another letter case", func() error { return ccs.CheckWritable("f", "Consumer") }, true},
		{"reserved in upper case", func() error { return ccs.CheckWritable("f", "SDE") }, true},
		{"reserved mixed case", func() error { return ccs.CheckWritable("f", "oPeRaTiOnAl") }, true},
		{"reserved prefix is not reserved", func() error { return ccs.CheckWritable("f", "consumers") }, false},
		{"namespace dot", func() error { return ccs.CheckNamespace("f", "a.b") }, true},
		{"namespace non-ASCII", func() error { return ccs.CheckNamespace("f", "é") }, true},
		{"name with space and punctuation", func() error { return ccs.CheckName("f", "a b/c.d:e") }, false},
		{"name 256 non-ASCII characters", func() error { return ccs.CheckName("f", strings.Repeat("é", 256)) }, false},
		{"name 257 characters", func() error { return ccs.CheckName("f", strings.Repeat("é", 257)) }, true},
		{"name empty", func() error { return ccs.CheckName("f", "") }, true},
		{"name newline", func() error { return ccs.CheckName("f", "a\nb") }, true},
		{"name DEL", func() error { return ccs.CheckName("f", "a\x7fb") }, true},
		{"name invalid UTF-8", func() error { return ccs.CheckName("f", "a\xffb") }, true},
		{"name non-printable rune", func() error { return ccs.CheckName("f", "a\u200bb") }, true},
		{"ttl 0", func() error { return ccs.CheckTTL("f", 0) }, false},
		{"ttl max", func() error { return ccs.CheckTTL("f", ccs.MaxTTLSeconds) }, false},
		{"ttl over max", func() error { return ccs.CheckTTL("f", ccs.MaxTTLSeconds+1) }, true},
		{"ttl negative", func() error { return ccs.CheckTTL("f", -1) }, true},
		{"page 0, perPage 1", func() error { return ccs.CheckPage(0, 1) }, false},
		{"perPage 1000", func() error { return ccs.CheckPage(3, 1000) }, false},
		{"perPage 1001", func() error { return ccs.CheckPage(0, 1001) }, true},
		{"perPage 0", func() error { return ccs.CheckPage(0, 0) }, true},
		{"page -1", func() error { return ccs.CheckPage(-1, 10) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check()
			if tt.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, fault.ErrInvalid) {
				t.Errorf("err = %v, want a fault.ErrInvalid", err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "f: ") && !strings.HasPrefix(err.Error(), "page") && !strings.HasPrefix(err.Error(), "perPage") {
				t.Errorf("err = %q, want it to name the field", err)
			}
		})
	}
}

func TestAppendObjectMatchesEncodingJSON(t *testing.T) {
	names := []string{"plain", `quote"back\slash`, "<html>&amp;", "tab\tnew\nline\rcr", "\x01ctl", "é ü 日本", "\u2028\u2029", "bad\xffutf8", ""}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			props := []storage.ContextProperty{{Name: n, Value: []byte(`1`)}}
			got := ccs.AppendObject(nil, props, "ns.")
			want, _ := json.Marshal(map[string]int{"ns." + n: 1})
			if string(got) != string(want) {
				t.Errorf("AppendObject = %s, want %s", got, want)
			}
		})
	}
	if got := string(ccs.AppendObject(nil, nil, "")); got != "{}" {
		t.Errorf("empty: %s", got)
	}
}

func TestServiceTTL(t *testing.T) {
	ctx := context.Background()
	s, c, _ := newService(t)
	sixty := int64(60)
	if err := s.PutNamespace(ctx, acct, "ns", &sixty); err != nil {
		t.Fatal(err)
	}
	k := ccs.Key{AccountID: acct, Namespace: "ns"}
	if err := s.Merge(ctx, k, []byte(`{"v1": "a"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Upsert(ctx, k, []byte(`{"v2": "b"}`), nil); err != nil {
		t.Fatal(err)
	}
	ten := int64(10)
	if err := s.Upsert(ctx, k, []byte(`{"short": 1}`), &ten); err != nil {
		t.Fatal(err)
	}
	d, err := s.Get(ctx, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{
		"short": t0.Add(10 * time.Second),
		"v1":    t0.Add(time.Minute),  // the namespace's TTL
		"v2":    t0.AddDate(0, 13, 0), // v2 default: 13 months
	}
	got := map[string]time.Time{}
	for _, p := range d.Properties {
		got[p.Name] = p.ExpiresAt
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expiries (-want +got):\n%s", diff)
	}
	if !d.Expires.Equal(t0.AddDate(0, 13, 0)) {
		t.Errorf("document Expires = %v, want the last property's", d.Expires)
	}

	c.Advance(time.Minute)
	if _, err := s.Property(ctx, k, "v1"); !errors.Is(kind(err), fault.ErrNotFound) {
		t.Errorf("Property(v1) after its TTL: err = %v, want not found", err)
	}
	v, err := s.Property(ctx, k, "v2")
	if err != nil || string(v) != `"b"` {
		t.Errorf("Property(v2) = %s, %v", v, err)
	}

	// Purge removes the expired rows in batches of 2 (PurgeBatch).
	n, err := s.Purge(ctx)
	if err != nil || n != 2 {
		t.Errorf("Purge = %d, %v; want 2", n, err)
	}
	if n, err := s.Purge(ctx); err != nil || n != 0 {
		t.Errorf("second Purge = %d, %v; want 0", n, err)
	}
}

// TestServiceRetention checks the retention cap on every write, and that
// CapRetention brings the properties stored before it under it, the
// cached copies of their documents included.
func TestServiceRetention(t *testing.T) {
	ctx := context.Background()
	s, c, st := newServiceConfig(t, ccs.Config{MaxRetention: storage.Retention{D: time.Hour}})
	k := ccs.Key{AccountID: acct, Namespace: "ns", SessionID: "s"}
	zero, day := int64(0), int64(86400)
	if err := s.PutSession(ctx, k, &zero); err != nil {
		t.Fatal(err)
	}
	if err := s.Merge(ctx, k, []byte(`{"v1":1}`)); err != nil { // the session's TTL 0: never
		t.Fatal(err)
	}
	if err := s.Upsert(ctx, k, []byte(`{"forever":1}`), &zero); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	if err := s.Upsert(ctx, k, []byte(`{"day":1}`), &day); err != nil {
		t.Fatal(err)
	}
	d, err := s.Get(ctx, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, p := range d.Properties {
		got[p.Name] = p.ExpiresAt
	}
	want := map[string]time.Time{"v1": t0.Add(time.Hour), "forever": t0.Add(time.Hour), "day": t0.Add(time.Hour + time.Minute)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expiries (-want +got):\n%s", diff)
	}
	if !d.Expires.Equal(t0.Add(time.Hour + time.Minute)) {
		t.Errorf("document Expires = %v, want the last property's", d.Expires)
	}
	// The session's TTL setting is listed as set, not as the cap.
	if list, err := s.Sessions(ctx, acct, "ns"); err != nil || len(list) != 1 || list[0].TTLSeconds != 0 {
		t.Errorf("Sessions = %+v, %v; want s with TTL 0", list, err)
	}

	// A property stored before the cap took effect (written without
	// it), read once so that the document cache holds it.
	old := ccs.Key{AccountID: acct, Namespace: "ns", SessionID: "old"}
	if err := st.MergeProperties(ctx, storage.ContextMerge{Key: storage.ContextKey{AccountID: acct, Namespace: "ns", SessionID: "old"},
		Properties: []storage.ContextProperty{{Name: "p", Value: []byte("1")}}, Now: t0}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Get(ctx, old, nil); err != nil || !d.Expires.IsZero() || len(d.Properties) != 1 {
		t.Fatalf("before the cap: %+v, %v; want p, never expiring", d, err)
	}
	until := c.Now().Add(time.Hour)
	if n, err := s.CapRetention(ctx, until); err != nil || n != 1 {
		t.Errorf("CapRetention = %d, %v; want 1 (only p)", n, err)
	}
	if d, err := s.Get(ctx, old, nil); err != nil || !d.Expires.Equal(until) {
		t.Errorf("after the cap: Expires = %v, %v; want %v", d.Expires, err, until)
	}
	c.Advance(time.Hour)
	if _, err := s.Property(ctx, old, "p"); !errors.Is(kind(err), fault.ErrNotFound) {
		t.Errorf("Property(p) at the cap: err = %v, want not found", err)
	}
}

func TestServiceRunStopsWithContext(t *testing.T) {
	s, _, _ := newService(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	cancel()
	<-done // hangs (and the test times out) if Run ignores ctx
}

func TestServiceErrors(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	k := ccs.Key{AccountID: acct, Namespace: "ns", SessionID: "s"}
	big := []byte(`{"x":"` + strings.Repeat("a", ccs.MaxDocumentChars) + `"}`)
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"merge too large", func() error { return s.Merge(ctx, k, big) }, fault.ErrTooLarge},
		{"upsert too large", func() error { return s.Upsert(ctx, k, big, nil) }, fault.ErrTooLarge},
		{"merge into reserved", func() error { return s.Merge(ctx, ccs.Key{AccountID: acct, Namespace: "operational"}, []byte(`{}`)) }, fault.ErrInvalid},
		{"session in reserved", func() error {
			return s.PutSession(ctx, ccs.Key{AccountID: acct, Namespace: "conversation", SessionID: "s"}, nil)
		}, fault.ErrInvalid},
		{"delete reserved", func() error { return s.DeleteNamespace(ctx, acct, "consumer") }, fault.ErrInvalid},
		{"bad property name in object", func() error { return s.Merge(ctx, k, []byte(`{"":1}`)) }, fault.ErrInvalid},
		{"bad JSON value", func() error { return s.Put(ctx, k, "p", []byte(`{`)) }, fault.ErrInvalid},
		{"too many selected names", func() error { _, err := s.Get(ctx, k, make([]string, ccs.MaxSelect+1)); return err }, fault.ErrInvalid},
		{"absent property", func() error { _, err := s.Property(ctx, k, "nope"); return err }, fault.ErrNotFound},
		{"page past any end is empty, not an error", func() error {
			docs, err := s.Documents(ctx, acct, "ns", 1<<40, 1000, false)
			if err == nil && len(docs) != 0 {
				return errors.New("documents returned")
			}
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); kind(err) != tt.want {
				t.Errorf("err = %v, want kind %v", err, tt.want)
			}
		})
	}
	ok, err := s.NamespaceExists(ctx, acct, "ns")
	if err != nil || ok {
		t.Errorf("NamespaceExists after refused writes = %v, %v; want false", ok, err)
	}
}

func TestServiceConcurrentMerges(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	k := ccs.Key{AccountID: acct, Namespace: "ns", SessionID: "s"}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			b, _ := json.Marshal(map[string]int{"key" + string(rune('A'+i)): i})
			if err := s.Merge(ctx, k, b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	d, err := s.Get(ctx, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Properties) != 50 {
		t.Errorf("%d properties after 50 concurrent merges, want 50", len(d.Properties))
	}
}

// TestServiceRefusesUnstorableJSON pins findings 10 and 15 of the security
// review at the service: a number that is not a finite float64, invalid
// UTF-8 and lone surrogate escapes are refused by every write, and the
// write saves nothing.
func TestServiceRefusesUnstorableJSON(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	k := ccs.Key{AccountID: acct, Namespace: "ns", SessionID: "s"}
	writes := map[string]func(body string) error{
		"merge":  func(body string) error { return s.Merge(ctx, k, []byte(`{"p":`+body+`}`)) },
		"upsert": func(body string) error { return s.Upsert(ctx, k, []byte(`{"p":`+body+`}`), nil) },
		"put":    func(body string) error { return s.Put(ctx, k, "p", []byte(body)) },
	}
	for _, bad := range []string{
		`1e999999999`, `-1e400`, `2e308`, `[1, {"x": 1E309}]`, `1` + strings.Repeat("0", 400),
		"\"a\xffb\"", `"\ud800"`, `"\udc00\ud800"`, `"\ud800\u0041"`, `{"k\ud800":1}`,
	} {
		for name, write := range writes {
			t.Run(name+" "+bad, func(t *testing.T) {
				if err := write(bad); kind(err) != fault.ErrInvalid {
					t.Errorf("err = %v, want a fault.ErrInvalid", err)
				}
			})
		}
	}
	t.Run("invalid UTF-8 in a name", func(t *testing.T) {
		if err := s.Merge(ctx, k, []byte("{\"a\xffb\":1}")); kind(err) != fault.ErrInvalid {
			t.Errorf("err = %v, want a fault.ErrInvalid", err)
		}
	})
	if ok, err := s.NamespaceExists(ctx, acct, "ns"); err != nil || ok {
		t.Fatalf("NamespaceExists after refused writes = %v, %v; want false", ok, err)
	}
	for i, good := range []string{
		`1e308`, `-1.7976931348623157e308`, `1e-999999999`, `1` + strings.Repeat("0", 300), `123456789.5e-3`,
		`"\ud83d\ude00"`, `"\\ud800"`, `"\\\ud83d\ude00"`, `"é\u00e9"`, `{"n":[0,-0.5,1E+2]}`,
	} {
		if err := s.Put(ctx, k, fmt.Sprint("p", i), []byte(good)); err != nil {
			t.Errorf("Put(%s): %v", good, err)
		}
	}
}

// TestServiceQuota pins the per-account quota (security review finding 3)
// at the service over the real store: every write path refuses with 413
// "account storage quota exceeded" and saves nothing; deletes and expiry
// release quota.
func TestServiceQuota(t *testing.T) {
	ctx := context.Background()
	s, c, _ := newServiceConfig(t, ccs.Config{MaxProperties: 3, MaxBytes: 4096})
	k := ccs.Key{AccountID: acct, Namespace: "ns"}
	if err := s.Merge(ctx, k, []byte(`{"a":1,"b":2}`)); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error) {
		t.Helper()
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.ErrTooLarge || fe.Msg != "account storage quota exceeded" {
			t.Errorf("%s: err = %v, want 413 account storage quota exceeded", what, err)
		}
	}
	refused("merge of two more", s.Merge(ctx, k, []byte(`{"c":3,"d":4}`)))
	if err := s.Put(ctx, k, "c", []byte(`3`)); err != nil {
		t.Fatalf("third property: %v", err)
	}
	refused("put", s.Put(ctx, k, "d", []byte(`4`)))
	refused("upsert", s.Upsert(ctx, ccs.Key{AccountID: acct, Namespace: "v2", SessionID: "s"}, []byte(`{"d":4}`), nil))
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = s.PutNamespace(ctx, acct, fmt.Sprintf("n%02d", i), nil)
	}
	refused("namespaces over the byte quota", err)
	refused("session", s.PutSession(ctx, ccs.Key{AccountID: acct, Namespace: "ns", SessionID: strings.Repeat("s", 200)}, nil))
	d, err := s.Get(ctx, k, nil)
	if err != nil || len(d.Properties) != 3 {
		t.Fatalf("after refused writes: %d properties, %v; want 3", len(d.Properties), err)
	}
	if ok, _ := s.NamespaceExists(ctx, acct, "v2"); ok {
		t.Error("a refused upsert created its namespace")
	}
	u, err := s.Usage(ctx, acct)
	if err != nil || u.Properties != 3 || u.Bytes > 4096 {
		t.Errorf("Usage = %+v, %v; want 3 properties, at most 4096 bytes", u, err)
	}
	for i := 0; i < 100; i++ {
		if err := s.DeleteNamespace(ctx, acct, fmt.Sprintf("n%02d", i)); err != nil {
			t.Fatal(err)
		}
	}

	// Deletes release quota.
	if err := s.DeleteProperties(ctx, k, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	one := int64(1)
	if err := s.Upsert(ctx, k, []byte(`{"short":1}`), &one); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	// Expired properties release it too, before the purge ran.
	refused("at the quota", s.Put(ctx, k, "e", []byte(`5`)))
	c.Advance(2 * time.Second)
	if err := s.Put(ctx, k, "e", []byte(`5`)); err != nil {
		t.Errorf("in place of an expired property: %v", err)
	}
	// No bound when negative.
	free, _, _ := newServiceConfig(t, ccs.Config{MaxProperties: -1, MaxBytes: -1})
	if q := free.Quota(); q.MaxProperties != 0 || q.MaxBytes != 0 {
		t.Errorf("negative bounds: Quota = %+v, want none", q)
	}
	def, _, _ := newServiceConfig(t, ccs.Config{})
	if q := def.Quota(); q.MaxProperties != ccs.DefaultMaxProperties || q.MaxBytes != ccs.DefaultMaxBytes {
		t.Errorf("zero config: Quota = %+v, want the defaults", q)
	}
}
