package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, v := range n {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	thousand := make([]time.Duration, 1000)
	for i := range thousand {
		thousand[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"none", nil, 0.99, 0},
		{"one", ms(7), 0.5, 7 * time.Millisecond},
		{"one at p99.9", ms(7), 0.999, 7 * time.Millisecond},
		{"median of ten", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.5, 5 * time.Millisecond},
		{"p99 of ten is the largest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{"p50 of 1000", thousand, 0.5, 500 * time.Millisecond},
		{"p99 of 1000", thousand, 0.99, 990 * time.Millisecond},
		{"p99.9 of 1000", thousand, 0.999, 999 * time.Millisecond},
		{"p100", thousand, 1, 1000 * time.Millisecond},
		{"p0 is the smallest", thousand, 0, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("percentile(%d values, %v) = %v, want %v", len(tt.sorted), tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	// 100 requests/s: request i is due at (i+1)*10ms.
	samples := []rateSample{
		{seq: 0, sent: 10 * time.Millisecond, latency: 1 * time.Millisecond, code: 200},
		{seq: 1, sent: 20 * time.Millisecond, latency: 2 * time.Millisecond, code: 204},
		{seq: 2, sent: 33 * time.Millisecond, latency: 3 * time.Millisecond, code: 500, err: "500 Internal Server Error"},
		{seq: 3, sent: 40 * time.Millisecond, latency: 5 * time.Second, code: 0, err: `Get "http://127.0.0.1:9/v1/account/1/x": timeout`},
		{seq: 4, sent: 50 * time.Millisecond, latency: 4 * time.Millisecond, code: 302},
		{seq: 5, sent: 59 * time.Millisecond, latency: 6 * time.Millisecond, code: 200}, // early: no lag
		{seq: 6, sent: 80 * time.Millisecond, latency: 7 * time.Millisecond, code: 200},
		{seq: 7, sent: 80 * time.Millisecond, latency: 8 * time.Millisecond, code: 429},
	}
	got := summarize(samples, 100)
	want := rateSummary{
		rate: 100, requests: 8, failed: 4, rps: 100,
		p50: 4 * time.Millisecond, p99: 5 * time.Second, p999: 5 * time.Second, max: 5 * time.Second,
		lagP99: 10 * time.Millisecond, lagMax: 10 * time.Millisecond,
		codes:  map[int]int{0: 1, 200: 3, 204: 1, 302: 1, 429: 1, 500: 1},
		errors: []string{"1 × 500 Internal Server Error", "1 × status 302", "1 × status 429", "1 × timeout"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(rateSummary{})); diff != "" {
		t.Errorf("summarize (-want +got):\n%s", diff)
	}
	got.kind, got.duration, got.genTicks = "login", 3*time.Second, 12
	const line = "kind=login rate=100 duration=3s requests=8 failed=4 rps=100.00 p50_ms=4.00 p99_ms=5000.00 p999_ms=5000.00 max_ms=5000.00 lag_p99_ms=10.00 lag_max_ms=10.00 gen_ticks=12 codes=0:1,200:3,204:1,302:1,429:1,500:1"
	if s := got.String(); s != line {
		t.Errorf("String() =\n%s\nwant\n%s", s, line)
	}
	if s := summarize(nil, 100); s.requests != 0 || s.failed != 0 || s.p99 != 0 || s.rps != 0 {
		t.Errorf("summarize(nil) = %+v, want zeros", s)
	}
}

// rateTargets sends what scripts/bench.d/<kind>.lua sends, from the files
// `benchtool seed` writes.
func TestRateTargets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("accounts.txt", "acc1 user1 pw1 key1 dXNlcjE6cHcx\nacc2 user2 pw+2 key2 dXNlcjI6cHcrMg==\n")
	write("tokens.txt", "acc1 tok1\n")
	accts, toks, err := loadSeed(dir)
	if err != nil {
		t.Fatal(err)
	}
	const base = "http://127.0.0.1:9"
	tests := []struct {
		kind  string
		count int
		first vegeta.Target
		last  vegeta.Target
	}{
		{kind: "login", count: 2,
			first: vegeta.Target{Method: "GET", URL: base + "/v2/authenticate/login", Header: http.Header{"Authorization": {"Basic dXNlcjE6cHcx"}}},
			last:  vegeta.Target{Method: "GET", URL: base + "/v2/authenticate/login", Header: http.Header{"Authorization": {"Basic dXNlcjI6cHcrMg=="}}}},
		{kind: "v2read", count: 1,
			first: vegeta.Target{Method: "GET", URL: base + "/v2/context/document/acc1/bench/s0", Header: http.Header{"Authorization": {"Bearer tok1"}}},
			last:  vegeta.Target{Method: "GET", URL: base + "/v2/context/document/acc1/bench/s0", Header: http.Header{"Authorization": {"Bearer tok1"}}}},
		{kind: "v1read", count: 2,
			first: vegeta.Target{Method: "GET", URL: base + "/v1/account/acc1/bench/s0/properties/p0", Header: http.Header{"Maven-Api-Key": {"key1"}}},
			last:  vegeta.Target{Method: "GET", URL: base + "/v1/account/acc2/bench/s0/properties/p0", Header: http.Header{"Maven-Api-Key": {"key2"}}}},
		// At least 1,000 writes, round the accounts; request j (from 1)
		// goes to session w<j%10>.
		{kind: "v1write", count: 1000,
			first: vegeta.Target{Method: "PATCH", URL: base + "/v1/account/acc1/bench/w1/properties",
				Body:   []byte(`{"w77_1":{"n":1,"text":"written under load"}}`),
				Header: http.Header{"Maven-Api-Key": {"key1"}, "Content-Type": {"application/json"}}},
			last: vegeta.Target{Method: "PATCH", URL: base + "/v1/account/acc2/bench/w0/properties",
				Body:   []byte(`{"w77_1000":{"n":1000,"text":"written under load"}}`),
				Header: http.Header{"Maven-Api-Key": {"key2"}, "Content-Type": {"application/json"}}}},
		{kind: "token", count: 2,
			first: vegeta.Target{Method: "POST", URL: base + "/oauth2/token",
				Body:   []byte("client_id=user1&client_secret=pw1&grant_type=client_credentials"),
				Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
			last: vegeta.Target{Method: "POST", URL: base + "/oauth2/token",
				Body:   []byte("client_id=user2&client_secret=pw%2B2&grant_type=client_credentials"),
				Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			got, err := rateTargets(tt.kind, base, accts, toks, 77)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.count {
				t.Fatalf("%d targets, want %d", len(got), tt.count)
			}
			if diff := cmp.Diff(tt.first, got[0], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("first target (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.last, got[len(got)-1], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("last target (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := rateTargets("hello", base, accts, toks, 1); err == nil {
		t.Error("rateTargets(hello): no error")
	}
	write("tokens.txt", "acc1 tok1 extra\n")
	if _, _, err := loadSeed(dir); err == nil {
		t.Error("loadSeed with a malformed tokens.txt: no error")
	}
}

// attackAt sends the targets round robin at the rate asked, and what it
// returns counts a non-2xx answer as failed.
func TestAttackAt(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	targets := []vegeta.Target{{Method: "GET", URL: srv.URL + "/ok"}, {Method: "GET", URL: srv.URL + "/fail"}}
	// 100/s for 300 ms: requests due at 10, 20, ... 300 ms.
	samples := attackAt(targets, 100, 300*time.Millisecond, 5*time.Second, 100, 4)
	s := summarize(samples, 100)
	if s.requests < 20 || s.requests > 31 {
		t.Errorf("%d requests at 100/s in 300 ms, want about 30", s.requests)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits["/ok"]+hits["/fail"] != s.requests || hits["/ok"]-hits["/fail"] > 1 || hits["/fail"]-hits["/ok"] > 1 {
		t.Errorf("server saw %v for %d requests, want them alternating", hits, s.requests)
	}
	if s.failed != hits["/fail"] || s.codes[503] != hits["/fail"] || s.codes[200] != hits["/ok"] {
		t.Errorf("failed=%d codes=%v, want the %d answers 503 failed", s.failed, s.codes, hits["/fail"])
	}
}
