// Command chaostool is the Go half of scripts/chaos: the kill -9
// campaign of the reliability review (issue 12 item 9). It starts
// `orchestrator serve` on a fresh data directory on 127.0.0.1, creates an
// account through the operator API, and for each round runs writers that
// PATCH unique values through v1, kills the server with SIGKILL at a
// random moment, checks the store's integrity while it is down, restarts
// it on the same directory and reads back every write acknowledged so far.
//
// It prints one line per round, then exactly
//
//	acknowledged=N lost=N rounds=N
//
// and exits 1 when an acknowledged write is missing or differs, when a
// write is found half stored, or when an integrity check fails.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "modernc.org/sqlite"

	"github.com/orchestrator/orchestrator/wire"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chaostool:", err)
		os.Exit(1)
	}
}

// config holds the flags.
type config struct {
	bin          string
	work         string
	rounds       int
	writers      int
	minKill      time.Duration
	maxKill      time.Duration
	roundTimeout time.Duration
	seed         uint64
	keep         bool
}

// sessionWrites is how many writes one session takes before a writer
// moves to the next: far below the 800,000-character document limit.
const sessionWrites = 500

func run(ctx context.Context, args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("chaostool", flag.ContinueOnError)
	fs.StringVar(&c.bin, "bin", "", "orchestrator binary (required)")
	fs.StringVar(&c.work, "work", "", "folder for the data directory and server logs (default: a new temporary folder)")
	fs.IntVar(&c.rounds, "rounds", 5, "kill -9 rounds")
	fs.IntVar(&c.writers, "writers", 16, "concurrent writers, each on its own sessions")
	fs.DurationVar(&c.minKill, "min-kill", 2*time.Second, "earliest kill after the writers start")
	fs.DurationVar(&c.maxKill, "max-kill", 8*time.Second, "latest kill after the writers start")
	fs.DurationVar(&c.roundTimeout, "round-timeout", 60*time.Second, "bound on one round: writes, kill, integrity check, restart, read-back")
	fs.Uint64Var(&c.seed, "seed", 0, "seed of the kill times (0: random)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work folder even when the campaign passes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case c.bin == "":
		return errors.New("--bin is required")
	case c.rounds < 1 || c.writers < 1:
		return errors.New("--rounds and --writers must be at least 1")
	case c.minKill <= 0 || c.maxKill < c.minKill:
		return errors.New("want 0 < --min-kill <= --max-kill")
	case c.roundTimeout < c.maxKill+10*time.Second:
		return errors.New("--round-timeout must exceed --max-kill by at least 10s")
	}
	if c.seed == 0 {
		c.seed = mrand.Uint64()
	}
	if c.work == "" {
		dir, err := os.MkdirTemp("", "orch-chaos-")
		if err != nil {
			return err
		}
		c.work = dir
	}
	ca := &campaign{config: c, out: out, rng: mrand.New(mrand.NewPCG(c.seed, 0)), data: filepath.Join(c.work, "data")}
	err := ca.run(ctx)
	// The work folder stays for a post-mortem when the campaign fails.
	if err == nil && !c.keep {
		os.RemoveAll(c.work)
	} else {
		fmt.Fprintf(os.Stderr, "chaostool: data directory and server logs kept in %s\n", c.work)
	}
	return err
}

// campaign is one run of rounds against one data directory.
type campaign struct {
	config
	out     io.Writer
	rng     *mrand.Rand
	data    string
	addr    string
	token   string
	account string
	apiKey  string
	srv     *server
	starts  int
	writes  []write         // every write of every round
	lost    map[string]bool // acknowledged writes ever found missing
	failed  bool
}

func (ca *campaign) run(ctx context.Context) error {
	if err := os.MkdirAll(ca.data, 0o700); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ca.addr = ln.Addr().String()
	ln.Close()
	ca.token = randomHex(24) // 48 characters: the server refuses fewer than 32
	ca.lost = map[string]bool{}
	defer func() {
		if ca.srv != nil {
			ca.srv.kill()
		}
	}()
	fmt.Fprintf(os.Stderr, "chaostool: server on %s, data in %s, seed %d\n", ca.addr, ca.data, ca.seed)

	startCtx, cancel := context.WithTimeout(ctx, ca.roundTimeout)
	took, err := ca.start(startCtx)
	if err == nil {
		err = ca.createAccount(startCtx)
	}
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(ca.out, "start=%.2fs account=%s writers=%d kill=%v..%v\n", took.Seconds(), ca.account, ca.writers, ca.minKill, ca.maxKill)

	for r := 1; r <= ca.rounds; r++ {
		rctx, cancel := context.WithTimeout(ctx, ca.roundTimeout)
		err := ca.round(rctx, r)
		cancel()
		if err != nil {
			// A server that does not come back is a finding too: the
			// summary still says what was acknowledged and lost.
			ca.summary(r - 1)
			return fmt.Errorf("round %d: %w", r, err)
		}
	}

	// A clean stop at the end, then one more integrity check.
	stopped, exit := ca.srv.stop(15 * time.Second)
	ca.srv = nil
	integrity, err := integrityCheck(ctx, ca.dbPath())
	if err != nil {
		return err
	}
	if integrity != "ok" {
		ca.failed = true
	}
	fmt.Fprintf(ca.out, "final sigterm_exit=%s stop=%.2fs integrity=%s\n", oneLine(exit), stopped.Seconds(), oneLine(integrity))
	ca.summary(ca.rounds)
	if ca.failed || len(ca.lost) > 0 {
		return errors.New("campaign failed")
	}
	return nil
}

