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
// its content (JSON starts with "{"). Both are decoded into the same map
// and read by kong.JSON's resolver, so both formats mean the same.
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
	var values map[string]any
	switch ext := strings.ToLower(filepath.Ext(name)); {
	case ext == ".json" || ext != ".yaml" && ext != ".yml" && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")):
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&values); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object: %w", name, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%s: more than one JSON value", name)
		}
	default:
		if err := yaml.Unmarshal(b, &values); err != nil {
			return nil, fmt.Errorf("%s: not a YAML mapping: %w", name, err)
		}
	}
	// kong.JSON looks a flag up as token_ttl or tokenTtl, not as its own
	// name token-ttl, which is what people write: hand it the keys with
	// underscores.
	forKong := make(map[string]any, len(values))
	for k, v := range values {
		u := strings.ReplaceAll(k, "-", "_")
		if _, dup := forKong[u]; dup {
			return nil, fmt.Errorf("%s: %q is set twice, in different spellings", name, u)
		}
		forKong[u] = v
	}
	if b, err = json.Marshal(forKong); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	inner, err := kong.JSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &fileResolver{name: name, inner: inner, keys: values}, nil
}

// fileResolver is kong.JSON over the file, with the environment first
// and unknown keys refused.
type fileResolver struct {
	name  string
	inner kong.Resolver
	keys  map[string]any
}

// notInConfig are flags a config file cannot set.
var notInConfig = []string{"help", "version", "config"}

// Validate refuses a key that names no flag of any command.
func (r *fileResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	_ = kong.Visit(app, func(n kong.Visitable, next kong.Next) error {
		if f, ok := n.(*kong.Flag); ok && !slices.Contains(notInConfig, f.Name) {
			// The spellings kong.JSON looks up.
			known[f.Name] = true
			known[strings.ReplaceAll(f.Name, "-", "_")] = true
			known[camelCase(f.Name)] = true
		}
		return next(nil)
	})
	var unknown []string
	for k := range r.keys {
		if !known[k] {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	if len(unknown) == 1 {
		return fmt.Errorf("%s: unknown key %s: no command has such a flag", r.name, unknown[0])
	}
	return fmt.Errorf("%s: unknown keys %s: no command has such flags", r.name, strings.Join(unknown, ", "))
}

// camelCase is the camelCase spelling kong.JSON also accepts:
// "postgres-url" is "postgresUrl".
func camelCase(name string) string {
	parts := strings.Split(name, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// Resolve answers the file's value for flag, unless the environment sets
// the flag (the environment wins over the file). The value is handed to
// kong as text, as if typed on the command line: a JSON number would
// otherwise be a float64 (67005361 printed as 6.7005361e+07 into a string
// flag, 86400 read as nanoseconds by a duration flag).
func (r *fileResolver) Resolve(kctx *kong.Context, parent *kong.Path, flag *kong.Flag) (any, error) {
	for _, env := range flag.Envs {
		if _, ok := os.LookupEnv(env); ok {
			return nil, nil
		}
	}
	v, err := r.inner.Resolve(kctx, parent, flag)
	if err != nil || v == nil {
		return v, err
	}
	text, err := configText(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	return text, nil
}

// configText is a config value as command-line text; a list is
// comma-separated, as kong reads a list flag.
func configText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := configText(e)
			if err != nil {
				return "", err
			}
			if _, list := e.([]any); list {
				return "", errors.New("a list of lists")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("want a string, number, boolean or list, not %T", v)
	}
}
