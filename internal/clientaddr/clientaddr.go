package clientaddr

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds the client address of requests. The zero Resolver
// trusts no proxy: the peer is the client.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver that believes the forwarding headers of peers in
// trusted.
func New(trusted []netip.Prefix) *Resolver { return &Resolver{trusted: trusted} }

// ParsePrefixes parses a comma-separated list of CIDRs or bare addresses
// (a bare address is a /32 or /128).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peer is the address of the connection's other end.
func peer(req *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(req.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap(), true
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// Addr returns the client address of req: the peer, unless the peer is a
// trusted proxy, in which case the forwarded chain is read from the right
// and the first address that is not a trusted proxy is the client (so a
// client cannot choose its address by sending its own header: only the
// hops added by trusted proxies are believed). The chain is
// X-Forwarded-For or, without it, Forwarded (RFC 7239). When a request
// carries both and they name different clients, one of them was written
// by the client itself (a proxy that appends to one header passes the
// other through) and there is no telling which: the peer, the proxy, is
// then the client, which gains a spoofer nothing.
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	p, ok := peer(req)
	if !ok {
		return netip.Addr{}
	}
	if !r.isTrusted(p) {
		return p
	}
	xff, fwd := xForwardedFor(req), forwarded(req)
	switch {
	case len(xff) > 0 && len(fwd) > 0:
		a, b := r.walk(p, xff), r.walk(p, fwd)
		if a != b {
			return p
		}
		return a
	case len(xff) > 0:
		return r.walk(p, xff)
	default:
		return r.walk(p, fwd)
	}
}

// walk reads chain (leftmost first) from the right, behind peer p: the
// first hop that is not a trusted proxy is the client.
func (r *Resolver) walk(p netip.Addr, chain []string) netip.Addr {
	client := p
	for i := len(chain) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(chain[i])
		if err != nil {
			// A hop we cannot read: stop at the last address we could.
			break
		}
		client = a.Unmap()
		if !r.isTrusted(client) {
			break
		}
	}
	return client
}

// xForwardedFor returns the hops of every X-Forwarded-For header,
// leftmost first.
func xForwardedFor(req *http.Request) []string {
	var out []string
	for _, x := range req.Header.Values("X-Forwarded-For") {
		for _, f := range strings.Split(x, ",") {
			out = append(out, stripPort(strings.TrimSpace(f)))
		}
	}
	return out
}

// forwarded returns the for= hops of every Forwarded header, leftmost
// first.
func forwarded(req *http.Request) []string {
	var out []string
	for _, h := range req.Header.Values("Forwarded") {
		for _, elem := range strings.Split(h, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				out = append(out, stripPort(strings.Trim(v, `"`)))
			}
		}
	}
	return out
}

// stripPort removes a port and IPv6 brackets: "[2001:db8::1]:443" and
// "192.0.2.1:80" become bare addresses.
func stripPort(s string) string {
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i > 0 {
			return s[1:i]
		}
		return s
	}
	if strings.Count(s, ":") == 1 {
		host, _, _ := strings.Cut(s, ":")
		return host
	}
	return s
}

// String returns the client address of req as text, for audit and logs
// ("" when the peer address cannot be read).
func (r *Resolver) String(req *http.Request) string {
	if a := From(req.Context()); a.IsValid() {
		return a.String()
	}
	if a := r.Addr(req); a.IsValid() {
		return a.String()
	}
	return req.RemoteAddr
}

// LimitKey returns the key the client of req is limited under: an IPv4
// address as it is, an IPv6 address by its /64 (one subscriber usually
// holds a whole /64, so single addresses would give it 2^64 budgets).
func (r *Resolver) LimitKey(req *http.Request) string {
	a := From(req.Context())
	if !a.IsValid() {
		a = r.Addr(req)
	}
	return Key(a, req.RemoteAddr)
}

// Key is the limit key of address a; fallback when a is not valid.
func Key(a netip.Addr, fallback string) string {
	if !a.IsValid() {
		return fallback
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

type ctxKey struct{}

// Middleware resolves the client address once per request and keeps it
// in the request's context, where From, String and LimitKey find it.
func (r *Resolver) Middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if a := r.Addr(req); a.IsValid() {
			req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, a))
		}
		h.ServeHTTP(w, req)
	})
}

// From returns the client address that Middleware stored in ctx (invalid
// when none).
func From(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(ctxKey{}).(netip.Addr)
	return a
}
