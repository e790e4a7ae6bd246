package nextactions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Variables in action payloads (SPEC §6): a payload value may hold
// {{ns.var}}. A value that is exactly one reference (surrounding blanks
// aside) becomes the variable's JSON value; in a longer string each
// reference is replaced by the variable as text (a string as it is,
// other values as their compact JSON). A "{{" or "}}" that is not part of
// one reference is malformed, and so refused when the policy is saved.

// template is a parsed payload string: literal text and references, in
// order. A template without references is nil.
type template []tmplPart

type tmplPart struct {
	text string // literal text, when ref is ""
	ref  string // "ns.var"
}

// whole reports whether the template is exactly one reference.
func (t template) whole() bool { return len(t) == 1 && t[0].ref != "" }

// parseTemplate parses a payload string. It returns nil for a string
// without references.
func parseTemplate(s string) (template, error) {
	if !strings.Contains(s, "{{") && !strings.Contains(s, "}}") {
		return nil, nil
	}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}") && len(t) >= 4 &&
		!strings.Contains(t[2:len(t)-2], "{{") && !strings.Contains(t[2:len(t)-2], "}}") {
		ref, err := parseRef(t[2 : len(t)-2])
		if err != nil {
			return nil, err
		}
		return template{{ref: ref}}, nil
	}
	var out template
	rest := s
	for rest != "" {
		open := strings.Index(rest, "{{")
		if close := strings.Index(rest, "}}"); close >= 0 && (open < 0 || close < open) {
			return nil, fmt.Errorf("malformed variable reference in %q: \"}}\" without \"{{\" (want {{namespace.name}})", printable(s))
		}
		if open < 0 {
			out = append(out, tmplPart{text: rest})
			break
		}
		if open > 0 {
			out = append(out, tmplPart{text: rest[:open]})
		}
		inner, after, ok := strings.Cut(rest[open+2:], "}}")
		if !ok {
			return nil, fmt.Errorf("malformed variable reference in %q: unterminated \"{{\" (want {{namespace.name}})", printable(s))
		}
		if strings.Contains(inner, "{{") {
			return nil, fmt.Errorf("malformed variable reference in %q: nested \"{{\" (want {{namespace.name}})", printable(s))
		}
		ref, err := parseRef(inner)
		if err != nil {
			return nil, err
		}
		out = append(out, tmplPart{ref: ref})
		rest = after
	}
	return out, nil
}

func parseRef(inner string) (string, error) {
	ref := strings.TrimSpace(inner)
	if _, _, err := parseVariable(ref); err != nil {
		return "", fmt.Errorf("malformed variable reference: %v", err)
	}
	return ref, nil
}

// payloadRefs validates the references of a payload value (strings,
// and those inside lists and objects) and calls use with each. field
// names the value in errors.
func payloadRefs(field string, v any, use func(string)) error {
	switch v := v.(type) {
	case string:
		t, err := parseTemplate(v)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		for _, p := range t {
			if p.ref != "" {
				use(p.ref)
			}
		}
	case []any:
		for i, x := range v {
			if err := payloadRefs(fmt.Sprintf("%s[%d]", field, i), x, use); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, x := range v {
			if err := payloadRefs(field+"."+printable(k), x, use); err != nil {
				return err
			}
		}
	}
	return nil
}

// templated reports whether any payload of actions holds a reference.
func templated(actions []Action) bool {
	found := false
	for _, a := range actions {
		for _, v := range a.Payload {
			_ = payloadRefs("", v, func(string) { found = true })
		}
	}
	return found
}

// errUnresolved is the error of a payload reference to a missing
// variable.
var errUnresolved = errors.New("not set")

// substitute returns actions with the references of their payloads
// replaced by the variables' values, spending the evaluation's budget
// for what it copies and MaxSubstituted for what it puts in the answer.
// A reference that cannot be resolved is an error (the policy is ERROR);
// past the budget or MaxSubstituted, e.abort is set.
func (e *env) substitute(actions []Action) ([]Action, error) {
	out := make([]Action, len(actions))
	for i, a := range actions {
		p := make(map[string]any, len(a.Payload))
		for k, v := range a.Payload {
			x, err := e.substituteValue(v)
			if err != nil {
				return nil, fmt.Errorf("actions[%d].payload.%s: %w", i, k, err)
			}
			p[k] = x
		}
		out[i] = Action{Type: a.Type, Payload: p}
	}
	return out, nil
}

// output counts n more bytes of substituted JSON, and reports whether
// they are within MaxSubstituted; past it, the evaluation aborts.
func (e *env) output(n int64) bool {
	e.substituted += n
	if e.substituted <= MaxSubstituted {
		return true
	}
	if e.abort == nil {
		e.abort = errSubstitutedTooLarge
	}
	return false
}

// outputLeft is how many bytes of substituted JSON may still be made.
func (e *env) outputLeft() int64 { return max(MaxSubstituted-e.substituted, 0) }

func (e *env) substituteValue(v any) (any, error) {
	switch v := v.(type) {
	case string:
		t, err := parseTemplate(v)
		if err != nil || t == nil {
			return v, err // validated on save: a stored policy has no error here
		}
		if t.whole() {
			x, err := e.resolve(t[0].ref)
			if err != nil {
				return nil, err
			}
			// Security: the value goes into the answer whole; its
			// JSON counts against MaxSubstituted.
			if !e.output(jsonSize(x, e.outputLeft())) {
				return nil, e.abort
			}
			return x, nil
		}
		if !e.output(2) { // the quotes
			return nil, e.abort
		}
		// The pieces are gathered, then joined once: the string is
		// allocated at its size, with no copies of growing buffers.
		pieces := make([]string, 0, len(t))
		size := 0
		for _, p := range t {
			s := p.text
			if p.ref != "" {
				x, err := e.resolve(p.ref)
				if err != nil {
					return nil, err
				}
				if _, isString := x.(string); !isString {
					// Its text would be over the bound: do not
					// make it. (Its JSON is its text, and the
					// text is counted as encoded below.)
					if left := e.outputLeft(); jsonSize(x, left) > left {
						e.output(left + 1)
						return nil, e.abort
					}
				}
				if s, err = asText(x); err != nil {
					return nil, err
				}
			}
			// Security: the text made costs the budget, and what it
			// adds to the answer (as JSON) counts against
			// MaxSubstituted, which also bounds one string as + in
			// expressions is (MaxExprString).
			if !e.spend(stringSteps(len(s))) {
				return nil, e.abort
			}
			if !e.output(jsonStringSize(s, e.outputLeft())) {
				return nil, e.abort
			}
			pieces = append(pieces, s)
			size += len(s)
		}
		var b strings.Builder
		b.Grow(size)
		for _, s := range pieces {
			b.WriteString(s)
		}
		return b.String(), nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := e.substituteValue(x)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			y, err := e.substituteValue(x)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	}
	return v, nil
}

// resolve returns the value of a reference, or why it cannot be used.
func (e *env) resolve(ref string) (any, error) {
	e.missing, e.valErr = false, nil
	v, ok := e.get(ref)
	switch {
	case e.abort != nil:
		return nil, e.abort
	case e.valErr != nil:
		return nil, e.valErr
	case !ok:
		return nil, fmt.Errorf("variable %s: %w", ref, errUnresolved)
	}
	if !e.spend(sizeSteps(v, EvalBudget)) {
		return nil, e.abort
	}
	return v, nil
}

// asText is a variable as inserted into a longer string: a string as it
// is, any other value as its compact JSON.
func asText(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
