package nextactions

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// collidingNeedle returns "a"×(n-6) + "<.[#><": every window of n bytes
// of a run of "a" has its Rabin–Karp hash (finding: CONTAINS in 2.5 s).
func collidingNeedle(n int) string { return strings.Repeat("a", n-6) + "<.[#><" }

// TestIndex pins that index finds what strings.Index finds, for short
// and long needles, periodic ones and the Rabin–Karp collision.
func TestIndex(t *testing.T) {
	long := strings.Repeat("ab", 100)
	for _, tt := range []struct{ s, sub string }{
		{"", ""}, {"abc", ""}, {"", "a"}, {"abc", "abc"}, {"abc", "abd"},
		{strings.Repeat("a", 1000), strings.Repeat("a", 100)},
		{strings.Repeat("a", 1000) + "b", strings.Repeat("a", 100) + "b"},
		{strings.Repeat("a", 1000), strings.Repeat("a", 99) + "b"},
		{strings.Repeat("ab", 1000) + "abc", long + "c"},
		{"x" + long + "abab" + long, long + "abab" + long},
		{strings.Repeat("a", 2000), collidingNeedle(100)},
		{strings.Repeat("a", 2000) + "<.[#><", collidingNeedle(100)},
		{strings.Repeat("a", 200), collidingNeedle(65)},
		{strings.Repeat("abc", 50) + "abd", strings.Repeat("abc", 30) + "abd"},
	} {
		if got, want := index(tt.s, tt.sub), strings.Index(tt.s, tt.sub); got != want {
			t.Errorf("index(%.20q…, %.20q…) = %d, want %d", tt.s, tt.sub, got, want)
		}
	}
}

// FuzzIndex checks index against strings.Index; the needle is repeated
// to pass the short-needle cutover, and taken from the haystack half the
// time so that matches are common.
func FuzzIndex(f *testing.F) {
	f.Add("abababababc", "ababc", uint8(20), uint8(0), false)
	f.Add("aaaaaaaab", "aab", uint8(40), uint8(1), true)
	f.Add(strings.Repeat("a", 300), "a", uint8(70), uint8(3), true)
	f.Fuzz(func(t *testing.T, s, unit string, reps, from uint8, fromS bool) {
		sub := strings.Repeat(unit, int(reps))
		if fromS && len(s) > 0 {
			i := int(from) % len(s)
			sub = s[i:min(len(s), i+len(sub)+1)]
		}
		hay := strings.Repeat(s, 3)
		if got, want := index(hay, sub), strings.Index(hay, sub); got != want {
			t.Fatalf("index(%q, %q) = %d, want %d", hay, sub, got, want)
		}
		if got, want := kmpIndex(hay, sub+"x"), strings.Index(hay, sub+"x"); len(sub) < len(hay) && got != want {
			t.Fatalf("kmpIndex(%q, %q) = %d, want %d", hay, sub+"x", got, want)
		}
	})
}

// BenchmarkSearchWorstCase measures index on the worst haystacks known:
// a run of "a" with a needle whose every window collides (Rabin–Karp) or
// almost matches (KMP), per byte of haystack+needle, against the charge
// of searchSteps.
func BenchmarkSearchWorstCase(b *testing.B) {
	hay := strings.Repeat("a", 780_000)
	for _, n := range []int{31, 32, 65, 1000, 389_994 + 6} {
		for _, kind := range []string{"collide", "ab"} {
			sub := collidingNeedle(n)
			if kind == "ab" {
				sub = strings.Repeat("a", n-1) + "b"
			}
			b.Run(kind+"/"+strconv.Itoa(n), func(b *testing.B) {
				for b.Loop() {
					if index(hay, sub) >= 0 {
						b.Fatal("found")
					}
				}
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(ns/float64(searchSteps(hay, sub)), "ns/step")
			})
		}
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestContainsCollidingNeedle pins the CONTAINS finding: a haystack of
// 780,000 "a" and a needle of 389,994 "a" + "<.[#><" (every window
// collides with strings.Index's Rabin–Karp hash) took 2.5 s of CPU for
// one condition (answered 200) and 2.3 s for the expression (then 422).
// Both now take a few milliseconds and spend their linear cost.
func TestContainsCollidingNeedle(t *testing.T) {
	vars := map[string]any{"hay.s": strings.Repeat("a", 780_000), "ndl.x": collidingNeedle(390_000)}
	for _, tt := range []struct {
		name string
		p    Policy
	}{
		{"condition", Policy{ID: "p", Actions: skill42, Conditions: []Condition{{Property: "hay.s", Type: OpContains, Value: "{{ndl.x}}"}}}},
		{"expression", Policy{ID: "p", Actions: skill42, Expression: "not (hay.s contains ndl.x) and hay.s startsWith 'a'"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, tt.p)
			b := newBudget(context.Background(), EvalBudget)
			before := cpuTime(t)
			res, err := evaluate([]*Compiled{c}, cpuLookup(vars), time.Now(), b)
			took := cpuTime(t) - before
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.name == "expression"; (res.Matched != nil) != want {
				t.Errorf("matched %v, want %v", res.Matched != nil, want)
			}
			if took > 200*time.Millisecond {
				t.Errorf("took %v of CPU, want well under 1 s", took)
			}
			// The search is charged for the size of both sides, as KMP.
			spent := EvalBudget - b.left
			if min := int64(1_170_000 / StringBytesPerStep * kmpCostFactor); spent < min {
				t.Errorf("spent %d steps, want at least %d", spent, min)
			}
			t.Logf("%v of CPU, %d steps", took, spent)
		})
	}
}
