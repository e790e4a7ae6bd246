package accounts

import (
	"context"
	"sync"
	"time"

	"github.com/orchestrator/orchestrator/internal/storage"
)

// maxPendingUses bounds the secrets whose last use waits in memory for
// the next FlushLastUsed; uses of further secrets are not recorded until
// then (the next use after the flush is).
const maxPendingUses = 100_000

// usage gathers, in memory, when API keys and credentials were last used,
// so that a request costs a map write and the store sees at most one
// write per secret per flush (FlushLastUsed, once a minute).
//
// keys holds no pointers (a hash and a time in Unix nanoseconds): with
// 100,000 keys in use between flushes it is about 5 MB the garbage
// collector never scans, where a copy of each hash and a time.Time per
// entry took 16 MB that it did (issue 18).
type usage struct {
	mu    sync.Mutex
	keys  map[[32]byte]int64
	creds map[string]time.Time
}

func newUsage() *usage {
	return &usage{keys: map[[32]byte]int64{}, creds: map[string]time.Time{}}
}

func (u *usage) full() bool { return len(u.keys)+len(u.creds) >= maxPendingUses }

// key notes a use of the key whose keyed hash is h.
func (u *usage) key(h []byte, at time.Time) {
	var k [32]byte
	copy(k[:], h)
	ns := at.UnixNano()
	u.mu.Lock()
	defer u.mu.Unlock()
	if e, ok := u.keys[k]; ok || !u.full() {
		if !ok || ns > e {
			u.keys[k] = ns
		}
	}
}

// cred notes a use of the credential of userID.
func (u *usage) cred(userID string, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if e, ok := u.creds[userID]; ok || !u.full() {
		if at.After(e) {
			u.creds[userID] = at
		}
	}
}

// take returns the pending uses and forgets them.
func (u *usage) take() []storage.SecretUse {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]storage.SecretUse, 0, len(u.keys)+len(u.creds))
	for h, ns := range u.keys {
		out = append(out, storage.SecretUse{Hash: append([]byte(nil), h[:]...), At: time.Unix(0, ns)})
	}
	for id, at := range u.creds {
		out = append(out, storage.SecretUse{UserID: id, At: at})
	}
	clear(u.keys)
	clear(u.creds)
	return out
}

// FlushLastUsed writes the last uses of keys and credentials gathered
// since the previous flush, in one store write. The server calls it once
// a minute and at shutdown, off the request path. Uses that could not be
// written are kept for the next flush.
func (s *Service) FlushLastUsed(ctx context.Context) error {
	uses := s.used.take()
	if len(uses) == 0 {
		return nil
	}
	if err := s.store.MarkUsed(ctx, uses); err != nil {
		for _, u := range uses {
			if u.Hash != nil {
				s.used.key(u.Hash, u.At)
			} else {
				s.used.cred(u.UserID, u.At)
			}
		}
		return err
	}
	return nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// addUsage fills in v the last uses of the account's current key, its
// keys still in their grace, and its credential.
func (s *Service) addUsage(ctx context.Context, v *Account) error {
	keys, err := s.store.ListAPIKeys(ctx, v.AccountID)
	if err != nil {
		return err
	}
	now := s.now()
	for _, k := range keys {
		switch {
		case k.RetiredAt.IsZero():
			v.APIKeyLastUsedAt = timePtr(k.LastUsedAt)
		case now.Before(k.RetiredAt):
			v.GraceAPIKeys = append(v.GraceAPIKeys, KeyUse{CreatedAt: k.CreatedAt, RetiresAt: k.RetiredAt, LastUsedAt: timePtr(k.LastUsedAt)})
		}
	}
	if v.AuthVersion != storage.AuthV2 {
		return nil
	}
	c, err := s.store.CredentialByAccount(ctx, v.AccountID)
	if err != nil {
		return err
	}
	v.CredentialsLastUsedAt = timePtr(c.LastUsedAt)
	return nil
}
