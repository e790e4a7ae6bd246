package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/datadir/datadirtest"
)

// These tests replay the December 2026 reliability review's disk-full and
// slow-shutdown runs against the real binary (SPEC §1).

// get returns the status and body of GET path.
func (p *proc) get(t *testing.T, path string, hdr map[string]string) (int, string) {
	t.Helper()
	st, b := p.exchange(t, "GET", path, hdr, nil)
	return st, string(b)
}

// TestDiskFull fills an 8 MiB tmpfs with v1 writes from 4 writers: writes
// are refused with 507 {"message":"storage full"} (they were 500 "internal
// error", logged 35k times in 20 s), /readyz answers 503 (it answered 200)
// while reads answer 200; once a ballast file is deleted, writes succeed
// again without a restart, and every acknowledged write reads back.
func TestDiskFull(t *testing.T) {
	begin := time.Now()
	dir := datadirtest.Tmpfs(t, "8m")
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--data", filepath.Join(dir, "data"))
	a := p.createAccount(t, map[string]string{"name": "Full", "authVersion": "v1"})
	key := map[string]string{"maven-api-key": a.APIKey}
	v1 := "/v1/account/" + a.AccountID
	if st := p.do(t, "POST", v1, key, map[string]string{"name": "ns"}, nil); st != 204 {
		t.Fatalf("create namespace: %d", st)
	}
	// write stores property p of a new session; it answers the status,
	// or 0 when the connection failed (an unknown outcome).
	write := func(sid string) int {
		b := fmt.Sprintf(`{"p":"%s-%s"}`, sid, strings.Repeat("x", 2000))
		req, _ := http.NewRequest("PATCH", p.base+v1+"/ns/"+sid+"/properties", strings.NewReader(b))
		req.Header.Set("maven-api-key", a.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := testClient.Do(req)
		if err != nil {
			return 0
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 507 && strings.TrimSpace(string(body)) != `{"message":"storage full"}` {
			t.Errorf("507 body %q", body)
		}
		return resp.StatusCode
	}

	var (
		mu     sync.Mutex
		acked  []string
		codes  = map[int]int{}
		fillBy = time.Now().Add(30 * time.Second)
	)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			full := 0
			for i := 0; full < 20 && time.Now().Before(fillBy); i++ {
				sid := fmt.Sprintf("w%d-%d", g, i)
				st := write(sid)
				mu.Lock()
				codes[st]++
				if st == 204 {
					acked = append(acked, sid)
					full = 0
				} else if st == 507 {
					full++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("filling: %v; %d acknowledged in %v", codes, len(acked), time.Since(begin).Round(time.Millisecond))
	if codes[507] == 0 || len(codes) != 2 {
		t.Fatalf("statuses while filling %v, want only 204 then 507", codes)
	}

	if st, body := p.get(t, "/readyz", nil); st != 503 || !strings.Contains(body, "storage full") {
		t.Errorf("/readyz on a full disk: %d %s, want 503 storage full", st, body)
	}
	if st, body := p.get(t, v1+"/ns/"+acked[0]+"/properties", key); st != 200 || !strings.Contains(body, acked[0]+"-") {
		t.Errorf("read on a full disk: %d %.80s, want 200", st, body)
	}
	_, metrics := p.get(t, "/metrics", nil)
	if want := fmt.Sprintf("orchestrator_storage_full_total %d\n", codes[507]); !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %q", want)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if st := write("after"); st != 204 {
		t.Fatalf("write after space was freed: %d, want 204 without a restart", st)
	}
	acked = append(acked, "after")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		st, body := p.get(t, "/readyz", nil)
		if st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after space was freed: %d %s", st, body)
		}
	}

	var missing []string
	var mmu sync.Mutex
	next := make(chan string)
	var rg sync.WaitGroup
	for range 4 {
		rg.Go(func() {
			for sid := range next {
				if st, body := p.get(t, v1+"/ns/"+sid+"/properties", key); st != 200 || !strings.Contains(body, `"`+sid+"-") {
					mmu.Lock()
					missing = append(missing, fmt.Sprintf("%s (%d)", sid, st))
					mmu.Unlock()
				}
			}
		})
	}
	for _, sid := range acked {
		next <- sid
	}
	close(next)
	rg.Wait()
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged writes missing: %v", len(missing), len(acked), missing[:min(len(missing), 10)])
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	var fullLines int
	for _, l := range strings.Split(p.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"storage full`) {
			fullLines++
		} else if strings.Contains(l, `"level":"ERROR"`) {
			t.Errorf("unexpected error line: %s", l)
		}
	}
	took := time.Since(begin)
	if fullLines == 0 || fullLines > 1+int(took/(10*time.Second)) {
		t.Errorf("%d storage-full lines in %v for %d refused writes, want one per 10 s", fullLines, took.Round(time.Millisecond), codes[507])
	}
	t.Logf("%d acknowledged writes all read back; %d refused with 507, logged in %d lines; %v in all", len(acked), codes[507], fullLines, took.Round(time.Millisecond))
	if took > 60*time.Second {
		t.Errorf("took %v, want under 60 s", took)
	}
}

