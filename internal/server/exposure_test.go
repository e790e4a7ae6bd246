package server

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/config"
)

// Finding 11: a warning at start when the operator API answers on a
// non-loopback address over plain HTTP.
func TestWarnOperatorExposure(t *testing.T) {
	listen := func(addr string) net.Listener {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	loop, all := listen("127.0.0.1:0"), listen("0.0.0.0:0")
	for _, tc := range []struct {
		name        string
		cfg         config.Serve
		ln, adminLn net.Listener
		warn        bool
	}{
		{"loopback", config.Serve{}, loop, nil, false},
		{"all interfaces", config.Serve{}, all, nil, true},
		{"admin on loopback", config.Serve{}, all, loop, false},
		{"admin on all interfaces", config.Serve{}, loop, all, true},
		{"TLS", config.Serve{TLSCert: "c", TLSKey: "k"}, all, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			s := &Server{cfg: tc.cfg, log: slog.New(slog.NewJSONHandler(&b, nil))}
			s.warnOperatorExposure(tc.ln, tc.adminLn)
			if got := strings.Contains(b.String(), "operator API is reachable over plain HTTP"); got != tc.warn {
				t.Fatalf("warned = %v, want %v: %s", got, tc.warn, b.String())
			}
		})
	}
}
