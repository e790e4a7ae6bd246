package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// rate sends one kind of the bench's requests at a fixed rate for a fixed
// time and prints one line of key=value results (see rateSummary.String):
//
//	benchtool rate --url http://127.0.0.1:PORT --dir BENCH_DIR --kind login --rate 800 --duration 10s
//
// The load is open loop (vegeta): request i is sent at i/rate seconds
// whether or not the earlier ones have been answered, so a slow answer
// does not hold the next requests back and hide its queueing from the
// percentiles (coordinated omission), as a closed-loop tool such as wrk
// does at a fixed connection count. vegeta measures each latency from
// the moment it sends; lag_p99_ms says how late the sends were against
// their schedule, which is what this generator, on a machine whose CPU it
// shares with the server, could still fail to hide.
//
// The requests are those of scripts/bench.d/<kind>.lua, built from the
// seed's BENCH_DIR/accounts.txt and tokens.txt. Every answer that is not
// 2xx, and every transport error or timeout, counts as failed; the exit
// status is 1 when any did.
func rate(args []string) error {
	fs := flag.NewFlagSet("rate", flag.ExitOnError)
	base := fs.String("url", "", "server URL (loopback)")
	dir := fs.String("dir", os.Getenv("BENCH_DIR"), "the seed's output folder (accounts.txt, tokens.txt; default $BENCH_DIR)")
	kind := fs.String("kind", "", "requests to send: "+strings.Join(rateKinds, ", "))
	perSec := fs.Int("rate", 0, "requests per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	timeout := fs.Duration("timeout", 5*time.Second, "per-request timeout (a timeout counts as failed)")
	maxWorkers := fs.Uint64("max-workers", 10000, "requests in flight at most: past it the load is no longer open loop, which lag_p99_ms shows")
	conns := fs.Int("connections", 64, "connections at most; a request sent while all are busy waits for one, and the wait counts in its latency")
	cpuProfile := fs.String("cpuprofile", "", "write the generator's own CPU profile to this file")
	fs.Parse(args)
	if *base == "" || *dir == "" || *perSec <= 0 || *duration <= 0 {
		return fmt.Errorf("usage: benchtool rate --url URL --dir BENCH_DIR --kind KIND --rate N --duration D")
	}
	u, err := url.Parse(*base)
	if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
		return fmt.Errorf("rate: --url: want http://127.0.0.1:PORT (load goes to this machine only)")
	}
	accts, toks, err := loadSeed(*dir)
	if err != nil {
		return err
	}
	targets, err := rateTargets(*kind, strings.TrimRight(*base, "/"), accts, toks, rand.IntN(1_000_000)+1)
	if err != nil {
		return err
	}
	// Start at a random request, as each wrk thread does.
	off := rand.IntN(len(targets))
	targets = slices.Concat(targets[off:], targets[:off])

	gen0, err := readProcStat("self")
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	samples := attackAt(targets, *perSec, *duration, *timeout, *maxWorkers, *conns)
	gen1, err := readProcStat("self")
	if err != nil {
		return err
	}
	s := summarize(samples, *perSec)
	s.kind, s.duration, s.genTicks = *kind, *duration, gen1.self-gen0.self
	fmt.Println(s)
	if s.failed > 0 {
		for _, e := range s.errors {
			fmt.Fprintln(os.Stderr, "benchtool rate:", e)
		}
		return fmt.Errorf("rate: %s: %d of %d requests failed", *kind, s.failed, s.requests)
	}
	return nil
}

// attackAt sends targets, round robin, at perSec requests per second for
// duration, open loop, over at most conns connections, and returns what
// vegeta measured of each.
//
// The connections are bounded as a client's pool is: when the server
// falls behind, a request sent on time waits for a free connection, and
// vegeta's latency, taken from the send, includes that wait. Unbounded,
// every late answer made vegeta open another connection, and the
// handshakes took the CPU the server needed.
func attackAt(targets []vegeta.Target, perSec int, duration, timeout time.Duration, maxWorkers uint64, conns int) []rateSample {
	atk := vegeta.NewAttacker(
		vegeta.Timeout(timeout),
		vegeta.MaxWorkers(maxWorkers),
		vegeta.Connections(conns),
		vegeta.MaxConnections(conns),
		vegeta.MaxBody(0),                 // the body is read and dropped, not kept
		vegeta.Redirects(vegeta.NoFollow), // a 3xx is an answer, and a failure
		vegeta.Proxy(func(*http.Request) (*url.URL, error) { return nil, nil }), // never a proxy from the environment
	)
	pacer := vegeta.ConstantPacer{Freq: perSec, Per: time.Second}
	began := time.Now()
	var samples []rateSample
	for res := range atk.Attack(vegeta.NewStaticTargeter(targets...), pacer, duration, "") {
		samples = append(samples, rateSample{
			seq:     res.Seq,
			sent:    res.Timestamp.Sub(began),
			latency: res.Latency,
			code:    int(res.Code),
			err:     res.Error,
		})
	}
	return samples
}

func isLoopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// rateKinds are the kinds of request rate sends: the points of
// scripts/bench that have a script in scripts/bench.d.
var rateKinds = []string{"login", "v2read", "v1read", "v1write", "token"}

// seedAccount is one line of the seed's accounts.txt: "accountId userId
// password apiKey basic", basic being base64(userId:password).
type seedAccount struct{ id, user, password, key, basic string }

// seedToken is one line of the seed's tokens.txt: "accountId token".
type seedToken struct{ id, token string }

// loadSeed reads the accounts and tokens that `benchtool seed` wrote to dir.
func loadSeed(dir string) ([]seedAccount, []seedToken, error) {
	var accts []seedAccount
	err := readFields(filepath.Join(dir, "accounts.txt"), 5, func(f []string) {
		accts = append(accts, seedAccount{id: f[0], user: f[1], password: f[2], key: f[3], basic: f[4]})
	})
	if err != nil {
		return nil, nil, err
	}
	var toks []seedToken
	err = readFields(filepath.Join(dir, "tokens.txt"), 2, func(f []string) {
		toks = append(toks, seedToken{id: f[0], token: f[1]})
	})
	if err != nil {
		return nil, nil, err
	}
	if len(accts) == 0 || len(toks) == 0 {
		return nil, nil, fmt.Errorf("rate: %s: no seeded accounts or tokens", dir)
	}
	return accts, toks, nil
}

// readFields calls fn with the fields of each non-empty line of path,
// which must have n of them.
func readFields(path string, n int, fn func([]string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != n {
			return fmt.Errorf("%s:%d: %d fields, want %d", path, line, len(fields), n)
		}
		fn(fields)
	}
	return sc.Err()
}

