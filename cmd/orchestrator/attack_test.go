package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests replay the attacks of the December 2026 security review
// against the real binary and measure the server process itself (peak
// RSS and CPU time from /proc), which is what the review measured.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the orchestrator binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "orchestrator-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "orchestrator")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// proc is a running `orchestrator serve`.
type proc struct {
	base  string
	admin string
	cmd   *exec.Cmd
	logs  *lockedBuf
}

// testClient gives up on a request well before the server's 30 s write
// timeout, so a regression fails fast.
var testClient = &http.Client{Timeout: 10 * time.Second}

const testAdminToken = "test-operator-token-0123456789abcdef"

func startServe(t *testing.T, args ...string) *proc {
	t.Helper()
	return startServeIn(t, filepath.Join(t.TempDir(), "data"), nil, args...)
}

// startServeIn is startServe on the data directory data, with env added
// to the process's environment (which ends with ORCH_ADMIN_TOKEN set to
// testAdminToken unless env sets it).
func startServeIn(t *testing.T, data string, env []string, args ...string) *proc {
	t.Helper()
	bin := binary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &proc{base: "http://" + addr, admin: testAdminToken, logs: &lockedBuf{}}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr, "--data", data, "--log-level", "warn"}, args...)...)
	p.cmd.Env = append(append(os.Environ(), "ORCH_ADMIN_TOKEN="+testAdminToken), env...)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "ORCH_ADMIN_TOKEN="); ok {
			p.admin = v
		}
	}
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// peakRSS is the server's peak resident set (VmHWM) in bytes.
func (p *proc) peakRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// cpu is the server's CPU time (user + system) so far.
func (p *proc) cpu(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// the 14th and 15th fields, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// do sends a JSON request and decodes a JSON answer into out.
func (p *proc) do(t *testing.T, method, path string, hdr map[string]string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	st, b := p.exchange(t, method, path, hdr, rd)
	if out != nil && st < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %q: %v", method, path, b, err)
		}
	}
	return st
}

// exchange sends one request (a JSON body when body is not nil) and
// returns the status and the body of the answer.
func (p *proc) exchange(t *testing.T, method, path string, hdr map[string]string, body io.Reader) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, p.base+path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type account struct {
	AccountID   string `json:"accountId"`
	APIKey      string `json:"apiKey"`
	Credentials struct {
		UserID   string `json:"userId"`
		Password string `json:"password"`
	} `json:"credentials"`
	ConsoleUser struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	} `json:"consoleUser"`
}

func (p *proc) createAccount(t *testing.T, body map[string]string) account {
	t.Helper()
	var a account
	if st := p.do(t, "POST", "/admin/v1/accounts", map[string]string{"Authorization": "Bearer " + p.admin}, body, &a); st != 201 {
		t.Fatalf("create account: %d", st)
	}
	return a
}

func (p *proc) login(t *testing.T, a account) string {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+"/v2/authenticate/login", nil)
	req.SetBasicAuth(a.Credentials.UserID, a.Credentials.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return out.Token
}

// Finding 1: 120 parallel wrong console sign-ins from one address took
// the server to 1.84 GB and let a correct password in the burst sign in.
func TestAttackConsoleSignInBurst(t *testing.T) {
	p := startServe(t)
	a := p.createAccount(t, map[string]string{"name": "Burst", "consoleEmail": "alice@example.com"})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 200}, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(p.base + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token in the sign-in page:\n%s", page)
	}
	csrf := string(m[1])
	signIn := func(password string) int {
		form := url.Values{"csrf": {csrf}, "account": {a.AccountID}, "email": {"alice@example.com"}, "password": {password}}
		resp, err := c.PostForm(p.base+"/console/sign-in", form)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 120; i++ {
		wg.Go(func() {
			<-start
			st := signIn(fmt.Sprintf("wrong%d", i))
			mu.Lock()
			codes[st]++
			mu.Unlock()
		})
	}
	close(start)
	// Sent while the burst is running, once the budget of 10 is spent:
	// every answer so far charged a failure or was refused for lack of
	// budget. (A fixed 100 ms pause let the correct password in as the
	// 10th attempt on a loaded machine, which the limits allow.)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		answered := codes[401] + codes[429] + codes[503]
		mu.Unlock()
		if answered >= 10 || time.Now().After(deadline) {
			break
		}
	}
	right := signIn(a.ConsoleUser.Password)
	wg.Wait()
	if codes[401] > 10 || codes[401]+codes[429]+codes[503] != 120 {
		t.Errorf("120 parallel wrong sign-ins: %v; want at most 10 × 401, the rest 429 (or 503)", codes)
	}
	if right == http.StatusSeeOther {
		t.Errorf("the correct password sent during the burst signed in")
	}
	if rss := p.peakRSS(t); rss > 250<<20 {
		t.Errorf("peak RSS %d MB, want under 250 MB", rss>>20)
	}
	t.Logf("statuses %v, correct password %d, peak RSS %d MB", codes, right, p.peakRSS(t)>>20)
}

