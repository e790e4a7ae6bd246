package ccs

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// AppendObject appends the JSON object of props to dst, each name
// prefixed with prefix (the v2 filter form "ns."). Values are stored as
// compact JSON and copied as they are, so a read never re-encodes them.
func AppendObject(dst []byte, props []storage.ContextProperty, prefix string) []byte {
	dst = append(dst, '{')
	for i, p := range props {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, prefix, p.Name)
		dst = append(dst, ':')
		dst = append(dst, p.Value...)
	}
	return append(dst, '}')
}

// AppendString appends s as a JSON string, escaped as encoding/json
// escapes it.
func AppendString(dst []byte, s string) []byte { return appendString(dst, "", s) }

const hex = "0123456789abcdef"

// appendString appends prefix+s as a JSON string, escaped as
// encoding/json escapes it (HTML characters included), so that sizes
// counted by the store match what clients get.
func appendString(dst []byte, prefix, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, prefix)
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// parseObject splits a JSON object into properties with compact values,
// validating every name. The last of duplicate names wins.
func parseObject(field string, obj []byte) ([]storage.ContextProperty, error) {
	obj = bytes.TrimSpace(obj)
	if len(obj) == 0 || obj[0] != '{' {
		return nil, fault.Invalid("%s: must be a JSON object", field)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, fault.Invalid("%s: invalid JSON: %s", field, reason(err))
	}
	if err := checkText(field, obj); err != nil {
		return nil, err
	}
	props := make([]storage.ContextProperty, 0, len(m))
	var buf bytes.Buffer
	for name, raw := range m {
		if err := CheckName("property name", name); err != nil {
			return nil, err
		}
		v, err := compact(&buf, raw)
		if err != nil {
			return nil, err
		}
		props = append(props, storage.ContextProperty{Name: name, Value: v})
	}
	return props, nil
}

// compact returns the compact form of a JSON value (raw itself when it is
// compact already).
func compact(buf *bytes.Buffer, raw []byte) ([]byte, error) {
	if isCompact(raw) {
		return raw, nil
	}
	buf.Reset()
	if err := json.Compact(buf, raw); err != nil {
		return nil, fault.Invalid("property value: invalid JSON: %s", reason(err))
	}
	return bytes.Clone(buf.Bytes()), nil
}

// isCompact reports whether raw, a valid JSON value, has no whitespace
// outside strings.
func isCompact(raw []byte) bool {
	in := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\n' || c == '\r' || c == '\t'):
			return false
		}
	}
	return true
}

// parseValue validates one JSON value and returns its compact form.
func parseValue(raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fault.Invalid("request body: a JSON value is required")
	}
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		return nil, fault.Invalid("request body: invalid JSON: %s", reason(err))
	}
	if err := checkText("request body", raw); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	return compact(&buf, raw)
}

// checkText refuses valid JSON text that the service must not store
// (SPEC §5: names and values are valid UTF-8):
//
//   - invalid UTF-8, or a \u escape of a lone UTF-16 surrogate: values
//     are stored and returned as they came, so clients would get text that
//     decoders replace with U+FFFD or refuse; names would be silently
//     replaced by encoding/json and stored under another name;
//   - a number that does not fit a finite float64 (1e999999999):
//     Security: stored, it made every Next Actions evaluation that read it
//     fail with 500 (security review finding 10).
//
// Numbers without an exponent and of at most 300 digits cannot overflow
// and are not parsed.
func checkText(field string, raw []byte) error {
	if !utf8.Valid(raw) {
		return fault.Invalid("%s: invalid UTF-8", field)
	}
	in := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if in {
			switch c {
			case '"':
				in = false
			case '\\':
				if raw[i+1] != 'u' {
					i++
					continue
				}
				n, ok := surrogates(raw[i:])
				if !ok {
					return fault.Invalid("%s: invalid UTF-8: a \\u escape of a lone surrogate", field)
				}
				i += n - 1
			}
			continue
		}
		switch {
		case c == '"':
			in = true
		case c == '-' || '0' <= c && c <= '9':
			j, exp := i+1, false
			for ; j < len(raw); j++ {
				d := raw[j]
				if d == 'e' || d == 'E' {
					exp = true
				} else if !('0' <= d && d <= '9' || d == '.' || d == '+' || d == '-') {
					break
				}
			}
			if exp || j-i > 300 {
				if f, _ := strconv.ParseFloat(string(raw[i:j]), 64); math.IsInf(f, 0) {
					return fault.Invalid("%s: a number is out of range (it must fit a finite 64-bit float)", field)
				}
			}
			i = j - 1
		}
	}
	return nil
}

// surrogates checks the \u escape at the start of s (valid JSON): a
// surrogate must be a high one followed by an escaped low one. It returns
// the bytes the escape (or pair) takes.
func surrogates(s []byte) (int, bool) {
	r := hex4(s[2:6])
	switch {
	case r < 0xd800 || r > 0xdfff:
		return 6, true
	case r >= 0xdc00:
		return 0, false
	case len(s) < 12 || s[6] != '\\' || s[7] != 'u':
		return 0, false
	}
	if lo := hex4(s[8:12]); lo < 0xdc00 || lo > 0xdfff {
		return 0, false
	}
	return 12, true
}

// hex4 parses four hex digits (valid JSON escapes have them).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

func reason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error()
	}
	return "malformed"
}
