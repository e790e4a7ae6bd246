package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinary builds the real binary, runs `serve` on an empty data dir,
// creates an account with the CLI, logs in, and stops the server with
// SIGTERM, which must exit 0.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "orchestrator")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	data := filepath.Join(dir, "data")
	// Written by exec's copying goroutine while the test reads it.
	var logs lockedBuf
	srv := exec.Command(bin, "serve", "--addr", addr, "--data", data)
	srv.Stderr = &logs
	srv.Env = append(os.Environ(), "ORCH_ADMIN_TOKEN=")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		srv.Process.Kill()
	}()
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fi, err := os.Stat(filepath.Join(data, "admin.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v %v, want mode 0600", fi, err)
	}
	if !strings.Contains(logs.String(), "admin.token") {
		t.Errorf("the log does not say where the admin token is:\n%s", logs.String())
	}

	cli := exec.Command(bin, "account", "create", "--name", "Acme", "--json", "--url", base)
	cli.Env = append(os.Environ(), "ORCH_DATA="+data, "ORCH_ADMIN_TOKEN=")
	out, err := cli.Output()
	if err != nil {
		t.Fatalf("account create: %v", err)
	}
	var acct struct {
		AccountID, Name, AuthVersion, Zone, APIKey string
		Credentials                                struct{ UserID, Password string }
	}
	if err := json.Unmarshal(out, &acct); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if acct.Name != "Acme" || acct.AuthVersion != "v2" || acct.Zone != "z1" || acct.APIKey == "" || acct.Credentials.UserID == "" || len(acct.Credentials.Password) < 32 {
		t.Fatalf("account = %+v", acct)
	}
	req, _ := http.NewRequest("GET", base+"/v2/authenticate/login", nil)
	req.SetBasicAuth(acct.Credentials.UserID, acct.Credentials.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", resp, err)
	}
	resp.Body.Close()

	// Errors go to stderr with a non-zero exit.
	bad := exec.Command(bin, "account", "show", "1", "--url", base)
	bad.Env = append(os.Environ(), "ORCH_DATA="+data, "ORCH_ADMIN_TOKEN=")
	var stderr strings.Builder
	bad.Stderr = &stderr
	if err := bad.Run(); err == nil || !strings.Contains(stderr.String(), "404") {
		t.Errorf("show of a missing account: err %v, stderr %q", err, stderr.String())
	}

	srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit 0\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s of SIGTERM")
	}
}
