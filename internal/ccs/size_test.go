package ccs

import (
	"testing"
	"unicode/utf8"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// The stores bound a document by storage.PropertySize; clients receive
// AppendObject's JSON. The two must count the same characters, or a
// document accepted by the store could read back longer than the bound
// (or one within it be refused).
func TestStoreSizeMatchesDocument(t *testing.T) {
	names := []string{"a", "é", "<b>&", "tab\there", "quote\"back\\slash", "\u2028line", "😀", "nul\x00"}
	values := []string{`1`, `"x"`, `{"k":[1,2,"é"]}`, `"<&>"`, `null`, `"😀"`}
	var props []storage.ContextProperty
	for i, n := range names {
		props = append(props, storage.ContextProperty{Name: n, Value: []byte(values[i%len(values)])})
	}
	for k := 0; k <= len(props); k++ {
		doc := AppendObject(nil, props[:k], "")
		want := int64(storage.EmptyDocumentSize)
		for _, p := range props[:k] {
			want += storage.PropertySize(p.Name, p.Value)
		}
		if k == 0 {
			want++ // "{}": the closing brace that no comma stands for
		}
		if got := int64(utf8.RuneCount(doc)); got != want {
			t.Errorf("%d properties: document %s has %d characters, the store counts %d", k, doc, got, want)
		}
	}
}
