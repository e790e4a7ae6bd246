package nextactions

import (
	"slices"
	"strconv"
	"strings"
)

// valueSet is a set of JSON values under the equality of conditions
// (equal): IS_IN and CONTAINS build one from their list (or
// comma-separated string) and look each candidate up in it, so they cost
// the size of both sides, not their product.
//
// Security: IS_IN used to compare every element of the left list with
// every element of the right one: two 40,000-element lists took 10 s of
// CPU per evaluation.
//
// equal is not transitive ("42" equals 42 equals "42.0", but "42" does not
// equal "42.0"; "TRUE" equals true equals "true"), so the set keeps one
// index per kind of comparison rather than one canonical key.
type valueSet struct {
	strs    map[string]struct{}  // string elements, exactly
	nums    map[float64]struct{} // number elements
	numStrs map[float64]struct{} // number elements and numeric string elements, as numbers
	// bools: bool elements; foldBools: strings equal to "true"/"false" in
	// any letter case.
	hasTrue, hasFalse, strTrue, strFalse bool
	hasNil                               bool
	// composite: lists and objects, by their canonical JSON (object keys
	// sorted), compared deeply.
	composite map[string]struct{}
}

// setElemSteps is the cost of adding an element to a set: visiting it,
// and hashing it into up to three indexes (BenchmarkStepCost).
const setElemSteps = 2

func newValueSet() *valueSet {
	return &valueSet{strs: map[string]struct{}{}, nums: map[float64]struct{}{}, numStrs: map[float64]struct{}{}}
}

// add adds v, spending its cost from b; false when the budget is spent.
func (s *valueSet) add(v any, b *budget) bool {
	switch v := v.(type) {
	case nil:
		s.hasNil = true
	case bool:
		if v {
			s.hasTrue = true
		} else {
			s.hasFalse = true
		}
	case float64:
		s.nums[v] = struct{}{}
		s.numStrs[v] = struct{}{}
	case int:
		s.nums[float64(v)] = struct{}{}
		s.numStrs[float64(v)] = struct{}{}
	case string:
		if len(v) > StringBytesPerStep && !b.spend(stringSteps(len(v))) {
			return false
		}
		s.strs[v] = struct{}{}
		if f, ok := number(v); ok {
			s.numStrs[f] = struct{}{}
		}
		switch {
		case strings.EqualFold(v, "true"):
			s.strTrue = true
		case strings.EqualFold(v, "false"):
			s.strFalse = true
		}
	default:
		if !b.spend(sizeSteps(v, EvalBudget)) {
			return false
		}
		key, ok := canonicalKey(v)
		if !ok {
			return true // not a JSON value: equal to nothing
		}
		if s.composite == nil {
			s.composite = map[string]struct{}{}
		}
		s.composite[string(key)] = struct{}{}
	}
	return true
}

// has reports whether some element of s equals v (see equal); ok is false
// when the budget is spent.
func (s *valueSet) has(v any, b *budget) (found, ok bool) {
	switch v := v.(type) {
	case nil:
		return s.hasNil, true
	case bool:
		if v {
			return s.hasTrue || s.strTrue, true
		}
		return s.hasFalse || s.strFalse, true
	case float64:
		_, in := s.numStrs[v]
		return in, true
	case int:
		_, in := s.numStrs[float64(v)]
		return in, true
	case string:
		if len(v) > StringBytesPerStep && !b.spend(stringSteps(len(v))) {
			return false, false
		}
		if _, in := s.strs[v]; in {
			return true, true
		}
		if f, isNum := number(v); isNum {
			if _, in := s.nums[f]; in {
				return true, true
			}
		}
		switch {
		case strings.EqualFold(v, "true"):
			return s.hasTrue, true
		case strings.EqualFold(v, "false"):
			return s.hasFalse, true
		}
		return false, true
	default:
		if s.composite == nil {
			return false, true
		}
		if !b.spend(sizeSteps(v, EvalBudget)) {
			return false, false
		}
		key, ok := canonicalKey(v)
		if !ok {
			return false, true
		}
		_, in := s.composite[string(key)]
		return in, true
	}
}

// setOf returns the set of the right side of IS_IN: the elements of a
// list, or the trimmed items of a comma-separated string; nil for any
// other value (compared with equal). ok is false when the budget is spent.
func setOf(v any, b *budget) (s *valueSet, ok bool) {
	switch v := v.(type) {
	case []any:
		if !b.spend(setElemSteps * int64(len(v))) {
			return nil, false
		}
		s = newValueSet()
		for _, el := range v {
			if !s.add(el, b) {
				return nil, false
			}
		}
		return s, true
	case string:
		if !b.spend(stringSteps(len(v)) + setElemSteps*int64(strings.Count(v, ",")+1)) {
			return nil, false
		}
		s = newValueSet()
		for item := range strings.SplitSeq(v, ",") {
			if !s.add(strings.TrimSpace(item), b) {
				return nil, false
			}
		}
		return s, true
	}
	return nil, true
}

// canonicalKey is the key of a list or object in a set: an encoding
// where two decoded JSON values have the same key exactly when they are
// deeply equal (object keys sorted, strings quoted). ok is false for a
// value that is not decoded JSON. It replaces json.Marshal, which spent
// 1 µs on each {} of a list.
func canonicalKey(v any) (key []byte, ok bool) {
	return appendCanonical(nil, v)
}

func appendCanonical(buf []byte, v any) ([]byte, bool) {
	ok := true
	switch v := v.(type) {
	case nil:
		buf = append(buf, 'n')
	case bool:
		if v {
			buf = append(buf, 't')
		} else {
			buf = append(buf, 'f')
		}
	case float64:
		buf = strconv.AppendFloat(append(buf, '#'), v, 'g', -1, 64)
	case int:
		buf = strconv.AppendFloat(append(buf, '#'), float64(v), 'g', -1, 64)
	case string:
		buf = strconv.AppendQuote(buf, v)
	case []any:
		buf = append(buf, '[')
		for _, el := range v {
			if buf, ok = appendCanonical(buf, el); !ok {
				return nil, false
			}
			buf = append(buf, ',')
		}
		buf = append(buf, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for _, k := range keys {
			buf = append(strconv.AppendQuote(buf, k), ':')
			if buf, ok = appendCanonical(buf, v[k]); !ok {
				return nil, false
			}
			buf = append(buf, ',')
		}
		buf = append(buf, '}')
	default:
		return nil, false
	}
	return buf, true
}

// formatNumber is how CONTAINS looks for a number in a string.
func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
