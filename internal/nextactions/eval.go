package nextactions

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
)

// Lookup returns the value of variable ns.name (decoded JSON: string,
// float64, bool, []any, map[string]any or nil) and whether it exists. An
// error aborts the evaluation.
type Lookup func(ns, name string) (value any, ok bool, err error)

// States of a policy in an evaluation (the evaluation log).
const (
	StateTrue     = "TRUE"     // it matched
	StateFalse    = "FALSE"    // it did not match
	StateError    = "ERROR"    // its expression failed at run time
	StateInvalid  = "INVALID"  // the stored policy does not compile
	StateDisabled = "DISABLED" // it is disabled
)

// Trace is what one evaluation did with one policy. Policies after the
// first match are not evaluated and have no trace.
type Trace struct {
	PolicyID string
	State    string
	Err      error // the cause of ERROR or INVALID
}

// Result is the outcome of an evaluation.
type Result struct {
	// Matched is the first enabled policy that held; nil when none did.
	Matched *Compiled
	// Actions are Matched's actions, or its exception's when the
	// exception held.
	Actions   []Action
	Exception bool
	// Enabled counts the enabled policies.
	Enabled int
	Trace   []Trace
}

// Invalid returns an entry for a stored policy that no longer compiles:
// evaluation skips it and traces it as INVALID.
func Invalid(p Policy, err error) *Compiled {
	return &Compiled{Policy: p, invalid: err}
}

// Evaluate evaluates policies in order: disabled ones are skipped, and the
// first enabled one whose conditions all hold and whose expression (if
// any) is true wins. A condition on a missing variable is false, and so is
// an expression that fails because a variable it reads is missing.
func Evaluate(ctx context.Context, policies []*Compiled, lookup Lookup, now time.Time) (Result, error) {
	var res Result
	e := &env{lookup: lookup, now: now}
	machine := &vm.VM{MemoryBudget: ExprMemoryBudget}
	for _, c := range policies {
		if !c.Policy.IsEnabled() {
			res.Trace = append(res.Trace, Trace{PolicyID: c.Policy.ID, State: StateDisabled})
			continue
		}
		res.Enabled++
		if res.Matched != nil {
			continue // counted, not evaluated
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if c.invalid != nil {
			res.Trace = append(res.Trace, Trace{PolicyID: c.Policy.ID, State: StateInvalid, Err: c.invalid})
			continue
		}
		ok, err := e.holds(machine, &c.when)
		if e.abort != nil {
			return res, e.abort
		}
		switch {
		case err != nil:
			res.Trace = append(res.Trace, Trace{PolicyID: c.Policy.ID, State: StateError, Err: err})
			continue
		case !ok:
			res.Trace = append(res.Trace, Trace{PolicyID: c.Policy.ID, State: StateFalse})
			continue
		}
		res.Trace = append(res.Trace, Trace{PolicyID: c.Policy.ID, State: StateTrue})
		res.Matched, res.Actions = c, c.Policy.Actions
		if c.except != nil {
			// An exception that fails to run does not hold: the
			// policy's own actions stand.
			exc, _ := e.holds(machine, c.except)
			if e.abort != nil {
				return res, e.abort
			}
			if exc {
				res.Actions, res.Exception = c.Policy.Exception.Actions, true
			}
		}
	}
	return res, nil
}

// env is the environment of expressions: the variables of one evaluation
// and its clock. Its exported methods are what compiled programs call.
type env struct {
	lookup  Lookup
	now     time.Time
	missing bool  // a variable read by the current rule is missing
	fnErr   error // a function of the current rule failed
	abort   error // a lookup failed: the evaluation stops
}

// Var returns variable name ("ns.var"), nil when missing. A whole JSON
// number is an int, so that integer operators (%) apply to it.
func (e *env) Var(name string) any {
	v, ok := e.get(name)
	if !ok {
		return nil
	}
	if f, isFloat := v.(float64); isFloat && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int(f)
	}
	return v
}

func (e *env) get(name string) (any, bool) {
	ns, prop, _ := strings.Cut(name, ".")
	v, ok, err := e.lookup(ns, prop)
	if err != nil {
		if e.abort == nil {
			e.abort = err
		}
		return nil, false
	}
	if !ok || v == nil {
		e.missing = true
		return nil, false
	}
	return v, true
}

// IsTimeRange is isTimeRange(start, end, timeZone, [days]).
func (e *env) IsTimeRange(start, end, tz string, days ...[]any) bool {
	ok, err := timeRange(e.now, start, end, tz, days)
	if err != nil && e.fnErr == nil {
		e.fnErr = fmt.Errorf("isTimeRange: %w", err)
	}
	return ok
}

