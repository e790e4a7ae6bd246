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
// error aborts the evaluation, except a *ValueError, which makes the
// policies that read the variable ERROR while evaluation goes on.
type Lookup func(ns, name string) (value any, ok bool, err error)

// ValueError is the error of a stored variable that cannot be used in an
// evaluation, such as a number out of the range of float64.
//
// Security: such a value (1e999999999, stored before the Context Service
// refused it) used to make every evaluation of the account answer 500; it
// now fails only the policies that read it.
type ValueError struct {
	Var string // "ns.name"
	Err error
}

func (e *ValueError) Error() string { return "variable " + e.Var + ": " + e.Err.Error() }

func (e *ValueError) Unwrap() error { return e.Err }

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
//
// The evaluation spends at most EvalBudget steps of work and stops with
// ErrTooExpensive past them or past ctx's deadline.
func Evaluate(ctx context.Context, policies []*Compiled, lookup Lookup, now time.Time) (Result, error) {
	return evaluate(policies, lookup, now, newBudget(ctx, EvalBudget))
}

func evaluate(policies []*Compiled, lookup Lookup, now time.Time, b *budget) (Result, error) {
	var res Result
	ctx := b.ctx
	e := &env{lookup: lookup, now: now, budget: b, sets: map[string]*valueSet{}}
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
			return res, tooExpensiveAt(err)
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
		actions, subst, exception := c.Policy.Actions, c.templated, false
		if c.except != nil {
			// An exception that fails to run does not hold: the
			// policy's own actions stand.
			exc, _ := e.holds(machine, c.except)
			if e.abort != nil {
				return res, e.abort
			}
			if exc {
				actions, subst, exception = c.Policy.Exception.Actions, c.exceptTemplated, true
			}
		}
		if subst {
			// A reference that cannot be resolved makes the policy
			// ERROR, and evaluation goes on (SPEC §6).
			var err error
			actions, err = e.substitute(actions)
			if e.abort != nil {
				return res, e.abort
			}
			if err != nil {
				res.Trace = append(res.Trace, Trace{PolicyID: c.Policy.ID, State: StateError, Err: err})
				continue
			}
		}
		res.Trace = append(res.Trace, Trace{PolicyID: c.Policy.ID, State: StateTrue})
		res.Matched, res.Actions, res.Exception = c, actions, exception
	}
	return res, nil
}

// env is the environment of expressions: the variables of one evaluation
// and its clock. Its exported methods are what compiled programs call.
type env struct {
	lookup  Lookup
	now     time.Time
	budget  *budget
	sets    map[string]*valueSet // variable → the set of its list or items (IS_IN, CONTAINS)
	missing bool                 // a variable read by the current rule is missing
	valErr  error                // a variable read by the current rule cannot be used
	fnErr   error                // a function of the current rule failed
	abort   error                // a lookup failed or the budget is spent: the evaluation stops
	// substituted counts the bytes of JSON substitution made (at most
	// MaxSubstituted).
	substituted int64
}

// spend spends n steps of the evaluation's budget; once it is spent, the
// evaluation aborts.
func (e *env) spend(n int64) bool {
	if e.budget.spend(n) {
		return true
	}
	if e.abort == nil {
		e.abort = e.budget.err
	}
	return false
}

// Operand is what a patched expression calls on each operand of an
// operator whose cost grows with the size of its operands (==, in,
// contains, <, ...): it spends the operand's size and returns it. Past
// the budget it stops the program (the VM turns the panic into an error,
// and holds reports e.abort).
func (e *env) Operand(v any) any {
	if !e.spend(sizeSteps(v, EvalBudget)) {
		panic(e.abort)
	}
	return v
}

// Produced is what a patched expression calls on the result of +: it
// spends the size of the value made, and refuses strings longer than
// MaxExprString.
//
// Security: (s + s + ... 120 terms) over a 700,000-character s made 5 GB
// of strings, 26 s of CPU and 228 MB of memory in one request.
func (e *env) Produced(v any) any {
	if s, ok := v.(string); ok && len(s) > MaxExprString {
		if e.abort == nil {
			e.abort = ErrTooExpensive
		}
		panic(e.abort)
	}
	return e.Operand(v)
}

