package accounts

import (
	"strings"
	"testing"
)

// parseIDCases are the account id syntax of SPEC §2, and the fuzz seeds
// of FuzzParseID.
var parseIDCases = []struct {
	in, want string
	ok       bool
}{
	{"67005361", "67005361", true},
	{"le67005361", "67005361", true},
	{"0", "0", true},
	{"le0", "0", true},
	{strings.Repeat("9", 20), strings.Repeat("9", 20), true},
	{"le" + strings.Repeat("9", 20), strings.Repeat("9", 20), true},
	{"", "", false},
	{"l", "", false},
	{"le", "", false},
	{"lele1", "", false},      // one prefix only
	{"LE67005361", "", false}, // the prefix is lower case (the console folds case first)
	{"Le1", "", false},
	{" 1", "", false},
	{"1 ", "", false},
	{"12a", "", false},
	{"-1", "", false},
	{"+1", "", false},
	{"1e3", "", false},
	{"１２", "", false}, // fullwidth digits are not decimal digits here
	{strings.Repeat("9", 21), "", false},
	{"le" + strings.Repeat("9", 21), "", false},
}

func TestParseID(t *testing.T) {
	for _, c := range parseIDCases {
		t.Run(c.in, func(t *testing.T) {
			got, ok := ParseID(c.in)
			if got != c.want || ok != c.ok {
				t.Errorf("ParseID(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func FuzzParseID(f *testing.F) {
	for _, c := range parseIDCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ParseID(s)
		if !ok {
			if id != "" {
				t.Fatalf("ParseID(%q) = %q, false: want an empty id", s, id)
			}
			return
		}
		if id == "" || len(id) > 20 || strings.TrimLeft(id, "0123456789") != "" {
			t.Fatalf("ParseID(%q) = %q", s, id)
		}
		if s != id && s != "le"+id {
			t.Fatalf("ParseID(%q) = %q: not the same account", s, id)
		}
		if again, ok := ParseID("le" + id); !ok || again != id {
			t.Fatalf("le form of %q not accepted", id)
		}
	})
}
