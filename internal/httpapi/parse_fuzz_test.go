package httpapi

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte("demo:p@55w0rd")),
		"basic ZGVtbzpwQDU1dzByZA==", "BASIC ZGVtbzpwQDU1dzByZA", "Basic", "Basic ", "Bearer x",
		"Basic " + base64.StdEncoding.EncodeToString([]byte(":nouser")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("a:b:c")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("u\x00:p")),
		"Basic !!!", "Basic " + strings.Repeat("A", 5000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		u, p, ok := ParseBasic(h)
		if !ok {
			if u != "" || p != "" {
				t.Fatalf("ParseBasic(%q) returned values with ok=false", h)
			}
			return
		}
		if u == "" || strings.Contains(u, ":") || !utf8.ValidString(u+p) {
			t.Fatalf("ParseBasic(%q) = %q, %q", h, u, p)
		}
		if strings.ContainsFunc(u+p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("ParseBasic(%q) let a control character through", h)
		}
		// Round trip: encoding what we parsed parses back to the same.
		u2, p2, ok2 := ParseBasic("Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
		if !ok2 || u2 != u || p2 != p {
			t.Fatalf("round trip of %q/%q = %q/%q/%v", u, p, u2, p2, ok2)
		}
	})
}

func TestParseBasic(t *testing.T) {
	// The seed's example: demo / p@55w0rd.
	u, p, ok := ParseBasic("Basic ZGVtbzpwQDU1dzByZA==")
	if !ok || u != "demo" || p != "p@55w0rd" {
		t.Fatalf("ParseBasic(seed example) = %q, %q, %v", u, p, ok)
	}
	for _, bad := range []string{"", "Basic", "Bearer ZGVtbzpwQDU1dzByZA==", "Basic ####", "Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon"))} {
		if _, _, ok := ParseBasic(bad); ok {
			t.Errorf("ParseBasic(%q) ok", bad)
		}
	}
}

func FuzzTokenFromHeader(f *testing.F) {
	for _, s := range []string{"Bearer a.b.c", "bearer a.b.c", "a.b.c", "Basic xyz", "Bearer ", " ", "", "Bearer  a.b.c  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := tokenFromHeader(h)
		if ok && (tok == "" || strings.ContainsAny(tok, " \t") && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(h)), "bearer ")) {
			t.Fatalf("tokenFromHeader(%q) = %q", h, tok)
		}
		if !ok && tok != "" {
			t.Fatalf("tokenFromHeader(%q) returned %q with ok=false", h, tok)
		}
	})
}

func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "",
		"access_token=eyJ.secret.sig&x=1": "access_token=REDACTED&x=REDACTED",
		"ACCESS_TOKEN=s":                  "ACCESS_TOKEN=REDACTED",
		"client_secret=s&page=2":          "client_secret=REDACTED&page=2",
		"a=%zz&access_token=s":            "[unparsable query redacted]",
		"conversationId=c1&lpToken=Bearer+LPSECRET": "conversationId=c1&lpToken=REDACTED",
		"eyJhbGciOi.eyJzdWIi.sig":                   "REDACTED=REDACTED",
		"ttlSecond=60&page=1&perPage=10":            "page=1&perPage=10&ttlSecond=60",
	} {
		if got := RedactQuery(in); got != want {
			t.Errorf("RedactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