// TestShutdownCutsSlowRequest sends SIGTERM while a v1 write's body
// trickles in for 20 s: /readyz (on the admin listener, still open while
// the main one drains) answers 503 at once, the request is cut at 10 s,
// the log says one request was cut, and the process exits 0 (it exited 1
// with "context deadline exceeded").
func TestShutdownCutsSlowRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := ln.Addr().String()
	ln.Close()
	p := startServe(t, "--admin-addr", adminAddr)
	admin := *p
	admin.base = "http://" + adminAddr
	a := admin.createAccount(t, map[string]string{"name": "Slow", "authVersion": "v1"})
	v1 := "/v1/account/" + a.AccountID
	if st := p.do(t, "POST", v1, map[string]string{"maven-api-key": a.APIKey}, map[string]string{"name": "ns"}, nil); st != 204 {
		t.Fatalf("create namespace: %d", st)
	}
	if st, body := admin.get(t, "/readyz", nil); st != 200 {
		t.Fatalf("/readyz before the signal: %d %s", st, body)
	}

	body := `{"slow":"` + strings.Repeat("s", 18) + `"}` // 30 bytes, one a second after the first
	c, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PATCH %s/ns/properties HTTP/1.1\r\nHost: x\r\nmaven-api-key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		v1, a.APIKey, len(body), body[:1])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for i := 1; i < len(body); i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			if _, err := io.WriteString(c, body[i:i+1]); err != nil {
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // the request is in its handler, reading the body

	t0 := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	for deadline := t0.Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, body := admin.get(t, "/readyz", nil)
		if st == 503 && strings.Contains(body, "shutting down") {
			t.Logf("/readyz 503 %v after SIGTERM", time.Since(t0).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz a second after SIGTERM: %d %s, want 503 shutting down", st, body)
		}
	}

	err = p.cmd.Wait()
	took := time.Since(t0)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Errorf("exit code %d after %v, want 0:\n%s", ee.ExitCode(), took, p.logs)
	} else if err != nil {
		t.Fatal(err)
	}
	if took < 9500*time.Millisecond || took > 12*time.Second {
		t.Errorf("exited %v after SIGTERM, want about 10 s", took)
	}
	logs := p.logs.String()
	if !strings.Contains(logs, `"requests":1`) || !strings.Contains(logs, "cut 1 request") {
		t.Errorf("no log line saying one request was cut:\n%s", logs)
	}
	t.Logf("exit 0 after %v; %s", took.Round(time.Millisecond), strconv.Quote(lastLine(logs, "cut")))
}

// lastLine is the last line of s that contains sub.
func lastLine(s, sub string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return lines[i]
		}
	}
	return ""
}
