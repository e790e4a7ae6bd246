package nextactions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/maypok86/otter/v2"

	"github.com/orchestrator/orchestrator/internal/fault"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// Bounds of an account's static attributes (the custom.* variables).
const (
	// MaxAttributes is how many attributes an account has at most.
	MaxAttributes = 1000
	// MaxAttributesBytes bounds their compact JSON object.
	MaxAttributesBytes = 64 << 10
)

// PutAttributes validates attrs and replaces the account's static
// attributes with them: at most MaxAttributes names of 1 to 256
// printable characters, whose values are any JSON, at most
// MaxAttributesBytes of compact JSON (else fault.TooLarge). It returns
// them as stored.
func (s *Service) PutAttributes(ctx context.Context, accountID string, attrs map[string]any) (map[string]any, error) {
	if attrs == nil {
		return nil, fault.Invalid("request body: want a JSON object")
	}
	if len(attrs) > MaxAttributes {
		return nil, fault.Invalid("request body: at most %d attributes", MaxAttributes)
	}
	for name := range attrs {
		if !validName(name) {
			return nil, fault.Invalid("%s: an attribute name must be 1 to 256 printable characters", printable(name))
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(attrs); err != nil {
		return nil, fault.Invalid("request body: %v", err)
	}
	body := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(body) > MaxAttributesBytes {
		return nil, fault.TooLarge("attributes too large: at most %d bytes of JSON", MaxAttributesBytes)
	}
	rec := storage.AccountAttributes{AccountID: accountID, Revision: uuid.NewString(), Body: body, UpdatedAt: s.cfg.Now()}
	if err := s.store.PutAccountAttributes(ctx, rec); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fault.NotFound("account %s not found", printable(accountID))
		}
		return nil, err
	}
	s.attrs.put(rec, attrs, len(body))
	return attrs, nil
}

// Attributes returns the account's static attributes ({} when none).
func (s *Service) Attributes(ctx context.Context, accountID string) (map[string]any, error) {
	rec, err := s.store.GetAccountAttributes(ctx, accountID, "")
	if errors.Is(err, storage.ErrNotFound) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body, &out); err != nil {
		return nil, fmt.Errorf("attributes of account %s: %w", accountID, err)
	}
	return out, nil
}

// customVars returns the account's attributes for an evaluation: it reads
// their revision from the store every time (so a PUT on any node is seen
// by the next evaluation everywhere, as policy revisions are) and their
// body only when the revision is not the one cached, spending the
// evaluation's budget for the read and the decoding.
func (s *Service) customVars(ctx context.Context, accountID string, b *budget) (map[string]any, error) {
	if !b.spend(ReadSteps) {
		return nil, b.err
	}
	cached, _ := s.attrs.c.GetIfPresent(accountID)
	known := ""
	if cached != nil {
		known = cached.revision
	}
	rec, err := s.store.GetAccountAttributes(ctx, accountID, known)
	if errors.Is(err, storage.ErrNotFound) {
		s.attrs.c.Invalidate(accountID)
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read custom variables: %w", err)
	}
	if rec.Body == nil && cached != nil && rec.Revision == cached.revision {
		return cached.vars, nil
	}
	if !b.spend(int64(len(rec.Body)/DecodeBytesPerStep) + 1) {
		return nil, b.err
	}
	var vars map[string]any
	if err := json.Unmarshal(rec.Body, &vars); err != nil {
		return nil, &ValueError{Var: CustomNamespace, Err: err}
	}
	s.attrs.put(rec, vars, len(rec.Body))
	return vars, nil
}

// attrCache holds the decoded attributes of accounts, one revision each,
// within a bound on their approximate heap. Entries are never changed
// once cached: evaluations share them read-only.
type attrCache struct {
	c *otter.Cache[string, *attrEntry]
}

type attrEntry struct {
	revision string
	vars     map[string]any
	weight   uint32
}

func newAttrCache(maxBytes uint64) *attrCache {
	return &attrCache{c: otter.Must(&otter.Options[string, *attrEntry]{
		MaximumWeight: maxBytes,
		Weigher:       func(_ string, e *attrEntry) uint32 { return e.weight },
	})}
}

func (c *attrCache) put(rec storage.AccountAttributes, vars map[string]any, size int) {
	// Decoded JSON takes several times its text.
	w := 128 + len(rec.AccountID) + len(rec.Revision) + 8*size
	c.c.Set(rec.AccountID, &attrEntry{revision: rec.Revision, vars: vars, weight: uint32(min(w, 1<<31))})
}