// IsDateRange is isDateRange(start, end, timeZone, [days]).
func (e *env) IsDateRange(start, end, tz string, days ...[]any) bool {
	ok, err := dateRange(e.now, start, end, tz, days)
	if err != nil && e.fnErr == nil {
		e.fnErr = fmt.Errorf("isDateRange: %w", err)
	}
	return ok
}

// holds evaluates one rule: every condition, then the expression.
func (e *env) holds(machine *vm.VM, r *rule) (bool, error) {
	for i := range r.conds {
		c := &r.conds[i]
		left, ok := e.get(c.ns + "." + c.name)
		if !ok {
			return false, nil
		}
		right := c.value
		if c.ref != "" {
			if right, ok = e.get(c.ref); !ok {
				return false, nil
			}
		}
		if !apply(c.op, left, right) {
			return false, nil
		}
		if e.abort != nil {
			return false, e.abort
		}
	}
	if r.prog == nil {
		return true, nil
	}
	e.missing, e.fnErr = false, nil
	out, err := machine.Run(r.prog, e)
	switch {
	case e.abort != nil:
		return false, e.abort
	case e.fnErr != nil:
		return false, e.fnErr
	case err != nil && e.missing:
		return false, nil // e.g. missing > 3
	case err != nil:
		return false, errors.New(oneLine(err.Error()))
	}
	b, ok := out.(bool)
	if !ok {
		if out == nil && e.missing {
			return false, nil
		}
		return false, fmt.Errorf("expression is %T, not a boolean", out)
	}
	return b, nil
}

// apply applies a condition operator to a variable's value and the
// condition's value. Numbers compare as numbers (a numeric string counts
// as a number against a number); strings compare as strings; values that
// cannot be compared make the condition false.
func apply(op string, left, right any) bool {
	switch op {
	case OpEqual:
		return equal(left, right)
	case OpNotEqual:
		return !equal(left, right)
	case OpLessThan, OpLessThanOrEqual, OpGreaterThan, OpGreaterThanOrEqual:
		c, ok := order(left, right)
		if !ok {
			return false
		}
		switch op {
		case OpLessThan:
			return c < 0
		case OpLessThanOrEqual:
			return c <= 0
		case OpGreaterThan:
			return c > 0
		default:
			return c >= 0
		}
	case OpContains:
		return contains(left, right)
	case OpIsIn:
		return isIn(left, right)
	}
	return false
}

// number returns v as a number: a JSON number, or a string that is one.
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil
	}
	return 0, false
}

func isNumber(v any) bool {
	switch v.(type) {
	case float64, int:
		return true
	}
	return false
}

// equal compares two JSON values. When either is a number, a numeric
// string on the other side compares as a number ("42" equals 42); a
// boolean equals "true"/"false"; lists and objects compare deeply.
func equal(a, b any) bool {
	if isNumber(a) || isNumber(b) {
		x, ok1 := number(a)
		y, ok2 := number(b)
		return ok1 && ok2 && x == y
	}
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return x == y
		case bool:
			return strings.EqualFold(x, strconv.FormatBool(y))
		}
		return false
	case bool:
		switch y := b.(type) {
		case bool:
			return x == y
		case string:
			return strings.EqualFold(y, strconv.FormatBool(x))
		}
		return false
	}
	return reflect.DeepEqual(a, b)
}

// order compares a with b: numerically when both are numbers (or numeric
// strings), else as strings when both are strings.
func order(a, b any) (int, bool) {
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
	}
	x, ok1 := a.(string)
	y, ok2 := b.(string)
	if ok1 && ok2 {
		return strings.Compare(x, y), true
	}
	return 0, false
}

// contains: a substring of a string, an element of a list, or a key of an
// object.
func contains(a, b any) bool {
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return strings.Contains(x, y)
		case float64:
			return strings.Contains(x, strconv.FormatFloat(y, 'f', -1, 64))
		}
	case []any:
		for _, el := range x {
			if equal(el, b) {
				return true
			}
		}
	case map[string]any:
		if y, ok := b.(string); ok {
			_, has := x[y]
			return has
		}
	}
	return false
}

// isIn: a is an element of the list b, or one of the comma-separated
// items of the string b. When a is a list, any of its elements will do.
func isIn(a, b any) bool {
	if xs, ok := a.([]any); ok {
		for _, x := range xs {
			if isIn(x, b) {
				return true
			}
		}
		return false
	}
	switch y := b.(type) {
	case []any:
		for _, el := range y {
			if equal(a, el) {
				return true
			}
		}
	case string:
		for _, item := range strings.Split(y, ",") {
			if equal(a, strings.TrimSpace(item)) {
				return true
			}
		}
	default:
		return equal(a, b)
	}
	return false
}
