package main

import (
	"fmt"
	"sort"
)

// status is what the client knows about one write.
type status int

const (
	// acked: the server answered 204, so the write must survive any crash.
	acked status = iota
	// inFlight: the connection broke before an answer (the kill), so the
	// write may or may not be stored, but never half of it.
	inFlight
	// refused: the server answered something other than 204; the write
	// must not be stored half.
	refused
)

// write is one v1 PATCH: properties a<n> and b<n> of session, both set to
// value, which no other write uses.
type write struct {
	round   int
	session string
	n       int
	value   string
	status  status
}

// id names the write in reports.
func (w write) id() string { return fmt.Sprintf("%s#%d", w.session, w.n) }

// body is the JSON object the write PATCHes.
func (w write) body() string {
	return fmt.Sprintf(`{"a%d":%q,"b%d":%q}`, w.n, w.value, w.n, w.value)
}

// outcome is what a session read back says about one write.
type outcome int

const (
	whole  outcome = iota // both properties, with the write's value
	absent                // neither property
	torn                  // one property with the value, the other missing
	wrong                 // a property holds another value
)

func (o outcome) String() string {
	return [...]string{"whole", "absent", "torn", "wrong"}[o]
}

// check compares a write with its session's properties as read back.
func check(w write, doc map[string]any) outcome {
	a, hasA := doc[fmt.Sprintf("a%d", w.n)]
	b, hasB := doc[fmt.Sprintf("b%d", w.n)]
	switch {
	case hasA && a != w.value, hasB && b != w.value:
		return wrong
	case hasA && hasB:
		return whole
	case !hasA && !hasB:
		return absent
	default:
		return torn
	}
}

// report sums up one verification.
type report struct {
	Acked           int      // acknowledged writes checked
	Lost            []string // acknowledged writes not whole (ids)
	InFlightPresent int      // writes of the given round cut by the kill, found whole
	InFlightAbsent  int      // the same, found absent
	Torn            []string // unacknowledged writes found half or with another value
}

// verify checks every write against docs (session → properties; a
// session missing from docs has none). Acknowledged writes must be whole;
// the others must be whole or absent. In-flight counts are of round only.
func verify(writes []write, docs map[string]map[string]any, round int) report {
	var r report
	for _, w := range writes {
		o := check(w, docs[w.session])
		switch w.status {
		case acked:
			r.Acked++
			if o != whole {
				r.Lost = append(r.Lost, w.id()+" "+o.String())
			}
		default:
			if o == torn || o == wrong {
				r.Torn = append(r.Torn, w.id()+" "+o.String())
			}
			if w.status == inFlight && w.round == round {
				if o == whole {
					r.InFlightPresent++
				} else if o == absent {
					r.InFlightAbsent++
				}
			}
		}
	}
	sort.Strings(r.Lost)
	sort.Strings(r.Torn)
	return r
}

// sessions lists the sessions the writes touched, sorted.
func sessions(writes []write) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range writes {
		if !seen[w.session] {
			seen[w.session] = true
			out = append(out, w.session)
		}
	}
	sort.Strings(out)
	return out
}
