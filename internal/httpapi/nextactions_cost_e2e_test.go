package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/nextactions"
	"github.com/orchestrator/orchestrator/internal/server/servertest"
)

// cpuTime is the CPU time (user + system) of this process so far. The
// server runs in the test process, so a difference around one request is
// (an upper bound of) the server's CPU time for it.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// jsonList is the JSON list [from, from+step, ...] of n integers.
func jsonList(n, from, step int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(from + i*step))
	}
	b.WriteByte(']')
	return b.String()
}

// TestNextActionsCostBounded reproduces finding 2 of the 2026-12 security
// review over loopback: (A) IS_IN of a 40,000-element list in another
// (10.1 s of CPU, 41 s before), (B) a 120-term concatenation of a
// 700,000-character string (26 s of CPU, 228 MB). Each answers 200 or 422
// within 1.5 s, using under 1.5 s of CPU (SPEC §6: evaluation is bounded
// and never runs longer than 1 s).
func TestNextActionsCostBounded(t *testing.T) {
	env := servertest.Start(t)
	acct := env.CreateAccount(t, true)
	a := acct.AccountID
	v2 := &naClient{t: t, base: env.URL, token: env.Login(t, acct)}
	v1 := &naClient{t: t, base: env.URL, apiKey: acct.APIKey}

	v1.must(204, "PATCH", "/v1/account/"+a+"/dosa/properties", `{"l":`+jsonList(40_000, 0, 1)+`}`)
	v1.must(204, "PATCH", "/v1/account/"+a+"/dosb/properties", `{"r":`+jsonList(40_000, -1, -1)+`}`)
	v1.must(204, "PATCH", "/v1/account/"+a+"/dosc/properties", `{"s":"`+strings.Repeat("x", 700_000)+`"}`)
	terms := make([]string, 120)
	for i := range terms {
		terms[i] = "dosc.s"
	}
	concat := "(" + strings.Join(terms, " + ") + ") == 'y'"

	for _, tt := range []struct {
		name   string
		policy string
	}{
		{"A IS_IN 40k x 40k", `{"name":"a","conditions":[{"property":"dosa.l","type":"IS_IN","value":"{{dosb.r}}"}],
			"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"1"}}]}`},
		{"B 120-term concatenation", `{"name":"b","conditions":[],"expression":"` + concat + `",
			"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"1"}}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := v2.must(201, "POST", "/v2/config/create", `{"accountId":"`+a+`","policy":`+tt.policy+`}`).(map[string]any)
			defer v2.must(200, "DELETE", "/v2/config/delete", fmt.Sprintf(`{"accountId":%q,"id":%q}`, a, p["id"]))

			cpu0, start := cpuTime(t), time.Now()
			st, body := v2.call("POST", "/v2/policy/nextaction", `{"accountId":"`+a+`","conversationId":"c1"}`)
			wall, cpu := time.Since(start), cpuTime(t)-cpu0
			t.Logf("status %d, wall %v, CPU %v", st, wall, cpu)
			switch st {
			case http.StatusOK:
			case http.StatusUnprocessableEntity:
				if m, _ := body.(map[string]any); m["message"] != "evaluation too expensive" {
					t.Errorf("422 body %v, want evaluation too expensive", body)
				}
			default:
				t.Errorf("status %d (%v), want 200 or 422", st, body)
			}
			if wall > 1500*time.Millisecond {
				t.Errorf("wall time %v, want < 1.5 s", wall)
			}
			if cpu > 1500*time.Millisecond {
				t.Errorf("CPU time %v, want < 1.5 s", cpu)
			}
		})
	}
}

// TestPolicyLogFlood reproduces finding 3 of the 2026-12 security review,
// bounded: while 4 clients loop evaluations of 500 never-matching policies
// of one account, another account's log answers within 2 s each time
// (48 s before), and each evaluation logs at most MaxLogPerEvaluation
// entries.
func TestPolicyLogFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the server for a few seconds")
	}
	env := servertest.Start(t)
	flooder, other := env.CreateAccount(t, true), env.CreateAccount(t, true)
	fa, oa := flooder.AccountID, other.AccountID
	fc := &naClient{t: t, base: env.URL, token: env.Login(t, flooder)}
	oc := &naClient{t: t, base: env.URL, token: env.Login(t, other)}

	ctx := context.Background()
	for i := range nextactions.MaxPoliciesPerAccnt {
		_, err := env.Server.API.NextActions.Create(ctx, fa, nextactions.Policy{
			Name:       fmt.Sprint("never ", i),
			Conditions: []nextactions.Condition{{Property: "flood.x", Type: nextactions.OpEqual, Value: "never"}},
			Actions:    []nextactions.Action{{Type: nextactions.ActionTransferToSkill, Payload: map[string]any{"skillId": "1"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	oc.must(201, "POST", "/v2/config/create", `{"accountId":"`+oa+`","policy":{"name":"o","conditions":[],
		"actions":[{"type":"TRANSFER_TO_SKILL","payload":{"skillId":"1"}}]}}`)
	oc.must(200, "POST", "/v2/policy/nextaction", `{"accountId":"`+oa+`","conversationId":"o1"}`)

	const flood = 4 * time.Second
	stop := time.Now().Add(flood)
	var wg sync.WaitGroup
	var requests atomic.Int64
	for range 4 {
		wg.Go(func() {
			client := &http.Client{}
			for time.Now().Before(stop) {
				req, _ := http.NewRequest("POST", env.URL+"/v2/policy/nextaction", strings.NewReader(`{"accountId":"`+fa+`","conversationId":"f1"}`))
				req.Header.Set("Authorization", "Bearer "+fc.token)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				requests.Add(1)
			}
		})
	}
	time.Sleep(flood / 4) // let a backlog build
	var slowest time.Duration
	for time.Now().Before(stop) {
		start := time.Now()
		logs := oc.must(200, "GET", "/v2/policy/logs/"+oa, "").([]any)
		took := time.Since(start)
		slowest = max(slowest, took)
		if took > 2*time.Second {
			t.Errorf("another account's log took %v during the flood, want < 2 s", took)
		}
		if len(logs) != 1 {
			t.Errorf("another account's log has %d entries, want 1", len(logs))
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	logs := fc.must(200, "GET", "/v2/policy/logs/"+fa+"?conversationId=f1", "").([]any)
	t.Logf("%d evaluations of %d policies in %v; the other account's slowest log read %v; the flooder's log holds %d entries",
		requests.Load(), nextactions.MaxPoliciesPerAccnt, flood, slowest, len(logs))
	if n := requests.Load(); int64(len(logs)) > n*nextactions.MaxLogPerEvaluation {
		t.Errorf("%d entries for %d evaluations, want at most %d each", len(logs), n, nextactions.MaxLogPerEvaluation)
	}
}