// summary prints the final line: acknowledged writes, those lost, and
// the rounds completed.
func (ca *campaign) summary(rounds int) {
	n := 0
	for _, w := range ca.writes {
		if w.status == acked {
			n++
		}
	}
	fmt.Fprintf(ca.out, "acknowledged=%d lost=%d rounds=%d\n", n, len(ca.lost), rounds)
}

func (ca *campaign) dbPath() string { return filepath.Join(ca.data, "orchestrator.db") }

// round writes until a random kill, checks the store while the server is
// down, restarts it and reads back every write so far.
func (ca *campaign) round(ctx context.Context, r int) error {
	killAfter := ca.minKill + time.Duration(ca.rng.Int64N(int64(ca.maxKill-ca.minKill)+1))
	tr := &http.Transport{MaxIdleConnsPerHost: ca.writers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var stopWriting atomic.Bool
	per := make([][]write, ca.writers)
	var wg sync.WaitGroup
	for w := range ca.writers {
		wg.Go(func() { per[w] = ca.writer(ctx, client, r, w, &stopWriting) })
	}
	select {
	case <-time.After(killAfter):
	case <-ctx.Done():
		stopWriting.Store(true)
		wg.Wait()
		return ctx.Err()
	}
	// No writer starts a request from here on, so the writes in flight
	// are those the kill cuts. The kill: SIGKILL, then wait until the
	// process is reaped, so that nothing of it (its file locks included)
	// outlives it.
	stopWriting.Store(true)
	ca.srv.kill()
	ca.srv = nil
	wg.Wait()
	var round []write
	for _, ws := range per {
		round = append(round, ws...)
	}
	ca.writes = append(ca.writes, round...)
	var nAcked, nFlight, nRefused int
	for _, w := range round {
		switch w.status {
		case acked:
			nAcked++
		case inFlight:
			nFlight++
		case refused:
			nRefused++
		}
	}

	integrity, err := integrityCheck(ctx, ca.dbPath())
	if err != nil {
		return err
	}
	if integrity != "ok" {
		ca.failed = true
	}
	took, err := ca.start(ctx)
	if err != nil {
		return err
	}
	docs, err := ca.readBack(ctx, client)
	if err != nil {
		return err
	}
	rep := verify(ca.writes, docs, r)
	for _, id := range rep.Lost {
		ca.lost[strings.Fields(id)[0]] = true
		fmt.Fprintf(os.Stderr, "chaostool: round %d: acknowledged write lost: %s\n", r, id)
	}
	for _, id := range rep.Torn {
		fmt.Fprintf(os.Stderr, "chaostool: round %d: write half stored: %s\n", r, id)
	}
	if len(rep.Torn) > 0 {
		ca.failed = true
	}
	fmt.Fprintf(ca.out, "round=%d kill_after=%.2fs acknowledged=%d in_flight=%d (present=%d absent=%d) refused=%d checked=%d lost=%d torn=%d integrity=%s restart=%.2fs\n",
		r, killAfter.Seconds(), nAcked, nFlight, rep.InFlightPresent, rep.InFlightAbsent, nRefused,
		rep.Acked, len(rep.Lost), len(rep.Torn), oneLine(integrity), took.Seconds())
	return nil
}

// writer PATCHes writes of its own sessions until stop is set, and
// returns them with what the server said. A write refused at connect
// (the server already dead) never reached it and is not kept.
func (ca *campaign) writer(ctx context.Context, client *http.Client, r, w int, stop *atomic.Bool) []write {
	var out []write
	suffix := randomHex(4)
	for n := 0; !stop.Load() && ctx.Err() == nil; n++ {
		wr := write{
			round:   r,
			session: fmt.Sprintf("r%dw%ds%d", r, w, n/sessionWrites),
			n:       n,
			value:   fmt.Sprintf("r%dw%dn%d-%s", r, w, n, suffix),
		}
		url := fmt.Sprintf("http://%s/v1/account/%s/chaos/%s/properties", ca.addr, ca.account, wr.session)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, url, strings.NewReader(wr.body()))
		req.Header.Set("maven-api-key", ca.apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		switch {
		case err != nil && errors.Is(err, syscall.ECONNREFUSED):
			time.Sleep(10 * time.Millisecond)
			continue // never sent; the loop ends once stop is set
		case err != nil:
			wr.status = inFlight
		case resp.StatusCode == http.StatusNoContent:
			wr.status = acked
		default:
			wr.status = refused
		}
		if resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		out = append(out, wr)
	}
	return out
}

// readBack GETs the properties of every session written so far.
func (ca *campaign) readBack(ctx context.Context, client *http.Client) (map[string]map[string]any, error) {
	docs := map[string]map[string]any{}
	for _, s := range sessions(ca.writes) {
		url := fmt.Sprintf("http://%s/v1/account/%s/chaos/%s/properties", ca.addr, ca.account, s)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("maven-api-key", ca.apiKey)
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", s, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", s, err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				return nil, fmt.Errorf("read back %s: %w", s, err)
			}
			docs[s] = doc
		case http.StatusNotFound: // nothing stored in the namespace yet
		default:
			return nil, fmt.Errorf("read back %s: status %d %s", s, resp.StatusCode, body)
		}
	}
	return docs, nil
}