// Contains is what a patched expression calls for `a contains b` when an
// operand may be large: expr's operator, with a substring search of
// linear worst case (see index) whose cost it spends first.
func (e *env) Contains(a, b any) (bool, error) {
	if a == nil || b == nil {
		return false, nil
	}
	x, ok1 := a.(string)
	y, ok2 := b.(string)
	if !ok1 || !ok2 {
		return false, fmt.Errorf("invalid operation: %T contains %T", a, b)
	}
	if !e.spend(searchSteps(x, y)) {
		panic(e.abort)
	}
	return index(x, y) >= 0, nil
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
	var ve *ValueError
	if errors.As(err, &ve) {
		if e.valErr == nil {
			e.valErr = err
		}
		e.missing = true
		return nil, false
	}
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

// rangeSteps spends the cost of isTimeRange or isDateRange: the size of
// its arguments, and a look-up of a time zone not seen yet (a zone in a
// variable may be any string, and a failed look-up searches the zone
// database every time).
func (e *env) rangeSteps(start, end, tz string, days [][]any) {
	n := 1 + stringSteps(len(start)+len(end)+len(tz))
	if len(days) > 0 {
		n += sizeSteps(days[0], EvalBudget)
	}
	if _, cached := locations.Load(tz); !cached {
		n += ZoneLookupSteps
	}
	if !e.spend(n) {
		panic(e.abort)
	}
}

// IsTimeRange is isTimeRange(start, end, timeZone, [days]).
func (e *env) IsTimeRange(start, end, tz string, days ...[]any) bool {
	e.rangeSteps(start, end, tz, days)
	ok, err := timeRange(e.now, start, end, tz, days)
	if err != nil && e.fnErr == nil {
		e.fnErr = fmt.Errorf("isTimeRange: %w", err)
	}
	return ok
}

// IsDateRange is isDateRange(start, end, timeZone, [days]).
func (e *env) IsDateRange(start, end, tz string, days ...[]any) bool {
	e.rangeSteps(start, end, tz, days)
	ok, err := dateRange(e.now, start, end, tz, days)
	if err != nil && e.fnErr == nil {
		e.fnErr = fmt.Errorf("isDateRange: %w", err)
	}
	return ok
}

// holds evaluates one rule: every condition, then the expression. A
// variable that cannot be used makes the rule fail (ERROR).
func (e *env) holds(machine *vm.VM, r *rule) (bool, error) {
	e.missing, e.valErr, e.fnErr = false, nil, nil
	for i := range r.conds {
		c := &r.conds[i]
		if !e.spend(1) {
			return false, e.abort
		}
		left, ok := e.get(c.ns + "." + c.name)
		if !ok {
			return false, e.failed()
		}
		right := c.value
		if c.ref != "" {
			if right, ok = e.get(c.ref); !ok {
				return false, e.failed()
			}
		}
		holds := e.apply(c, left, right)
		if e.abort != nil {
			return false, e.abort
		}
		if !holds {
			return false, nil
		}
	}
	if r.prog == nil {
		return true, nil
	}
	e.missing, e.valErr, e.fnErr = false, nil, nil
	out, err := machine.Run(r.prog, e)
	switch {
	case e.abort != nil:
		return false, e.abort
	case e.valErr != nil:
		return false, e.valErr
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

// failed is the error of a condition whose variable is missing (nil: the
// condition is false), cannot be used, or whose lookup failed.
func (e *env) failed() error {
	if e.abort != nil {
		return e.abort
	}
	return e.valErr
}

// apply applies a condition operator to a variable's value and the
// condition's value, spending its cost. Numbers compare as numbers (a
// numeric string counts as a number against a number); strings compare
// as strings; values that cannot be compared make the condition false.
// Past the budget it returns false with e.abort set.
func (e *env) apply(c *compiledCondition, left, right any) bool {
	switch c.op {
	case OpEqual, OpNotEqual:
		if !e.spend(sizeSteps(left, EvalBudget) + sizeSteps(right, EvalBudget)) {
			return false
		}
		return equal(left, right) == (c.op == OpEqual)
	case OpLessThan, OpLessThanOrEqual, OpGreaterThan, OpGreaterThanOrEqual:
		if !e.spend(sizeSteps(left, EvalBudget) + sizeSteps(right, EvalBudget)) {
			return false
		}
		o, ok := order(left, right)
		if !ok {
			return false
		}
		switch c.op {
		case OpLessThan:
			return o < 0
		case OpLessThanOrEqual:
			return o <= 0
		case OpGreaterThan:
			return o > 0
		default:
			return o >= 0
		}
	case OpContains:
		return e.contains(c, left, right)
	case OpIsIn:
		return e.isIn(c, left, right)
	}
	return false
}

// setOf returns the set of a condition's right side (IS_IN) or left side
// (CONTAINS) value: the one compiled for a constant, else the one built
// for the variable name, once per evaluation. nil: v is no list (or, for
// IS_IN, comma-separated string).
func (e *env) setOf(name string, constant *valueSet, v any) *valueSet {
	if constant != nil {
		return constant
	}
	if s, ok := e.sets[name]; ok && name != "" {
		return s
	}
	s, ok := setOf(v, e.budget)
	if !ok {
		e.spend(0) // records the budget's error in e.abort
		return nil
	}
	if name != "" {
		e.sets[name] = s
	}
	return s
}

// contains: a substring of a string, an element of a list, or a key of an
// object.
func (e *env) contains(c *compiledCondition, a, b any) bool {
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return e.spend(searchSteps(x, y)) && index(x, y) >= 0
		case float64:
			n := formatNumber(y)
			return e.spend(searchSteps(x, n)) && index(x, n) >= 0
		}
	case []any:
		s := e.setOf(c.ns+"."+c.name, nil, x)
		if s == nil {
			return false
		}
		found, ok := s.has(b, e.budget)
		if !ok {
			e.spend(0)
		}
		return found && ok
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
func (e *env) isIn(c *compiledCondition, a, b any) bool {
	var s *valueSet
	switch b.(type) {
	case []any, string:
		if s = e.setOf(c.ref, c.set, b); s == nil {
			return false // the budget is spent
		}
	}
	return e.in(a, b, s)
}

// in reports whether a (or, for a list, one of its elements, at any
// depth) is in s, or equals b when s is nil.
func (e *env) in(a, b any, s *valueSet) bool {
	if e.abort != nil {
		return false
	}
	if xs, ok := a.([]any); ok {
		if !e.spend(int64(len(xs))) {
			return false
		}
		for _, x := range xs {
			if e.in(x, b, s) {
				return true
			}
			if e.abort != nil {
				return false
			}
		}
		return false
	}
	if s == nil {
		return e.spend(sizeSteps(a, EvalBudget)+sizeSteps(b, EvalBudget)) && equal(a, b)
	}
	found, ok := s.has(a, e.budget)
	if !ok {
		e.spend(0)
	}
	return found && ok
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
	return deepEqual(a, b)
}

// deepEqual is reflect.DeepEqual for decoded JSON values, several times
// faster on lists and objects (it made EQUAL of two 260,000-element lists
// of {} cost 680 ns a step).
func deepEqual(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !deepEqual(xv, yv) {
				return false
			}
		}
		return true
	case string, float64, int, bool, nil:
		return a == b
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
