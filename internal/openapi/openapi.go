package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"go.yaml.in/yaml/v3"
)

// yamlDoc is the document as written.
//
//go:embed openapi.yaml
var yamlDoc []byte

// YAML returns the document as written (YAML).
func YAML() []byte { return yamlDoc }

// JSON returns the document as JSON, converted from the YAML once, on
// first use. It panics if the embedded YAML does not convert, which the
// package's tests rule out before a build ships.
func JSON() []byte {
	b, err := jsonDoc()
	if err != nil {
		panic(err)
	}
	return b
}

var jsonDoc = sync.OnceValues(func() ([]byte, error) { return toJSON(yamlDoc) })

// toJSON converts a YAML document (anchors and merge keys resolved) to
// compact JSON.
func toJSON(y []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// A mapping with a key that is not a string (yaml.v3 decodes
		// those to map[any]any) cannot be JSON.
		return nil, fmt.Errorf("openapi.yaml: not JSON-compatible: %w", err)
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	// Full capacity: a caller that appends to the shared slice copies it.
	return out[:len(out):len(out)], nil
}
