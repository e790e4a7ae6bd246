package cli

// --config FILE: a JSON or YAML file of flag values, read through kong's
// resolvers. Each key is a flag's name (addr, token-ttl, postgres-url;
// token_ttl and tokenTtl are accepted too, as kong.JSON reads them), and
// a value is read as if it were given on the command line ("24h", 401,
// true). The file applies to whatever command runs, so one file can hold
// the flags of serve and of the client commands; a key that no command
// has is an error naming it, so that a typo is not silently ignored.
//
// Precedence: the command line, then the environment (a flag's env:
// variable), then the file, then the defaults. Kong applies the
// environment with the defaults, before resolvers, and lets resolvers
// override both; fileResolver therefore answers nothing for a flag whose
// variable is set.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"
	"go.yaml.in/yaml/v3"
)

// maxConfigSize bounds a config file: it holds a few dozen flags.
const maxConfigSize = 1 << 20

// loadConfigFile is the kong.Configuration loader of --config. JSON or
// YAML is chosen by the file's extension (.json, .yaml, .yml), else by
// its content (JSON starts with "{"). Each value is kept as the text the
// file wrote (YAML 0123 stays "0123", a 20-digit account id keeps every
// digit) and handed to kong as if typed on the command line.
func loadConfigFile(r io.Reader) (kong.Resolver, error) {
	name := "--config"
	if f, ok := r.(interface{ Name() string }); ok {
		name = "--config " + f.Name()
	}
	b, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxConfigSize)
	}
	var values map[string]string
	switch ext := strings.ToLower(filepath.Ext(name)); {
	case ext == ".json" || ext != ".yaml" && ext != ".yml" && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")):
		values, err = jsonValues(b)
	default:
		values, err = yamlValues(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// One key a flag, whichever spelling (token-ttl, token_ttl, tokenTtl).
	byFlag := make(map[string]string, len(values))
	for k, v := range values {
		f := flagName(k)
		if _, dup := byFlag[f]; dup {
			return nil, fmt.Errorf("%s: %q is set twice, in different spellings", name, f)
		}
		byFlag[f] = v
	}
	return &fileResolver{name: name, values: byFlag}, nil
}

// jsonValues reads a JSON object of flag values; numbers keep their text.
func jsonValues(b []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	values := make(map[string]string, len(raw))
	for k, v := range raw {
		text, err := jsonText(v, true)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", k, err)
		}
		values[k] = text
	}
	return values, nil
}

func jsonText(v any, listOK bool) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number:
		return v.String(), nil
	case []any:
		if listOK {
			parts := make([]string, len(v))
			for i, e := range v {
				s, err := jsonText(e, false)
				if err != nil {
					return "", err
				}
				parts[i] = s
			}
			return strings.Join(parts, ","), nil
		}
	}
	return "", errors.New("want a string, number, boolean or list")
}

// yamlValues reads a YAML mapping of flag values; scalars keep their
// text. yaml's own messages are not passed on: they quote the file, and
// a secret file given to --config by mistake must not be printed.
func yamlValues(b []byte) (map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, errors.New("not a YAML mapping (it does not parse)")
	}
	values := map[string]string{}
	if doc.Kind == 0 { // an empty file
		return values, nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a YAML mapping (line %d)", root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a key must be a flag name", k.Line)
		}
		text, err := yamlText(v, true)
		if err != nil {
			return nil, fmt.Errorf("%q (line %d): %w", k.Value, v.Line, err)
		}
		values[k.Value] = text
	}
	return values, nil
}

func yamlText(n *yaml.Node, listOK bool) (string, error) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		return n.Value, nil
	case n.Kind == yaml.SequenceNode && listOK:
		parts := make([]string, len(n.Content))
		for i, e := range n.Content {
			s, err := yamlText(e, false)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", errors.New("want a string, number, boolean or list")
}

// flagName is the flag a key names: token_ttl and tokenTtl are token-ttl.
func flagName(key string) string {
	var b strings.Builder
	for i, c := range key {
		switch {
		case c == '_':
			b.WriteByte('-')
		case c >= 'A' && c <= 'Z' && i > 0:
			b.WriteByte('-')
			b.WriteRune(c + ('a' - 'A'))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// fileResolver answers the file's values, with the environment first and
// unknown keys refused.
type fileResolver struct {
	name   string
	values map[string]string // by flag name
}

// notInConfig are flags a config file cannot set: the ones that say what
// to do once (an id, a file, a destination), or that confirm a
// destructive command (--yes), belong on the command line, where they
// are seen.
var notInConfig = []string{"help", "version", "config", "yes", "id", "file", "to", "from"}

// Validate refuses a key that names no flag of any command, or one that a
// file may not set.
func (r *fileResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	_ = kong.Visit(app, func(n kong.Visitable, next kong.Next) error {
		if f, ok := n.(*kong.Flag); ok {
			known[f.Name] = true
		}
		return next(nil)
	})
	var unknown, refused []string
	for k := range r.values {
		switch {
		case slices.Contains(notInConfig, k):
			refused = append(refused, "--"+k)
		case !known[k]:
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	slices.Sort(refused)
	slices.Sort(unknown)
	switch {
	case len(refused) > 0:
		return fmt.Errorf("%s: %s cannot be set in a config file: give it on the command line", r.name, strings.Join(refused, ", "))
	case len(unknown) == 1:
		return fmt.Errorf("%s: unknown key %s: no command has such a flag", r.name, unknown[0])
	case len(unknown) > 1:
		return fmt.Errorf("%s: unknown keys %s: no command has such flags", r.name, strings.Join(unknown, ", "))
	}
	return nil
}

// Resolve answers the file's value for flag, as command-line text,
// unless the environment sets the flag (the environment wins over the
// file).
func (r *fileResolver) Resolve(kctx *kong.Context, parent *kong.Path, flag *kong.Flag) (any, error) {
	for _, env := range flag.Envs {
		if _, ok := os.LookupEnv(env); ok {
			return nil, nil
		}
	}
	v, ok := r.values[flag.Name]
	if !ok || slices.Contains(notInConfig, flag.Name) {
		return nil, nil
	}
	return v, nil
}