// Finding 5: 500 logins with a distinct 1 MB client_id from 5 addresses
// took RSS from 76 to 555 MB.
func TestAttackHugeClientIDs(t *testing.T) {
	p := startServe(t)
	huge := strings.Repeat("u", 1<<20-200) // just under the 1 MiB body limit
	var wg sync.WaitGroup
	for src := 1; src <= 5; src++ {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(src))}}
		c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
			return d.DialContext(ctx, n, a)
		}}}
		wg.Go(func() {
			for i := 0; i < 100; i++ {
				body := "grant_type=client_credentials&client_secret=x&client_id=" + huge + strconv.Itoa(i)
				resp, err := c.Post(p.base+"/v2/authenticate/login", "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 401 && resp.StatusCode != 429 {
					t.Errorf("huge client_id: %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	rss := p.peakRSS(t)
	t.Logf("peak RSS after 500 huge client_ids: %d MB", rss>>20)
	if rss > 150<<20 {
		t.Errorf("peak RSS %d MB, want under 150 MB", rss>>20)
	}
}

// Finding 2: a 40k × 40k IS_IN took 10 s of CPU and 41 s; a 120-term
// concatenation of a 700,000-character string 26 s of CPU and 228 MB.
// Each must answer (a result or 422) within 1.5 s, under 1.5 s of CPU.
func TestAttackNextActionsCost(t *testing.T) {
	p := startServe(t)
	ints := func(from, step int) []int {
		out := make([]int, 40000)
		for i := range out {
			out[i] = from + i*step
		}
		return out
	}
	terms := make([]string, 120)
	for i := range terms {
		terms[i] = "dosc.s"
	}
	for _, tc := range []struct {
		name   string
		policy map[string]any
	}{
		{"IS_IN 40k x 40k", map[string]any{"name": "isin", "conditions": []map[string]any{{"property": "dosa.l", "type": "IS_IN", "value": "{{dosb.r}}"}},
			"actions": []map[string]any{{"type": "SEND_MESSAGE", "payload": map[string]any{"message": "hi"}}}}},
		{"concatenation", map[string]any{"name": "concat", "expression": "(" + strings.Join(terms, " + ") + ") == 'y'",
			"actions": []map[string]any{{"type": "SEND_MESSAGE", "payload": map[string]any{"message": "hi"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := p.createAccount(t, map[string]string{"name": tc.name})
			key := map[string]string{"maven-api-key": a.APIKey}
			v1 := "/v1/account/" + a.AccountID
			for ns, body := range map[string]any{"dosa": map[string]any{"l": ints(0, 1)}, "dosb": map[string]any{"r": ints(-1, -1)},
				"dosc": map[string]any{"s": strings.Repeat("x", 700000)}} {
				if st := p.do(t, "PATCH", v1+"/"+ns+"/properties", key, body, nil); st != 204 {
					t.Fatalf("PATCH %s: %d", ns, st)
				}
			}
			tok := map[string]string{"Authorization": "Bearer " + p.login(t, a)}
			if st := p.do(t, "POST", "/v2/config/create", tok, map[string]any{"accountId": a.AccountID, "policy": tc.policy}, nil); st != 201 {
				t.Fatalf("create policy: %d", st)
			}
			cpu0, t0 := p.cpu(t), time.Now()
			st := p.do(t, "POST", "/v2/policy/nextaction", tok, map[string]any{"accountId": a.AccountID, "conversationId": "c1"}, nil)
			wall, cpu := time.Since(t0), p.cpu(t)-cpu0
			t.Logf("status %d in %v, server CPU %v", st, wall, cpu)
			if st != 200 && st != 422 {
				t.Errorf("status %d, want 200 or 422", st)
			}
			if wall > 1500*time.Millisecond || cpu > 1500*time.Millisecond {
				t.Errorf("took %v and %v of server CPU; want each under 1.5 s", wall, cpu)
			}
		})
	}
}