// createAccount creates the campaign's v1 account through the operator API.
func (ca *campaign) createAccount(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ca.addr+"/admin/v1/accounts", strings.NewReader(`{"name":"chaos"}`))
	req.Header.Set("Authorization", "Bearer "+ca.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("create account: status %d %s", resp.StatusCode, body)
	}
	var a wire.Account
	if err := json.Unmarshal(body, &a); err != nil || a.AccountID == "" || a.APIKey == "" {
		return fmt.Errorf("create account: unexpected answer %s", body)
	}
	ca.account, ca.apiKey = a.AccountID, a.APIKey
	return nil
}

// server is one running `orchestrator serve`.
type server struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
	err  error         // its exit, valid after done
	log  *os.File
}

// start starts the server on the campaign's address and data directory
// and returns how long it took to answer /readyz.
func (ca *campaign) start(ctx context.Context) (time.Duration, error) {
	ca.starts++
	logf, err := os.Create(filepath.Join(ca.work, fmt.Sprintf("server-%d.log", ca.starts)))
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(ca.bin, "serve", "--addr", ca.addr, "--data", ca.data, "--log-level", "warn",
		// No quota: a long campaign writes more than the default 100,000 properties.
		"--account-max-properties", "0", "--account-max-bytes", "0")
	cmd.Env = append(serverEnv(os.Environ()), "ORCH_ADMIN_TOKEN="+ca.token)
	cmd.Stdout, cmd.Stderr = logf, logf
	began := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return 0, err
	}
	s := &server{cmd: cmd, done: make(chan struct{}), log: logf}
	go func() { s.err = cmd.Wait(); logf.Close(); close(s.done) }()
	ca.srv = s

	probe := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ca.addr+"/readyz", nil)
		if resp, err := probe.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(began), nil
			}
		}
		select {
		case <-s.done:
			return 0, fmt.Errorf("server exited at start (%v); see %s", s.err, logf.Name())
		case <-ctx.Done():
			return 0, fmt.Errorf("server not ready after %v: %w", time.Since(began).Round(time.Millisecond), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL and returns once the process has been reaped.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop sends SIGTERM, waits up to grace for the exit, then kills; it
// returns how long the server took to exit and how it exited ("ok" for
// status 0), for the report.
func (s *server) stop(grace time.Duration) (time.Duration, string) {
	began := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(grace):
		s.kill()
		return time.Since(began), "killed_after_grace"
	}
	if s.err != nil {
		return time.Since(began), s.err.Error()
	}
	return time.Since(began), "ok"
}

// serverEnv drops ORCH_* variables of the caller's environment, so that
// only the flags given here configure the server under test.
func serverEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ORCH_") {
			out = append(out, kv)
		}
	}
	return out
}

// integrityCheck runs PRAGMA integrity_check on the store, opened read
// only, while no server has it open; it returns "ok" or SQLite's findings.
func integrityCheck(ctx context.Context, path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("integrity check: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return "", fmt.Errorf("integrity check: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return "", fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", fmt.Errorf("integrity check: %w", err)
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("integrity check: %w", err)
	}
	return strings.Join(lines, "; "), nil
}

// oneLine keeps a finding on one short line of the report.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, " ", "_")
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
