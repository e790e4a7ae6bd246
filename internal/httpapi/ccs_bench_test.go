package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// BenchmarkCCS measures Context Service reads and writes through the
// whole handler stack (middleware, the v1 key or v2 token guard, service,
// SQLite), in parallel. Writes go to distinct sessions, so that they
// measure the write path rather than one growing document.
func BenchmarkCCS(b *testing.B) {
	env := servertest.Start(b)
	h := env.Server.Handler()
	a := env.CreateAccount(b, true)
	tok := env.Login(b, a)
	v1 := map[string]string{"maven-api-key": a.APIKey}
	v2 := map[string]string{"Authorization": "Bearer " + tok}
	doc := `{"intent":"billing","score":0.93,"tags":["vip","new"],"lang":"en","step":3}`
	v1Base := "/v1/account/" + a.AccountID + "/bench"

	// Seed the documents the reads ask for.
	if w := ccsRequest(h, "PATCH", v1Base+"/s/properties", v1, doc); w.Code != http.StatusNoContent {
		b.Fatalf("seed: %d %s", w.Code, w.Body)
	}
	var seq atomic.Int64
	cases := []struct {
		name   string
		hdr    map[string]string
		want   int
		method string
		target func() string
		body   func() string
	}{
		{"v1-read-session", v1, 200, "GET", func() string { return v1Base + "/s/properties" }, nil},
		{"v1-read-property", v1, 200, "GET", func() string { return v1Base + "/s/properties/intent" }, nil},
		{"v2-read-session", v2, 200, "GET", func() string { return "/v2/context/document/" + a.AccountID + "/bench/s" }, nil},
		{"v1-write-patch", v1, 204, "PATCH", func() string { return fmt.Sprintf("%s/w%d/properties", v1Base, seq.Add(1)) }, func() string { return doc }},
		{"v2-write-create", v2, 201, "POST", func() string { return "/v2/context/document/create" }, func() string {
			return fmt.Sprintf(`{"accountId":"%s","nameSpace":"bench","sessionId":"c%d","payload":%s}`, a.AccountID, seq.Add(1), doc)
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			// As many callers as the load harness's connections, so that
			// writes can be committed together as they are under load.
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var body string
					if tc.body != nil {
						body = tc.body()
					}
					r := httptest.NewRequest(tc.method, tc.target(), strings.NewReader(body))
					for k, v := range tc.hdr {
						r.Header.Set(k, v)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != tc.want {
						b.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
					}
				}
			})
		})
	}
}
