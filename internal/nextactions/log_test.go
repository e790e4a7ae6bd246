package nextactions

import (
	"fmt"
	"testing"
)

// TestLoggedBounded pins that one evaluation logs at most
// MaxLogPerEvaluation entries, keeping the matched and failed policies
// first, in policy order (finding 3: 500 rows per evaluation flooded the
// log).
func TestLoggedBounded(t *testing.T) {
	var trace []Trace
	for i := range 500 {
		state := StateFalse
		switch {
		case i%100 == 7:
			state = StateDisabled
		case i == 250:
			state = StateError
		case i == 499:
			state = StateTrue
		}
		trace = append(trace, Trace{PolicyID: fmt.Sprint(i), State: state})
	}
	got := logged(trace)
	if len(got) != MaxLogPerEvaluation {
		t.Fatalf("%d entries, want %d", len(got), MaxLogPerEvaluation)
	}
	if got[len(got)-1].State != StateTrue || got[len(got)-2].State != StateError {
		t.Errorf("last entries %+v, want the ERROR then the TRUE one", got[len(got)-2:])
	}
	for _, e := range got {
		if e.State == StateDisabled {
			t.Errorf("kept %+v over FALSE entries", e)
		}
	}
	if short := trace[:10]; len(logged(short)) != 10 {
		t.Errorf("a short trace is cut")
	}
}
