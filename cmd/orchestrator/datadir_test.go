package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary against one data directory (SPEC §1):
// the lock that keeps a second server out, and the refusal of a store
// that vanished beside its secret key. The reliability campaign of
// 2026-12 found both starting silently.

// lockedBuf collects a process's stderr while the test reads it.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// dataProc is an `orchestrator serve` on a given data directory.
type dataProc struct {
	base   string
	cmd    *exec.Cmd
	logs   *lockedBuf
	exited chan struct{} // closed when the process has exited
	err    error         // its exit, once exited is closed
	took   time.Duration // from start to exit
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// launch starts `serve --data data` without waiting for it; it is stopped
// (SIGTERM) when the test ends.
func launch(t *testing.T, data string) *dataProc {
	t.Helper()
	bin := binary(t)
	addr := freeAddr(t)
	p := &dataProc{base: "http://" + addr, logs: &lockedBuf{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--addr", addr, "--data", data, "--log-level", "warn")
	p.cmd.Env = append(os.Environ(), "ORCH_ADMIN_TOKEN=", "ORCH_SECRET_KEY=")
	p.cmd.Stderr = p.logs
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); p.took = time.Since(start); close(p.exited) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM and waits for the exit (kills after 15 s).
func (p *dataProc) stop(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// ready waits until /readyz answers 200.
func (p *dataProc) ready(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.exited:
			t.Fatalf("serve exited: %v\n%s", p.err, p.logs)
		default:
		}
		if resp, err := http.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become ready\n%s", p.logs)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// refused waits for p to exit and checks that it exited non-zero within
// limit saying want.
func (p *dataProc) refused(t *testing.T, limit time.Duration, want string) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(limit + 5*time.Second):
		t.Fatalf("serve still runs after %v; want it to exit with %q\n%s", limit+5*time.Second, want, p.logs)
	}
	if p.err == nil {
		t.Fatalf("serve exited 0, want non-zero with %q\n%s", want, p.logs)
	}
	if p.took > limit {
		t.Errorf("serve took %v to exit, want at most %v", p.took, limit)
	}
	if !strings.Contains(p.logs.String(), want) {
		t.Errorf("serve exited (%v) without %q:\n%s", p.err, want, p.logs)
	}
}

// files lists the names of the files in dir with their sizes.
func files(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d", e.Name(), fi.Size()))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestSecondServeOnTheSameDataExits(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	first := launch(t, data)
	first.ready(t)
	second := launch(t, data)
	second.refused(t, 2*time.Second, fmt.Sprintf("data directory in use by pid %d", first.cmd.Process.Pid))
	t.Logf("second serve exited after %v: %s", second.took, strings.TrimSpace(second.logs.String()))
	first.ready(t) // the first keeps serving
}

// TestSimultaneousServesOnAnEmptyDirectory starts two servers at the same
// instant on a directory that does not exist yet: exactly one runs, and
// there is exactly one secret key and one signing key.
func TestSimultaneousServesOnAnEmptyDirectory(t *testing.T) {
	for round := range 5 {
		data := filepath.Join(t.TempDir(), "data")
		ps := []*dataProc{launch(t, data), launch(t, data)}
		var loser, winner *dataProc
		select {
		case <-ps[0].exited:
			loser, winner = ps[0], ps[1]
		case <-ps[1].exited:
			loser, winner = ps[1], ps[0]
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: both servers run on one directory", round)
		}
		loser.refused(t, 2*time.Second, fmt.Sprintf("data directory in use by pid %d", winner.cmd.Process.Pid))
		winner.ready(t)
		var set struct{ Keys []json.RawMessage }
		resp, err := http.Get(winner.base + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		if err != nil || len(set.Keys) != 1 {
			t.Errorf("round %d: JWKS holds %d keys (%v), want 1", round, len(set.Keys), err)
		}
		got := files(t, data)
		var secrets []string
		for _, f := range strings.Fields(got) {
			if strings.HasPrefix(f, ".") || strings.Contains(f, "secret") || strings.Contains(f, "admin.token") {
				secrets = append(secrets, f)
			}
		}
		if len(secrets) != 2 || !strings.HasPrefix(secrets[0], "admin.token:") || !strings.HasPrefix(secrets[1], "secret.key:") {
			t.Errorf("round %d: the directory holds %s; want one admin.token and one secret.key", round, got)
		}
		winner.stop(t)
	}
}

// TestEmptiedOrDeletedStoreIsRefused: a store truncated to 0 bytes or
// deleted beside the secret key of an earlier start is an error, not a
// fresh install (every account vanished and /readyz said 200), and the
// refused start creates nothing.
func TestEmptiedOrDeletedStoreIsRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	p := launch(t, data)
	p.ready(t)
	p.stop(t)
	if p.err != nil {
		t.Fatalf("first serve: %v\n%s", p.err, p.logs)
	}
	db := filepath.Join(data, "orchestrator.db")
	for _, tc := range []struct {
		name   string
		damage func() error
		want   string
	}{
		{"truncated", func() error { return os.Truncate(db, 0) }, "is empty (0 bytes)"},
		{"deleted", func() error { return os.Remove(db) }, "is missing while"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.damage(); err != nil {
				t.Fatal(err)
			}
			before := files(t, data)
			p := launch(t, data)
			p.refused(t, 10*time.Second, tc.want)
			if !strings.Contains(p.logs.String(), "refusing to start as a new install") {
				t.Errorf("message: %s", p.logs)
			}
			t.Logf("refused in %v: %s", p.took, strings.TrimSpace(p.logs.String()))
			if after := files(t, data); after != before {
				t.Errorf("the refused start changed the directory:\n before %s\n after  %s", before, after)
			}
		})
	}
}
