package console

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/orchestrator/orchestrator/internal/secret"
)

// session is one signed-in console user, kept in a SessionStore: the
// memory of one process (a restart signs everybody out, which is the safe
// failure) or Redis, shared by the nodes of a zone.
type session struct {
	owner
	csrf     string // synchronizer token of every form of this session
	created  time.Time
	lastSeen time.Time

	// testToken is the testing token shown on the page, kept so that a
	// reload does not issue a new one; testExpires is its expiry.
	testToken   string
	testExpires time.Time
	// flash is a one-time message shown on the next page.
	flash string
}

// owner is what a session was signed in as: not only the account id and
// email, which a deleted and re-created account reuses, but the instances
// of the account and console user (their creation times) and a
// fingerprint of the console user's password hash. The console compares
// them with the store on every request, so a session ends when its
// account is deleted (even if an account with the same id, and a console
// user with the same email, is created again) or its console user's
// password changes.
type owner struct {
	accountID      string
	email          string
	accountCreated time.Time
	userCreated    time.Time
	userHash       [32]byte // see userFingerprint
}

// userFingerprint identifies one stored password hash of a console user.
// The hash is salted, so any password change changes it; the session
// keeps only this digest, not the hash.
func userFingerprint(passwordHash string) [32]byte {
	return sha256.Sum256([]byte("console-user\x00" + passwordHash))
}

// SessionStore is where the console keeps its sessions: MemorySessions
// (the default) or RedisSessions. The console gives it the timeouts and
// bounds of its Config.
type SessionStore func(sessionPolicy) sessionStore

// sessionPolicy is what a store is opened with: the idle and absolute
// timeouts of a session, the bound of the store and the clock.
type sessionPolicy struct {
	idle, absolute time.Duration
	max            int
	now            func() time.Time
}

// expired reports whether ss has ended by now.
func (p sessionPolicy) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.lastSeen) >= p.idle || now.Sub(ss.created) >= p.absolute
}

// sessionStore is an open session store. Sessions are found by the
// SHA-256 of their id: a store holds nothing a cookie could be rebuilt
// from, and a timing side channel on the lookup reveals nothing useful.
type sessionStore interface {
	// create starts a session and returns its id (the cookie value).
	create(ctx context.Context, o owner) (string, session, error)
	// get returns a copy of the live session with this id and marks it
	// used; false when there is none.
	get(ctx context.Context, id string) (session, bool, error)
	// update changes the live session with this id, atomically with
	// respect to every other update; false when it is gone.
	update(ctx context.Context, id string, fn func(*session)) (bool, error)
	// delete ends a session.
	delete(ctx context.Context, id string) error
}

// takeFlash returns and clears the session's one-time message: of
// several requests that take it at once, on any nodes, one gets it.
func takeFlash(ctx context.Context, s sessionStore, id string) (string, error) {
	var msg string
	_, err := s.update(ctx, id, func(ss *session) { msg, ss.flash = ss.flash, "" })
	return msg, err
}

func newSession(o owner, now time.Time) (string, *session) {
	return secret.NewToken(32), &session{owner: o, csrf: secret.NewToken(32), created: now, lastSeen: now}
}

func hashID(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// MemorySessions keeps sessions in this process, at most
// Config.MaxSessions of them: when full, expired sessions are dropped
// first, then the oldest.
func MemorySessions() SessionStore {
	return func(p sessionPolicy) sessionStore {
		return &memorySessions{byHash: map[[32]byte]*session{}, policy: p}
	}
}

// memorySessions is a bounded in-memory session store.
type memorySessions struct {
	mu     sync.Mutex
	byHash map[[32]byte]*session
	policy sessionPolicy
}

func (s *memorySessions) create(_ context.Context, o owner) (string, session, error) {
	now := s.policy.now()
	id, ss := newSession(o, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byHash) >= s.policy.max {
		var oldestKey [32]byte
		var oldest *session
		for k, v := range s.byHash {
			if s.policy.expired(v, now) {
				delete(s.byHash, k)
				continue
			}
			if oldest == nil || v.created.Before(oldest.created) {
				oldestKey, oldest = k, v
			}
		}
		if len(s.byHash) >= s.policy.max && oldest != nil {
			delete(s.byHash, oldestKey)
		}
	}
	s.byHash[hashID(id)] = ss
	return id, *ss, nil
}

func (s *memorySessions) get(_ context.Context, id string) (session, bool, error) {
	if id == "" {
		return session{}, false, nil
	}
	h := hashID(id)
	now := s.policy.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byHash[h]
	if !ok {
		return session{}, false, nil
	}
	if s.policy.expired(ss, now) {
		delete(s.byHash, h)
		return session{}, false, nil
	}
	ss.lastSeen = now
	return *ss, true, nil
}

func (s *memorySessions) update(_ context.Context, id string, fn func(*session)) (bool, error) {
	h := hashID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byHash[h]
	if !ok || s.policy.expired(ss, s.policy.now()) {
		return false, nil
	}
	fn(ss)
	return true, nil
}

func (s *memorySessions) delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byHash, hashID(id))
	return nil
}

// len returns the number of stored sessions (for tests).
func (s *memorySessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}
