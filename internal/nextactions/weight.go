package nextactions

// Approximate heap of compiled policies, for the weight of the cache of
// compiled policies (see cache). The constants come from heap
// measurements of compiled policies (TestCompiledWeight): a string, a
// number, an object in a list and their entries in an IS_IN set.
const (
	weightPolicy   = 512 // a Compiled, its rules and slices
	weightExprByte = 128 // an expression's program, per byte of its text
	weightSetElem  = 56  // an element of an IS_IN set (map slots of its indexes)
)

// valueWeight is the approximate heap of a decoded JSON value, including
// the interface that holds it.
func valueWeight(v any) int {
	switch v := v.(type) {
	case string:
		return 36 + len(v)
	case []any:
		n := 40
		for _, el := range v {
			n += valueWeight(el)
		}
		return n
	case map[string]any:
		// A map has 8-slot groups of 32-byte slots, at most 7/8 full.
		n := 64 + 32*max(8, len(v)*8/7+1)
		for k, el := range v {
			n += len(k) + valueWeight(el) - 16
		}
		return n
	case float64, int:
		return 28
	}
	return 16
}

// setWeight is the approximate heap of the IS_IN set of v (see setOf):
// its elements' index entries, plus the canonical JSON of composite ones.
func setWeight(v any) int {
	l, ok := v.([]any)
	if !ok {
		if s, ok := v.(string); ok {
			return 2 * valueWeight(s)
		}
		return 0
	}
	n := 0
	for _, el := range l {
		n += weightSetElem
		switch el.(type) {
		case []any, map[string]any:
			n += 16 + jsonLen(el) // its canonical JSON, the key
		}
	}
	return n
}

// weigh returns the approximate heap of c.
func (c *Compiled) weigh() int {
	n := weightPolicy + len(c.Policy.ID) + len(c.Policy.Name)
	rule := func(conds []Condition, expression string) {
		for _, cd := range conds {
			n += 64 + len(cd.Property) + valueWeight(cd.Value)
			if cd.Type == OpIsIn {
				n += setWeight(cd.Value)
			}
		}
		n += weightExprByte * len(expression)
	}
	rule(c.Policy.Conditions, c.Policy.Expression)
	for _, a := range c.Policy.Actions {
		n += 64 + valueWeight(map[string]any(a.Payload))
	}
	if e := c.Policy.Exception; e != nil {
		rule(e.Conditions, e.Expression)
		for _, a := range e.Actions {
			n += 64 + valueWeight(map[string]any(a.Payload))
		}
	}
	return n
}

// jsonLen approximates the length of the JSON of v.
func jsonLen(v any) int {
	switch v := v.(type) {
	case string:
		return len(v) + 2
	case []any:
		n := 2
		for _, el := range v {
			n += jsonLen(el) + 1
		}
		return n
	case map[string]any:
		n := 2
		for k, el := range v {
			n += len(k) + 4 + jsonLen(el)
		}
		return n
	}
	return 8
}
