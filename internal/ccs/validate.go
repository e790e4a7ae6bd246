package ccs

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// reserved namespaces cannot be created, deleted or written (SPEC §5).
// Keys are lower case; names are compared in any letter case.
var reserved = map[string]bool{
	"consumer": true, "operational": true, "conversation": true,
	"faas": true, "custom": true, "sde": true,
}

// IsReserved reports whether ns is a reserved namespace name, in any
// letter case. Security: a case-sensitive check let a tenant write
// "Consumer" next to the platform's "consumer", a look-alike namespace
// that a case-insensitive reader (LivePerson's own) treats as the same.
func IsReserved(ns string) bool {
	if len(ns) > len("conversation") {
		return false // longer than any reserved name: no allocation
	}
	return reserved[strings.ToLower(ns)]
}

const namespaceRule = "must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -"

// CheckNamespace validates a namespace name, [A-Za-z0-9_-]{1,64} (SPEC
// §5); field names the request field in the error.
func CheckNamespace(field, ns string) error {
	if len(ns) == 0 || len(ns) > 64 {
		return fault.Invalid("%s: %s", field, namespaceRule)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fault.Invalid("%s: %s", field, namespaceRule)
		}
	}
	return nil
}

// CheckWritable validates a namespace that is about to be created,
// written or deleted: a valid name that is not reserved in any letter
// case.
func CheckWritable(field, ns string) error {
	if err := CheckNamespace(field, ns); err != nil {
		return err
	}
	if IsReserved(ns) {
		return fault.Invalid("%s: %q is reserved", field, ns)
	}
	return nil
}

// CheckName validates a session id or a property name: 1 to 256
// printable characters of valid UTF-8.
func CheckName(field, s string) error {
	if !printable(s) {
		return fault.Invalid("%s: must be 1 to 256 printable characters", field)
	}
	return nil
}

func printable(s string) bool {
	if len(s) == 0 || len(s) > 256*utf8.UTFMax {
		return false
	}
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !unicode.IsPrint(r) {
			return false
		}
		i += size
		n++
	}
	return n <= 256
}
