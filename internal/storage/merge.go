package storage

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// The rules of a Context Service write that do not depend on a backend:
// how a document is sized, how a property's expiry is resolved and how the
// quota is counted. Every backend calls these, so that the same write is
// accepted or refused the same way whichever store runs it.

// PropertySize is the number of characters `"name":value,` takes in the
// compact JSON object of a session document, the name encoded as
// encoding/json encodes it (internal/ccs writes documents so). A document
// of properties p1…pn has 1 + Σ PropertySize characters ("{" … "}", the
// last comma standing for the closing brace).
func PropertySize(name string, value []byte) int64 {
	q, _ := json.Marshal(name)
	return int64(utf8.RuneCount(q) + 1 + utf8.RuneCount(value) + 1)
}

// EmptyDocumentSize is the size of a document without properties ("{}"
// counts as 1 + the closing brace that the last property's comma stands
// for).
const EmptyDocumentSize = 1

// RowBytes is what one stored row with these names counts in
// ContextUsage.Bytes, besides its value.
func RowBytes(names ...string) int64 {
	n := int64(ContextRowBytes)
	for _, s := range names {
		n += int64(len(s))
	}
	return n
}

// OverQuota reports whether a write that took the account's usage from
// before to after breaks q: it is over a bound and grew what that bound
// counts (a write that shrinks an account already over its quota is
// allowed).
func OverQuota(q ContextQuota, before, after ContextUsage) bool {
	return q.MaxProperties > 0 && after.Properties > q.MaxProperties && after.Properties > before.Properties ||
		q.MaxBytes > 0 && after.Bytes > q.MaxBytes && after.Bytes > before.Bytes
}

// Bounded reports whether q bounds anything.
func (q ContextQuota) Bounded() bool { return q.MaxProperties > 0 || q.MaxBytes > 0 }

// MergePlan is a ContextMerge prepared for a backend: its properties
// deduplicated (the last value of a name wins), each with its size.
type MergePlan struct {
	Properties []ContextProperty
	Sizes      []int64
	// NewSize sums Sizes: what the written properties take in the
	// document.
	NewSize int64
	// Grow bounds what the write adds to the account's usage: every row
	// new, the session and the namespace too.
	Grow ContextUsage
}

// PlanMerge prepares m. It fails with ErrTooLarge when the written
// properties alone exceed m.MaxChars, before any store is touched.
func PlanMerge(m ContextMerge) (MergePlan, error) {
	k := m.Key
	idx := make(map[string]int, len(m.Properties))
	uniq := make([]ContextProperty, 0, len(m.Properties))
	for _, p := range m.Properties {
		if i, ok := idx[p.Name]; ok {
			uniq[i] = p
			continue
		}
		idx[p.Name] = len(uniq)
		uniq = append(uniq, p)
	}
	plan := MergePlan{
		Properties: uniq,
		Sizes:      make([]int64, len(uniq)),
		Grow: ContextUsage{
			Properties: int64(len(uniq)),
			Bytes:      RowBytes(k.Namespace) + RowBytes(k.Namespace, k.SessionID),
		},
	}
	for i, p := range uniq {
		plan.Sizes[i] = PropertySize(p.Name, p.Value)
		plan.NewSize += plan.Sizes[i]
		plan.Grow.Bytes += RowBytes(k.Namespace, k.SessionID, p.Name) + int64(len(p.Value))
	}
	if m.MaxChars > 0 && EmptyDocumentSize+plan.NewSize > int64(m.MaxChars) {
		return MergePlan{}, ErrTooLarge
	}
	return plan, nil
}

// Fits reports whether a document of size characters is within m's bound.
func (m ContextMerge) Fits(size int64) bool { return m.MaxChars <= 0 || size <= int64(m.MaxChars) }

// TTLSetting is a TTL that may be unset (the next level's applies).
type TTLSetting struct {
	TTL time.Duration // 0: forever
	Set bool
}

// Retention is the longest a property is kept after its last write,
// whatever its TTL (SPEC §5, --max-retention): Months calendar months
// plus D. The zero Retention is no cap.
type Retention struct {
	Months int
	D      time.Duration
}

// IsZero reports whether r is no cap.
func (r Retention) IsZero() bool { return r.Months == 0 && r.D == 0 }

// Until returns when a property last written at t must be gone: t plus
// r, calendar months first (as time.AddDate counts them); the zero time
// when r is no cap.
func (r Retention) Until(t time.Time) time.Time {
	if r.IsZero() {
		return time.Time{}
	}
	return t.AddDate(0, r.Months, 0).Add(r.D)
}

// ExpiresAt resolves when the properties of m expire: at m.Now plus the
// write's TTL when it has one, else the session's when set, else the
// namespace's when set; a TTL of 0, or none at all, is never (the zero
// time). m.MaxRetention caps the result: never, and anything later than
// m.Now plus the retention, becomes m.Now plus the retention. Every
// backend resolves expiry here, so that the cap is the same in each.
func (m ContextMerge) ExpiresAt(session, namespace TTLSetting) time.Time {
	ttl := TTLSetting{}
	switch {
	case m.HasTTL:
		ttl = TTLSetting{m.TTL, true}
	case session.Set:
		ttl = session
	case namespace.Set:
		ttl = namespace
	}
	var at time.Time
	if ttl.Set && ttl.TTL > 0 {
		at = m.Now.Add(ttl.TTL)
	}
	if limit := m.MaxRetention.Until(m.Now); !limit.IsZero() && (at.IsZero() || at.After(limit)) {
		at = limit
	}
	return at
}

// QuotaPurgeLimit bounds the expired properties a write over the quota
// purges before it counts again, so that its transaction stays short.
const QuotaPurgeLimit = 1000

// CheckQuota decides, after a write that took the account's usage from
// before and added at most grow, whether the write stands: nil, or
// ErrQuotaExceeded (the caller's transaction then saves nothing).
// Expired properties count until they are purged, so an account over its
// quota has its expired properties purged (purge, a bounded batch) before
// the write is refused. usage reads the account's usage as the write's
// transaction sees it. When even the worst case fits, nothing is read.
func CheckQuota(q ContextQuota, before, grow ContextUsage, usage func() (ContextUsage, error), purge func() error) error {
	if !q.Bounded() {
		return nil
	}
	worst := ContextUsage{Properties: before.Properties + grow.Properties, Bytes: before.Bytes + grow.Bytes}
	if !OverQuota(q, before, worst) {
		return nil
	}
	after, err := usage()
	if err != nil || !OverQuota(q, before, after) {
		return err
	}
	if err := purge(); err != nil {
		return err
	}
	if after, err = usage(); err != nil {
		return err
	}
	if OverQuota(q, before, after) {
		return ErrQuotaExceeded
	}
	return nil
}
