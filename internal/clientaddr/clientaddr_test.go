package clientaddr

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestAddr(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 127.0.0.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	r := New(trusted)
	cases := []struct {
		name, remote string
		hdr          map[string]string
		want         string
	}{
		{"untrusted peer ignores XFF", "192.0.2.7:5555", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "192.0.2.7"},
		{"trusted peer names client", "10.1.1.1:5555", map[string]string{"X-Forwarded-For": "198.51.100.9"}, "198.51.100.9"},
		{"spoofed left hop ignored", "10.1.1.1:5555", map[string]string{"X-Forwarded-For": "6.6.6.6, 198.51.100.9, 10.2.2.2"}, "198.51.100.9"},
		{"no header: peer", "10.1.1.1:5555", nil, "10.1.1.1"},
		{"Forwarded", "127.0.0.1:5555", map[string]string{"Forwarded": `for="[2001:db8::1]:443";proto=https`}, "2001:db8::1"},
		{"garbage hop stops", "10.1.1.1:5555", map[string]string{"X-Forwarded-For": "198.51.100.9, junk"}, "10.1.1.1"},
		{"v4-mapped peer", "[::ffff:192.0.2.8]:1", nil, "192.0.2.8"},
		// A proxy writes one header and passes the client's other one
		// through: when they disagree, nobody can tell which to believe.
		{"headers disagree: the proxy", "10.1.1.1:5555", map[string]string{"Forwarded": "for=203.0.113.7", "X-Forwarded-For": "198.51.100.1"}, "10.1.1.1"},
		{"headers agree", "10.1.1.1:5555", map[string]string{"Forwarded": "for=203.0.113.7", "X-Forwarded-For": "203.0.113.7"}, "203.0.113.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = c.remote
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			if got := r.Addr(req).String(); got != c.want {
				t.Fatalf("Addr = %s, want %s", got, c.want)
			}
		})
	}
	var zero *Resolver
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.1.1.1:1"
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := zero.Addr(req).String(); got != "10.1.1.1" {
		t.Fatalf("a nil resolver trusted a header: %s", got)
	}
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	a := Key(netip.MustParseAddr("2001:db8:1:2:aaaa::1"), "")
	b := Key(netip.MustParseAddr("2001:db8:1:2:bbbb::2"), "")
	c := Key(netip.MustParseAddr("2001:db8:1:3::1"), "")
	if a != b || a == c {
		t.Fatalf("keys %q %q %q: want the first two equal, the third apart", a, b, c)
	}
	if k := Key(netip.MustParseAddr("192.0.2.1"), ""); k != "192.0.2.1" {
		t.Fatalf("IPv4 key %q", k)
	}
}

func TestParsePrefixesRefusesJunk(t *testing.T) {
	if _, err := ParsePrefixes("10.0.0.0/8,nonsense"); err == nil {
		t.Fatal("junk accepted")
	}
}

// FuzzAddr: any forwarding header from a trusted peer yields a valid
// address (never a panic, never an empty client).
func FuzzAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "[::1]:80, 10.0.0.1", `for="[2001:db8::1]:443";proto=https`, ",,,", "[", "1.2.3.4:5:6", "unknown"} {
		f.Add(s, s)
	}
	trusted, _ := ParsePrefixes("127.0.0.0/8,10.0.0.0/8")
	r := New(trusted)
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "127.0.0.1:1"
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		req.Header.Set("Forwarded", fwd)
		if a := r.Addr(req); !a.IsValid() {
			t.Fatalf("no client address for XFF %q Forwarded %q", xff, fwd)
		}
		if k := r.LimitKey(req); k == "" {
			t.Fatal("empty limit key")
		}
	})
}
