package nextactions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// Bounds of the work of one evaluation (SPEC §6: "Evaluation is bounded").
//
// Security: the values an evaluation reads are the tenant's own context
// data, and a few stored values (two 40,000-element lists under IS_IN, a
// 700,000-character string concatenated 120 times) once cost seconds of
// CPU and hundreds of MB per request. Every operation whose cost grows
// with the size of a value spends steps from a per-request budget before
// (or, for a value it produced, right after) doing the work, and checks
// the request's deadline, so one request does a bounded amount of work
// and stops with ErrTooExpensive when it would do more.
const (
	// EvalBudget is the work of one evaluation, in steps. A step is
	// about 100 ns of work: visiting one element of a list or entry of
	// an object (hashing it into a set, comparing it), decoding
	// DecodeBytesPerStep bytes of JSON, or copying or comparing
	// StringBytesPerStep bytes of a string.
	EvalBudget = 2_000_000
	// DecodeBytesPerStep is the JSON decoded per step.
	DecodeBytesPerStep = 8
	// StringBytesPerStep is the string bytes copied or compared per step.
	StringBytesPerStep = 64
	// ContainerSteps is the cost of visiting a list or an object itself
	// (allocating, hashing or comparing it), beyond its elements.
	ContainerSteps = 2
	// ReadSteps is the cost of one read of a namespace's variables from
	// the Context Service, whether or not it finds any (20 µs over
	// SQLite, BenchmarkReadMissingNamespace).
	ReadSteps = 200
	// ZoneLookupSteps is the cost of looking up a time zone that is not
	// cached (a failed look-up is not: it searches the zone directories of
	// the host, then the embedded database, about 230 µs).
	ZoneLookupSteps = 2500
	// MaxExprString bounds a string an expression produces (by +): no
	// stored value is longer than a CCS document (800,000 characters).
	MaxExprString = 1 << 20
	// MaxSubstituted bounds what substitution puts into the answer of
	// one evaluation, in bytes of JSON: the compact JSON of every value
	// a whole reference becomes, plus every substituted string as it is
	// encoded (literal text and inserted values), over all the policies
	// whose actions are substituted (a policy that fails after part of
	// its substitution counts too). Past it the evaluation stops with
	// ErrTooExpensive, as past EvalBudget.
	//
	// Security: the budget counts the work of building text (64 bytes a
	// step), not how much of it there is: 20 actions of 16 references
	// to a 65,000-character attribute made one answer of 125 MB (with
	// HTML escaping) in 6 s, after the evaluation and outside its
	// bounds. A string over MaxExprString is over this bound too.
	MaxSubstituted = 1 << 20
)

// ErrTooExpensive is the error of an evaluation past its budget or its
// deadline (422 {"message":"evaluation too expensive"}).
var ErrTooExpensive = fault.TooExpensive("evaluation too expensive")

// budget counts the steps left to one evaluation. It is not safe for
// concurrent use: an evaluation runs on one goroutine.
type budget struct {
	ctx  context.Context
	left int64
	err  error // sticky: once spent, every spend fails
}

func newBudget(ctx context.Context, steps int64) *budget {
	return &budget{ctx: ctx, left: steps}
}

// spend takes n steps and reports whether the evaluation may go on; when
// it may not, b.err says why (ErrTooExpensive, or the context's error when
// the caller went away). It checks the deadline on every call, so loops
// that spend per chunk also stop at the deadline.
func (b *budget) spend(n int64) bool {
	if b == nil {
		return true
	}
	if b.err != nil {
		return false
	}
	b.left -= n
	if b.left < 0 {
		b.err = ErrTooExpensive
		return false
	}
	if err := b.ctx.Err(); err != nil {
		b.err = tooExpensiveAt(err)
		return false
	}
	return true
}

// tooExpensiveAt turns the end of an evaluation's context into its error:
// past the deadline, the evaluation was too expensive; a canceled request
// stays canceled.
func tooExpensiveAt(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (past the deadline)", ErrTooExpensive)
	}
	return err
}

// errSubstitutedTooLarge is the error of an evaluation whose substituted
// actions would be over MaxSubstituted bytes.
var errSubstitutedTooLarge = fmt.Errorf("%w (substituted actions over %d bytes of JSON)", ErrTooExpensive, MaxSubstituted)

// stringSteps is the cost of copying or comparing n bytes.
func stringSteps(n int) int64 { return int64(n/StringBytesPerStep) + 1 }

// sizeSteps is the cost of visiting v once: one step per list element and
// object entry, and the bytes of its strings. It walks v, but stops once
// the cost passes limit, so the walk itself costs at most what it reports.
func sizeSteps(v any, limit int64) int64 {
	var n int64
	var walk func(v any)
	walk = func(v any) {
		if n > limit {
			return
		}
		switch v := v.(type) {
		case string:
			n += stringSteps(len(v))
		case []any:
			n += ContainerSteps
			for _, el := range v {
				walk(el)
				if n > limit {
					return
				}
			}
		case map[string]any:
			n += ContainerSteps
			for k, el := range v {
				n += stringSteps(len(k))
				walk(el)
				if n > limit {
					return
				}
			}
		default:
			n++
		}
	}
	walk(v)
	return n
}

// jsonStringSize is the size of s as the contents of a JSON string (the
// quotes aside), as encoding/json writes it without HTML escaping: '"',
// '\\' and \b \f \n \r \t take 2 bytes, other control characters,
// invalid UTF-8 (as \ufffd), U+2028 and U+2029 take 6. It stops counting
// once the size passes limit.
func jsonStringSize(s string, limit int64) int64 {
	var n int64
	for i := 0; i < len(s) && n <= limit; {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += int64(size)
		}
		i += size
	}
	return n
}

// jsonSize is the size of v (decoded JSON) as compact JSON without HTML
// escaping, as encoding/json writes it (a number within a byte or two).
// It stops counting once the size passes limit, so it walks at most about
// limit bytes' worth of v.
func jsonSize(v any, limit int64) int64 {
	var n int64
	var num [32]byte
	var walk func(v any)
	walk = func(v any) {
		if n > limit {
			return
		}
		switch v := v.(type) {
		case nil:
			n += 4
		case bool:
			n += 5
		case string:
			n += 2 + jsonStringSize(v, limit-n)
		case float64:
			n += int64(len(strconv.AppendFloat(num[:0], v, 'g', -1, 64)))
		case int:
			n += int64(len(strconv.AppendInt(num[:0], int64(v), 10)))
		case []any:
			n += 2 + int64(max(len(v)-1, 0))
			for _, el := range v {
				walk(el)
				if n > limit {
					return
				}
			}
		case map[string]any:
			n += 2 + int64(max(len(v)-1, 0))
			for k, el := range v {
				n += 3 + jsonStringSize(k, limit-n)
				walk(el)
				if n > limit {
					return
				}
			}
		default:
			n += 24 // not decoded JSON: never in a variable
		}
	}
	walk(v)
	return n
}
