package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage/pgtest"
)

// stop stops the server (SIGTERM) and waits for it to exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit: %v\n%s", err, p.logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
}

// SPEC §9: a deployment that outgrows one machine moves its embedded
// store into PostgreSQL with `store copy`, and keeps its tenants, keys,
// tokens and data: 1,000 accounts and 100,000 properties copy with
// matching counts and checksums, and a token issued before the copy
// verifies against a PostgreSQL-backed server after it.
func TestStoreCopyToPostgres(t *testing.T) {
	const accounts, perAccount = 1000, 100
	data := filepath.Join(t.TempDir(), "data")
	// The zone's public URL (the tokens' issuer) stays what it was when
	// the deployment moves, whatever the nodes' own addresses.
	const public = "--public-url=https://z1.orchestrator.example"
	p := startServeIn(t, data, nil, public)

	// Seed through the API, eight callers at a time.
	all := make([]account, accounts)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range all {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			all[i] = p.createAccount(t, map[string]string{"name": fmt.Sprintf("Tenant %d", i)})
			props := map[string]any{}
			for j := range perAccount {
				props[fmt.Sprintf("p%03d", j)] = fmt.Sprintf("value %d of %d", j, i)
			}
			if st := p.do(t, "PATCH", "/v1/account/"+all[i].AccountID+"/crm/conv-1/properties", map[string]string{"maven-api-key": all[i].APIKey}, props, nil); st != 204 {
				t.Errorf("seed account %d: %d", i, st)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	first, last := all[0], all[accounts-1]
	token := p.login(t, first)
	p.stop(t)

	dsn, _ := pgtest.Schema(t)
	start := time.Now()
	out, err := exec.Command(binary(t), "store", "copy", "--from", data, "--to", dsn).CombinedOutput()
	if err != nil {
		t.Fatalf("store copy: %v\n%s", err, out)
	}
	t.Logf("store copy of %d accounts, %d properties: %v\n%s", accounts, accounts*perAccount, time.Since(start).Round(time.Millisecond), out)
	for _, want := range []string{"accounts", "ccs_properties", "signing_keys"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the copy's report does not list %s", want)
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "ccs_properties" && f[1] != fmt.Sprint(accounts*perAccount) {
			t.Errorf("ccs_properties copied %s rows, want %d: %q", f[1], accounts*perAccount, line)
		}
	}

	// A copy into a database that holds data is refused, changing nothing.
	if out, err := exec.Command(binary(t), "store", "copy", "--from", data, "--to", dsn).CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Errorf("a second copy into the same database: %v\n%s", err, out)
	}

	key, err := os.ReadFile(filepath.Join(data, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	pg := startServeIn(t, filepath.Join(t.TempDir(), "unused"), []string{"ORCH_SECRET_KEY=" + strings.TrimSpace(string(key))}, "--postgres-url", dsn, public)
	bearer := map[string]string{"Authorization": "Bearer " + token}
	var doc struct {
		Payload map[string]any `json:"payload"`
	}
	if st := pg.do(t, "GET", "/v2/context/document/"+first.AccountID+"/crm/conv-1", bearer, nil, &doc); st != 200 || len(doc.Payload) != perAccount {
		t.Fatalf("token issued before the copy, on PostgreSQL: %d, %d properties", st, len(doc.Payload))
	}
	if st, b := pg.exchange(t, "GET", "/v1/account/"+last.AccountID+"/crm/conv-1/properties/p042", map[string]string{"maven-api-key": last.APIKey}, nil); st != 200 || !strings.Contains(string(b), fmt.Sprintf("value 42 of %d", accounts-1)) {
		t.Errorf("API key and data of the last account on PostgreSQL: %d %s", st, b)
	}
	if tok := pg.login(t, last); tok == "" {
		t.Error("the password of the last account does not log in on PostgreSQL")
	}
	var list []map[string]any
	if st := pg.do(t, "GET", "/admin/v1/accounts", map[string]string{"Authorization": "Bearer " + pg.admin}, nil, &list); st != 200 || len(list) != accounts {
		t.Errorf("accounts on PostgreSQL: %d, %d listed; want %d", st, len(list), accounts)
	}
}
