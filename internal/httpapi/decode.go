package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/fault"
)

// DecodeJSON decodes a JSON request body into v. An empty body decodes to
// the zero value when allowEmpty. Errors are client errors: 400 for bad
// JSON (with the reason), 413 when over the body cap.
//
// Security: the body must be valid UTF-8 with no lone surrogate escape
// (RFC 8259 §8.1, §8.2). encoding/json would silently replace those with
// U+FFFD, so a name the client sent would be stored under another one.
// Error messages name JSON field paths and JSON kinds only, never the Go
// types behind them (encoding/json's own messages do).
//
// Bodies are strict: an object member that v has no field for is a 400
// naming its path ("policy.condition: unknown field"), because a
// misspelled field silently ignored changes what is saved (a policy with
// "condition" would match every conversation). Values decoded into
// json.RawMessage, any or maps (user data) are not checked.
func DecodeJSON(r *http.Request, v any, allowEmpty bool) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError → 413
	}
	if err := CheckJSONText(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			if allowEmpty {
				return nil
			}
			return fault.Invalid("request body: a JSON value is required")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return typeError(reflect.TypeOf(v), te)
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return unknownField(reflect.TypeOf(v), b, name)
		}
		return fault.Invalid("request body: invalid JSON: %s", jsonReason(err))
	}
	if dec.More() {
		return fault.Invalid("request body: unexpected data after the JSON value")
	}
	return nil
}

// CheckJSONText refuses a body that is not valid UTF-8 or that holds a
// \u escape of a lone UTF-16 surrogate: both would be decoded as U+FFFD
// without an error.
func CheckJSONText(b []byte) error {
	if !utf8.Valid(b) {
		return fault.Invalid("request body: invalid UTF-8")
	}
	if loneSurrogate(b) {
		return fault.Invalid("request body: invalid UTF-8: a \\u escape of a lone surrogate")
	}
	return nil
}

// loneSurrogate reports whether a JSON string in b holds a \uD800–\uDFFF
// escape that is not a high surrogate followed by a low one.
func loneSurrogate(b []byte) bool {
	for i := bytes.Index(b, []byte(`\u`)); i >= 0; {
		// Count the backslashes before: an even run means this one
		// starts an escape.
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		next := i + 2
		if n%2 == 0 {
			if r, ok := hex4(b, i+2); ok && r >= 0xd800 && r <= 0xdfff {
				if r >= 0xdc00 {
					return true // a low surrogate first
				}
				lo, ok := rune(0), false
				if i+8 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
					lo, ok = hex4(b, i+8)
				}
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return true
				}
				next = i + 12
			}
		}
		k := bytes.Index(b[min(next, len(b)):], []byte(`\u`))
		if k < 0 {
			return false
		}
		i = min(next, len(b)) + k
	}
	return false
}

// hex4 parses the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// typeError turns a JSON type mismatch into a message that names the JSON
// field path (e.g. "policy.name: want a string"). encoding/json's Field
// also holds the Go names of embedded structs ("v2Doc.accountId"); they
// are dropped by walking the Go type of the decoded value.
func typeError(t reflect.Type, te *json.UnmarshalTypeError) error {
	path := jsonPath(t, te.Field)
	if path == "" {
		path = "request body"
	}
	return fault.Invalid("%s: %s", path, want(te))
}

// jsonPath returns field, a dotted path of encoding/json, with the
// segments that name embedded Go structs left out.
func jsonPath(t reflect.Type, field string) string {
	if field == "" {
		return ""
	}
	var out []string
	for seg := range strings.SplitSeq(field, ".") {
		t = elem(t)
		if t == nil || t.Kind() != reflect.Struct {
			out = append(out, seg)
			t = nil
			continue
		}
		if f, ok := t.FieldByName(seg); ok && f.Anonymous && len(f.Index) == 1 && jsonName(f) == "" {
			t = f.Type // an embedded struct: its fields are the parent's
			continue
		}
		var next reflect.Type
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && (jsonName(f) == seg || jsonName(f) == "" && f.Name == seg) {
				next = f.Type
				break
			}
		}
		t = next
		out = append(out, seg)
	}
	return strings.Join(out, ".")
}

// elem returns the type that a JSON value decodes into through pointers,
// slices, arrays and maps; nil for nil.
func elem(t reflect.Type) reflect.Type {
	for t != nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		default:
			return t
		}
	}
	return nil
}

// jsonName is the name in a field's json tag ("" when none).
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// want describes the JSON a Go type takes, in JSON's own words.
func want(te *json.UnmarshalTypeError) string {
	number := strings.HasPrefix(te.Value, "number")
	t := te.Type
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "unexpected JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "want a string"
	case reflect.Bool:
		return "want true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if number {
			return "want an integer in range"
		}
		return "want an integer"
	case reflect.Float32, reflect.Float64:
		if number {
			return "number out of range"
		}
		return "want a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "want a base64 string"
		}
		return "want an array"
	case reflect.Array:
		return "want an array"
	case reflect.Map, reflect.Struct:
		return "want an object"
	}
	return "unexpected JSON value"
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return "malformed"
}

// unknownField names the JSON path of the object member that encoding/json
// refused as unknown (its error holds the member's name, quoted, but not
// where it is).
func unknownField(t reflect.Type, b []byte, quoted string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if path, err := findUnknown(dec, t, ""); err == nil && path != "" {
		return fault.Invalid("%s: unknown field", printable(path))
	}
	name, err := strconv.Unquote(quoted)
	if err != nil {
		name = quoted
	}
	return fault.Invalid("request body: unknown field %q", printable(name))
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// findUnknown reads one JSON value from dec, which decodes into t, and
// returns the path (below path) of the first object member, in document
// order, that has no struct field to go into; "" when there is none.
func findUnknown(dec *json.Decoder, t reflect.Type, path string) (string, error) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t == rawMessageType || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType) {
		var skip json.RawMessage // opaque: user data, or decoded by its own rules
		return "", dec.Decode(&skip)
	}
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return "", nil // a scalar
	}
	switch d {
	case '[':
		var et reflect.Type
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			et = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if p, err := findUnknown(dec, et, path+"["+strconv.Itoa(i)+"]"); p != "" || err != nil {
				return p, err
			}
		}
	case '{':
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return "", err
			}
			key, _ := tok.(string)
			sub := key
			if path != "" {
				sub = path + "." + key
			}
			var ft reflect.Type
			switch t.Kind() {
			case reflect.Struct:
				f, ok := fieldType(t, key)
				if !ok {
					return sub, nil
				}
				ft = f
			case reflect.Map:
				ft = t.Elem()
			}
			if p, err := findUnknown(dec, ft, sub); p != "" || err != nil {
				return p, err
			}
		}
	}
	_, err = dec.Token() // the closing ] or }
	return "", err
}

// fieldType returns the type of the field of struct t that the object
// member key decodes into, as encoding/json matches them: by json tag or
// Go name, fields of untagged embedded structs promoted, an exact match
// first and then one that differs in letter case only.
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	var fold reflect.Type
	var walk func(t reflect.Type) (reflect.Type, bool)
	walk = func(t reflect.Type) (reflect.Type, bool) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name := jsonName(f)
			if f.Anonymous && name == "" {
				et := f.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					if ft, ok := walk(et); ok {
						return ft, true
					}
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if name == key {
				return f.Type, true
			}
			if fold == nil && strings.EqualFold(name, key) {
				fold = f.Type
			}
		}
		return nil, false
	}
	if ft, ok := walk(t); ok {
		return ft, true
	}
	return fold, fold != nil
}
