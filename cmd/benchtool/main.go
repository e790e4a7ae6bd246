// Command benchtool is the Go half of scripts/bench: it serves the
// trivial hello handler that marks this machine's ceiling, seeds a
// running server with accounts and context data over its public APIs,
// sends the seeded requests at a fixed rate (rate, open loop, with
// vegeta), reads processes' CPU time from /proc (ticks, and pgticks for
// PostgreSQL's), and creates and drops the throwaway PostgreSQL database
// of a `scripts/bench --store postgres` run (so the script needs no psql).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orchestrator/orchestrator/wire"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool hello|seed|rate|ticks|pgdb|pgticks [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "hello":
		err = hello(os.Args[2:])
	case "seed":
		err = seed(os.Args[2:])
	case "rate":
		err = rate(os.Args[2:])
	case "ticks":
		err = ticks(os.Args[2:])
	case "pgdb":
		err = pgdb(os.Args[2:])
	case "pgticks":
		err = pgticks(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// hello serves a trivial net/http handler: the ceiling of this machine.
func hello(args []string) error {
	fs := flag.NewFlagSet("hello", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18099", "listen address")
	fs.Parse(args)
	body := []byte("hello\n")
	return http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
}

// seed creates accounts through the operator API and writes them to
// <out>/accounts.txt (one "accountId userId password apiKey" per line),
// then writes properties through v1 PATCH in batches: each account gets
// namespace "bench" with sessions s0..s9 holding its share of properties.
func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:18080", "server URL")
	tokenFile := fs.String("admin-token-file", "", "operator token file (the embedded store writes <data>/admin.token)")
	token := fs.String("admin-token", os.Getenv("ORCH_ADMIN_TOKEN"), "operator token (default $ORCH_ADMIN_TOKEN): a server on PostgreSQL takes it from the environment and writes no file")
	n := fs.Int("accounts", 1000, "accounts to create")
	m := fs.Int("properties", 100000, "properties to write in all")
	out := fs.String("out", ".", "output folder")
	workers := fs.Int("workers", 16, "concurrent requests")
	fs.Parse(args)
	tok := strings.TrimSpace(*token)
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return err
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return fmt.Errorf("seed: no operator token: pass --admin-token-file or --admin-token (or set ORCH_ADMIN_TOKEN)")
	}
	admin := "Bearer " + tok
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *workers}}
	ctx := context.Background()

	do := func(method, url string, hdr map[string]string, body []byte) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
		return b, nil
	}
	parallel := func(count int, fn func(i int) error) error {
		var next atomic.Int64
		var first error
		var once sync.Once
		var wg sync.WaitGroup
		for w := 0; w < *workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= count {
						return
					}
					if err := fn(i); err != nil {
						once.Do(func() { first = err })
						return
					}
				}
			}()
		}
		wg.Wait()
		return first
	}

	start := time.Now()
	accts := make([]wire.Account, *n)
	err := parallel(*n, func(i int) error {
		b, err := do("POST", *base+"/admin/v1/accounts", map[string]string{"Authorization": admin, "Content-Type": "application/json"},
			[]byte(fmt.Sprintf(`{"name":"bench %d"}`, i)))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &accts[i]); err != nil {
			return err
		}
		if accts[i].Credentials == nil || accts[i].APIKey == "" {
			return fmt.Errorf("create account: no key or credentials in %s", b)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeded %d accounts in %v\n", *n, time.Since(start).Round(time.Millisecond))
	f, err := os.Create(filepath.Join(*out, "accounts.txt"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, a := range accts {
		basic := base64.StdEncoding.EncodeToString([]byte(a.Credentials.UserID + ":" + a.Credentials.Password))
		fmt.Fprintf(w, "%s %s %s %s %s\n", a.AccountID, a.Credentials.UserID, a.Credentials.Password, a.APIKey, basic)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	f.Close()

	// Tokens of (up to) the first 1,000 accounts, for the v2 read load.
	nt := min(*n, 1000)
	toks := make([]string, nt)
	err = parallel(nt, func(i int) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", *base+"/v2/authenticate/login", nil)
		req.SetBasicAuth(accts[i].Credentials.UserID, accts[i].Credentials.Password)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var body struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
			return fmt.Errorf("login %d: status %d %v", i, resp.StatusCode, err)
		}
		toks[i] = body.Token
		return nil
	})
	if err != nil {
		return err
	}
	var tb strings.Builder
	for i, t := range toks {
		fmt.Fprintf(&tb, "%s %s\n", accts[i].AccountID, t)
	}
	if err := os.WriteFile(filepath.Join(*out, "tokens.txt"), []byte(tb.String()), 0o600); err != nil {
		return err
	}

	// Properties: each account's share is spread over up to ten sessions
	// s0..s9 of about ten properties each (property i in session
	// i%sessions), as conversations hold a handful each; they are
	// written in PATCHes of up to 100 keys.
	type batch struct {
		acct    int
		session int
		names   []int
	}
	var batches []batch
	per := *m / *n
	for a := 0; a < *n; a++ {
		cnt := per
		if a < *m%*n {
			cnt++
		}
		// Sessions of about ten properties each, at most ten.
		sessions := min(max(cnt/10, 1), 10)
		for s := 0; s < sessions && s < cnt; s++ {
			var names []int
			for i := s; i < cnt; i += sessions {
				names = append(names, i)
				if len(names) == 100 {
					batches = append(batches, batch{acct: a, session: s, names: names})
					names = nil
				}
			}
			if len(names) > 0 {
				batches = append(batches, batch{acct: a, session: s, names: names})
			}
		}
	}
	start = time.Now()
	err = parallel(len(batches), func(i int) error {
		b := batches[i]
		props := make(map[string]any, len(b.names))
		for _, i := range b.names {
			props[fmt.Sprintf("p%d", i)] = map[string]any{"n": i, "text": "value of a seeded property"}
		}
		body, _ := json.Marshal(props)
		a := accts[b.acct]
		_, err := do("PATCH", fmt.Sprintf("%s/v1/account/%s/bench/s%d/properties", *base, a.AccountID, b.session),
			map[string]string{"maven-api-key": a.APIKey, "Content-Type": "application/json"}, body)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeded %d properties in %d requests in %v\n", *m, len(batches), time.Since(start).Round(time.Millisecond))
	return nil
}
