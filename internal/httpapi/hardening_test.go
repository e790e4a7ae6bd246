package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// clientFrom returns an HTTP client whose connections leave from the
// loopback address src (127.0.0.2, …), to play one of several clients.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{Transport: &http.Transport{
		DialContext:         func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) },
		MaxIdleConnsPerHost: 64,
	}}
}

func send(t testing.TB, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func loginReq(base, user, pass string) *http.Request {
	req, _ := http.NewRequest("GET", base+"/v2/authenticate/login", nil)
	req.SetBasicAuth(user, pass)
	return req
}

// Finding 1 (API side): failures were charged after the check, so a
// parallel burst all passed a limiter that none of them had charged yet.
func TestLoginParallelBurstIsBounded(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	c := clientFrom("127.0.0.1")
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 60; i++ {
		wg.Go(func() {
			st, _ := send(t, c, loginReq(env.URL, a.UserID, "wrong"))
			mu.Lock()
			codes[st]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[401] > 10 || codes[401]+codes[429] != 60 {
		t.Fatalf("60 parallel wrong logins: %v; want at most 10 × 401 and the rest 429", codes)
	}
	if st, _ := send(t, c, loginReq(env.URL, a.UserID, a.Password)); st != 429 {
		t.Fatalf("right password after the burst: %d, want 429", st)
	}
}

// Finding 5: a 1 MB client_id became a limiter key kept for a minute
// (500 requests: +480 MB). IDs are bounded before they reach any map.
func TestHugeUserIDsAreNotKept(t *testing.T) {
	env := servertest.Start(t)
	huge := strings.Repeat("u", 1<<20-200) // under the 1 MiB body limit
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for src := 1; src <= 5; src++ {
		c := clientFrom("127.0.0." + string(rune('0'+src)))
		wg.Go(func() {
			for i := 0; i < 100; i++ {
				body := "grant_type=client_credentials&client_secret=x&client_id=" + huge + string(rune('a'+i%26)) + string(rune('a'+i/26))
				req, _ := http.NewRequest("POST", env.URL+"/oauth2/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if st, _ := send(t, c, req); st != 401 && st != 429 {
					t.Errorf("huge client_id: %d, want 401 or 429", st)
					return
				}
			}
		})
	}
	wg.Wait()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 64<<20 {
		t.Fatalf("500 logins with a 1 MB client_id left the heap %d MB larger; want under 64 MB", grew>>20)
	}
}

// Finding 6: the limiter keyed the raw ID while authentication also tried
// the %XX-decoded one, so encoding one character opened a fresh budget.
func TestPercentEncodedUserIDSharesTheBudget(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	c := clientFrom("127.0.0.1")
	for i := 0; i < 10; i++ {
		if st, _ := send(t, c, loginReq(env.URL, a.UserID, "wrong")); st != 401 {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	encoded := "%" + strings.ToUpper(hexByte(a.UserID[0])) + a.UserID[1:]
	if st, _ := send(t, c, loginReq(env.URL, encoded, "wrong")); st != 429 {
		t.Fatalf("wrong password with the %%XX-encoded ID of a limited user: %d, want 429", st)
	}
	if st, _ := send(t, c, loginReq(env.URL, encoded, a.Password)); st != 429 {
		t.Fatalf("right password with the encoded ID of a limited user: %d, want 429", st)
	}
}

// Finding 6: a password holding %XX was checked twice for one failure.
// Each password checked costs one failure now.
func TestEachPasswordCandidateCostsAFailure(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	c := clientFrom("127.0.0.1")
	for i := 0; i < 5; i++ {
		if st, _ := send(t, c, loginReq(env.URL, a.UserID, "wrong%41"+string(rune('a'+i)))); st != 401 {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	if st, _ := send(t, c, loginReq(env.URL, a.UserID, "wrong")); st != 429 {
		t.Fatalf("after 5 encoded passwords (10 candidates): %d, want 429", st)
	}
	// The encoded form of a real password still logs in (RFC 6749 §2.3.1).
	b := env.CreateAccount(t, true)
	if st, body := send(t, c, loginReq(env.URL, url.QueryEscape(b.UserID), url.QueryEscape(b.Password))); st != 200 {
		t.Fatalf("form-encoded Basic credentials: %d %s", st, body)
	}
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// Finding 15: RFC 6749 §2.3.1 allows one client authentication method
// per request.
func TestTokenRefusesTwoClientAuthMethods(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {a.UserID}, "client_secret": {a.Password}}.Encode()
	for _, path := range []string{"/oauth2/token", "/v2/authenticate/login"} {
		req, _ := http.NewRequest("POST", env.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(a.UserID, a.Password)
		st, resp := send(t, http.DefaultClient, req)
		if st != 400 || !strings.Contains(resp, `"error":"invalid_request"`) {
			t.Errorf("%s with Basic and form credentials: %d %s; want 400 invalid_request", path, st, resp)
		}
	}
}

// Finding 15 / SPEC §4: another account's key is answered like an
// unknown key, so that a caller cannot learn a key is valid elsewhere.
func TestOtherAccountsKeyLooksUnknown(t *testing.T) {
	env := servertest.Start(t)
	a, b := env.CreateAccount(t, false), env.CreateAccount(t, false)
	get := func(key string) (int, string) {
		req, _ := http.NewRequest("GET", env.URL+"/v1/account/"+a.AccountID+"/ns/properties", nil)
		req.Header.Set("maven-api-key", key)
		return send(t, http.DefaultClient, req)
	}
	st1, body1 := get(b.APIKey)
	env2 := servertest.Start(t) // a well-formed key that no account has
	st2, body2 := get(env2.CreateAccount(t, false).APIKey)
	if st1 != 403 || st1 != st2 || body1 != body2 {
		t.Fatalf("another account's key: %d %s; unknown key: %d %s; want the same answer", st1, body1, st2, body2)
	}
}

// Finding 11: failed operator authentications are limited per address.
func TestOperatorAuthFailuresAreLimited(t *testing.T) {
	env := servertest.Start(t)
	c := clientFrom("127.0.0.3")
	codes := map[int]int{}
	for i := 0; i < 30; i++ {
		req, _ := http.NewRequest("GET", env.URL+"/admin/v1/accounts", nil)
		req.Header.Set("Authorization", "Bearer wrong-token-"+string(rune('a'+i)))
		st, _ := send(t, c, req)
		codes[st]++
	}
	if codes[401] != 20 || codes[429] != 10 {
		t.Fatalf("30 wrong operator tokens: %v; want 20 × 401 then 429", codes)
	}
	// Another address, with the right token, is not affected.
	var list []any
	if st := env.Admin(t, "GET", "/admin/v1/accounts", nil, &list); st != 200 {
		t.Fatalf("operator from another address: %d", st)
	}
}

// Finding 11: --admin-addr moves the operator API and /metrics to their
// own listener; the public listener no longer serves them.
func TestAdminAddrSeparatesTheOperatorAPI(t *testing.T) {
	env := servertest.Start(t, func(c *config.Serve) { c.AdminAddr = "127.0.0.1:0" })
	if env.AdminURL == env.URL {
		t.Fatal("no separate admin listener")
	}
	a := env.CreateAccount(t, true) // through AdminURL
	for _, path := range []string{"/admin/v1/accounts", "/metrics"} {
		req, _ := http.NewRequest("GET", env.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+env.AdminToken)
		if st, _ := send(t, http.DefaultClient, req); st != 404 {
			t.Errorf("public listener %s: %d, want 404", path, st)
		}
		req, _ = http.NewRequest("GET", env.AdminURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+env.AdminToken)
		if st, _ := send(t, http.DefaultClient, req); st != 200 {
			t.Errorf("admin listener %s: %d, want 200", path, st)
		}
	}
	// The public API still works, and the admin listener serves no API.
	if st, _ := send(t, http.DefaultClient, loginReq(env.URL, a.UserID, a.Password)); st != 200 {
		t.Errorf("login on the public listener: %d", st)
	}
	if st, _ := send(t, http.DefaultClient, loginReq(env.AdminURL, a.UserID, a.Password)); st != 404 {
		t.Errorf("login on the admin listener: %d, want 404", st)
	}
}

// Finding 12: behind a trusted proxy each client has its own address
// budget (before, every client shared the proxy's 100 per minute); a
// header from an untrusted peer is ignored.
func TestTrustedProxiesNameTheClient(t *testing.T) {
	fail100 := func(t *testing.T, env *servertest.Env, xff string) {
		c := clientFrom("127.0.0.1")
		for i := 0; i < 100; i++ {
			req := loginReq(env.URL, "00000000-0000-0000-0000-0000000000"+string(rune('a'+i%26))+string(rune('a'+i/26)), "x")
			req.Header.Set("X-Forwarded-For", xff)
			if st, _ := send(t, c, req); st != 401 {
				t.Fatalf("failure %d: %d", i+1, st)
			}
		}
	}
	t.Run("trusted", func(t *testing.T) {
		env := servertest.StartClock(t, servertest.Frozen(), func(c *config.Serve) { c.TrustedProxies = "127.0.0.1/32" })
		a := env.CreateAccount(t, true)
		fail100(t, env, "198.51.100.1")
		req := loginReq(env.URL, a.UserID, a.Password)
		req.Header.Set("X-Forwarded-For", "198.51.100.2")
		if st, _ := send(t, http.DefaultClient, req); st != 200 {
			t.Fatalf("another client behind the proxy: %d, want 200", st)
		}
		req = loginReq(env.URL, a.UserID, a.Password)
		req.Header.Set("X-Forwarded-For", "198.51.100.1")
		if st, _ := send(t, http.DefaultClient, req); st != 429 {
			t.Fatalf("the limited client behind the proxy: %d, want 429", st)
		}
		if !strings.Contains(env.Logs(), `"remote":"198.51.100.2"`) {
			t.Error("the access log does not name the forwarded client")
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		env := servertest.StartClock(t, servertest.Frozen())
		a := env.CreateAccount(t, true)
		fail100(t, env, "198.51.100.1")
		req := loginReq(env.URL, a.UserID, a.Password)
		req.Header.Set("X-Forwarded-For", "198.51.100.2")
		if st, _ := send(t, http.DefaultClient, req); st != 429 {
			t.Fatalf("a forwarded header from an untrusted peer changed the client: %d, want 429", st)
		}
	})
}

// Finding 12: IPv6 peers are limited by their /64.
func TestIPv6PeersShareTheir64(t *testing.T) {
	env := servertest.StartClock(t, servertest.Frozen())
	h := env.Server.Handler()
	a := env.CreateAccount(t, true)
	for i := 0; i < 100; i++ {
		r := loginReq("", "00000000-0000-0000-0000-0000000000"+string(rune('a'+i%26))+string(rune('a'+i/26)), "x")
		r.RemoteAddr = "[2001:db8:1:2::" + string(rune('a'+i%6)) + "]:1234"
		if w := serve(h, r); w.Code != 401 {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	r := loginReq("", a.UserID, a.Password)
	r.RemoteAddr = "[2001:db8:1:2:ffff::9]:1234"
	if w := serve(h, r); w.Code != 429 {
		t.Fatalf("another address of the same /64: %d, want 429", w.Code)
	}
	r = loginReq("", a.UserID, a.Password)
	r.RemoteAddr = "[2001:db8:1:3::1]:1234"
	if w := serve(h, r); w.Code != 200 {
		t.Fatalf("another /64: %d, want 200", w.Code)
	}
}

// Finding 13: HSTS whenever the public URL is https (TLS may end at a
// proxy), never over a plain-HTTP public URL.
func TestHSTSUnderHTTPSPublicURL(t *testing.T) {
	for _, tc := range []struct {
		public string
		want   string
	}{{"https://orch.example", "max-age=31536000"}, {"", ""}} {
		env := servertest.Start(t, func(c *config.Serve) { c.PublicURL = tc.public })
		for _, path := range []string{"/healthz", "/console/"} {
			resp, err := http.Get(env.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != tc.want {
				t.Errorf("public URL %q, %s: Strict-Transport-Security %q, want %q", tc.public, path, got, tc.want)
			}
		}
	}
}

// Finding 3: the per-account Context Service quota is set by flags.
func TestAccountQuotaFlags(t *testing.T) {
	env := servertest.Start(t, func(c *config.Serve) { c.AccountMaxProperties = 3 })
	a := env.CreateAccount(t, false)
	put := func(name string) (int, string) {
		req, _ := http.NewRequest("PUT", env.URL+"/v1/account/"+a.AccountID+"/ns/properties/"+name, strings.NewReader(`"v"`))
		req.Header.Set("maven-api-key", a.APIKey)
		req.Header.Set("Content-Type", "application/json")
		return send(t, http.DefaultClient, req)
	}
	codes := []int{}
	var last string
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		st, body := put(p)
		codes, last = append(codes, st), body
	}
	if codes[2] != 204 || codes[3] != 413 || !strings.Contains(last, "account storage quota exceeded") {
		t.Fatalf("writes under --account-max-properties 3: %v, last %s; want 204 first and 413 by the fourth", codes, last)
	}

	unbounded := servertest.Start(t, func(c *config.Serve) { c.AccountMaxProperties, c.AccountMaxBytes = 0, "0" })
	b := unbounded.CreateAccount(t, false)
	var sb strings.Builder
	sb.WriteString("{")
	for i := 0; i < 200; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`"p` + strconv.Itoa(i) + `":1`)
	}
	sb.WriteString("}")
	req, _ := http.NewRequest("PATCH", unbounded.URL+"/v1/account/"+b.AccountID+"/ns/properties", strings.NewReader(sb.String()))
	req.Header.Set("maven-api-key", b.APIKey)
	req.Header.Set("Content-Type", "application/json")
	if st, resp := send(t, http.DefaultClient, req); st != 204 {
		t.Fatalf("200 properties with no quota: %d %s", st, resp)
	}
}

// Successful logins and operator calls give their reserved failure back,
// however much later they finish (a refund that did nothing once time had
// passed made the 11th good login of a minute a 429, and capped the
// operator API at 20 calls a minute).
func TestSuccessesDoNotSpendTheBudget(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	for i := 0; i < 25; i++ {
		if st, _ := send(t, http.DefaultClient, loginReq(env.URL, a.UserID, a.Password)); st != 200 {
			t.Fatalf("good login %d: %d", i+1, st)
		}
		var list []any
		if st := env.Admin(t, "GET", "/admin/v1/accounts", nil, &list); st != 200 {
			t.Fatalf("operator call %d: %d", i+1, st)
		}
	}
}

// A JSON body that does not arrive within the read timeout is the
// client's fault: 408, not a 500 logged as a server error.
func TestSlowBodyIs408(t *testing.T) {
	env := servertest.Start(t)
	a := env.CreateAccount(t, true)
	tok := env.Login(t, a)
	ts := httptest.NewUnstartedServer(env.Server.Handler())
	ts.Config.ReadTimeout = 300 * time.Millisecond
	ts.Start()
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v2/context/document/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"acco", tok)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "not received in time") {
		t.Fatalf("slow body: %d %s, want 408", resp.StatusCode, b)
	}
	if strings.Contains(env.Logs(), `"level":"ERROR"`) {
		t.Errorf("a slow client was logged as a server error:\n%s", env.Logs())
	}
}