// rateTargets builds the requests of scripts/bench.d/<kind>.lua, in the
// same order: one per account (login, v1read, token), one per token
// (v2read), or, for v1write, max(accounts, 1000) PATCHes that each add a
// property named after tag and the request's index (1-based, as in Lua) to
// one of ten sessions w0..w9 of an account.
func rateTargets(kind, base string, accts []seedAccount, toks []seedToken, tag int) ([]vegeta.Target, error) {
	var out []vegeta.Target
	switch kind {
	case "login":
		for _, a := range accts {
			out = append(out, vegeta.Target{Method: "GET", URL: base + "/v2/authenticate/login",
				Header: http.Header{"Authorization": {"Basic " + a.basic}}})
		}
	case "v2read":
		for _, t := range toks {
			out = append(out, vegeta.Target{Method: "GET", URL: base + "/v2/context/document/" + t.id + "/bench/s0",
				Header: http.Header{"Authorization": {"Bearer " + t.token}}})
		}
	case "v1read":
		for _, a := range accts {
			out = append(out, vegeta.Target{Method: "GET", URL: base + "/v1/account/" + a.id + "/bench/s0/properties/p0",
				Header: http.Header{"Maven-Api-Key": {a.key}}})
		}
	case "v1write":
		for j := 1; j <= max(len(accts), 1000); j++ {
			a := accts[(j-1)%len(accts)]
			out = append(out, vegeta.Target{Method: "PATCH",
				URL:    fmt.Sprintf("%s/v1/account/%s/bench/w%d/properties", base, a.id, j%10),
				Body:   fmt.Appendf(nil, `{"w%d_%d":{"n":%d,"text":"written under load"}}`, tag, j, j),
				Header: http.Header{"Maven-Api-Key": {a.key}, "Content-Type": {"application/json"}}})
		}
	case "token":
		for _, a := range accts {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {a.user}, "client_secret": {a.password}}
			out = append(out, vegeta.Target{Method: "POST", URL: base + "/oauth2/token", Body: []byte(form.Encode()),
				Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
		}
	default:
		return nil, fmt.Errorf("rate: --kind %q: want one of %s", kind, strings.Join(rateKinds, ", "))
	}
	return out, nil
}

// rateSample is what rate keeps of one of vegeta's results.
type rateSample struct {
	seq     uint64
	sent    time.Duration // since the attack began
	latency time.Duration
	code    int
	err     string
}

// rateSummary is the outcome of one fixed-rate run.
type rateSummary struct {
	kind     string
	rate     int
	duration time.Duration
	requests int
	failed   int
	// rps is the rate achieved: requests over the time from the attack's
	// start to the last send.
	rps float64
	// p50, p99, p999 and max are latencies over every request, failed ones
	// included (a timeout is a latency someone waited through).
	p50, p99, p999, max time.Duration
	// lagP99 and lagMax are how late the sends were against the pacer's
	// schedule (request i at (i+1)/rate): near zero, the load was open loop.
	lagP99, lagMax time.Duration
	codes          map[int]int
	// errors lists the distinct failures, with their counts.
	errors []string
	// genTicks is this process's own CPU time (clock ticks) during the run.
	genTicks int64
}

// summarize computes the summary of samples sent at perSec requests per
// second. A request fails when it had a transport error or timeout, or an
// answer outside 2xx.
func summarize(samples []rateSample, perSec int) rateSummary {
	s := rateSummary{rate: perSec, requests: len(samples), codes: map[int]int{}}
	lat := make([]time.Duration, 0, len(samples))
	lag := make([]time.Duration, 0, len(samples))
	errs := map[string]int{}
	interval := time.Second / time.Duration(perSec)
	var last time.Duration
	for _, r := range samples {
		lat = append(lat, r.latency)
		lag = append(lag, max(0, r.sent-time.Duration(r.seq+1)*interval))
		last = max(last, r.sent)
		s.codes[r.code]++
		if r.err != "" || r.code < 200 || r.code > 299 {
			s.failed++
			// Go's client errors name the URL (`Get "http://...": timeout`):
			// without it, one cause is one line.
			e := clientErrorURL.ReplaceAllString(r.err, "")
			if e == "" {
				e = fmt.Sprintf("status %d", r.code)
			}
			errs[e]++
		}
	}
	slices.Sort(lat)
	slices.Sort(lag)
	s.p50, s.p99, s.p999 = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 0.999)
	s.lagP99 = percentile(lag, 0.99)
	if len(lat) > 0 {
		s.max, s.lagMax = lat[len(lat)-1], lag[len(lag)-1]
	}
	if last > 0 {
		s.rps = float64(len(samples)) / last.Seconds()
	}
	for e, n := range errs {
		s.errors = append(s.errors, fmt.Sprintf("%d × %s", n, e))
	}
	sort.Strings(s.errors)
	return s
}

// clientErrorURL matches the method and URL that start a Go client error.
var clientErrorURL = regexp.MustCompile(`^[A-Za-z]+ "[^"]*": `)

// percentile is the nearest-rank q-quantile of sorted, ascending values:
// the smallest value that at least q of all values are less than or
// equal to. It is 0 for no values.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// String is the one line rate prints, read by scripts/bench:
// kind rate duration requests failed rps p50_ms p99_ms p999_ms max_ms
// lag_p99_ms lag_max_ms gen_ticks codes (status:count,...; 0 is no answer).
func (s rateSummary) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
	codes := make([]int, 0, len(s.codes))
	for c := range s.codes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var cs []string
	for _, c := range codes {
		cs = append(cs, fmt.Sprintf("%d:%d", c, s.codes[c]))
	}
	return fmt.Sprintf("kind=%s rate=%d duration=%s requests=%d failed=%d rps=%.2f p50_ms=%s p99_ms=%s p999_ms=%s max_ms=%s lag_p99_ms=%s lag_max_ms=%s gen_ticks=%d codes=%s",
		s.kind, s.rate, s.duration, s.requests, s.failed, s.rps, ms(s.p50), ms(s.p99), ms(s.p999), ms(s.max),
		ms(s.lagP99), ms(s.lagMax), s.genTicks, strings.Join(cs, ","))
}
