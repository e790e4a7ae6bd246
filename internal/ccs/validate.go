package ccs

import (
	"unicode"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// reserved namespaces cannot be created, deleted or written (SPEC §5).
var reserved = map[string]bool{
	"consumer": true, "operational": true, "conversation": true,
	"faas": true, "custom": true, "sde": true,
}

// IsReserved reports whether ns is a reserved namespace name.
func IsReserved(ns string) bool { return reserved[ns] }

// CheckNamespace validates a namespace name, [A-Za-z0-9_]{1,64}; field
// names the request field in the error.
func CheckNamespace(field, ns string) error {
	if len(ns) == 0 || len(ns) > 64 {
		return fault.Invalid("%s: must be 1 to 64 characters of A-Z, a-z, 0-9 and _", field)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return fault.Invalid("%s: must be 1 to 64 characters of A-Z, a-z, 0-9 and _", field)
		}
	}
	return nil
}

// checkWritable validates a namespace that is about to be created,
// written or deleted: a valid name that is not reserved.
func checkWritable(field, ns string) error {
	if err := CheckNamespace(field, ns); err != nil {
		return err
	}
	if reserved[ns] {
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
