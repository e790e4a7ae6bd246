package console

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/orchestrator/orchestrator/internal/secret"
)

// session is one signed-in console user. It lives only in memory: a
// restart signs everybody out, which is the safe failure.
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

// sessions is a bounded in-memory session store. Sessions are found by
// the SHA-256 of their id, so the map holds nothing a cookie could be
// rebuilt from, and a timing side channel on the map lookup reveals
// nothing useful.
type sessions struct {
	mu       sync.Mutex
	byHash   map[[32]byte]*session
	idle     time.Duration
	absolute time.Duration
	max      int
	now      func() time.Time
}

func newSessions(idle, absolute time.Duration, max int, now func() time.Time) *sessions {
	return &sessions{byHash: map[[32]byte]*session{}, idle: idle, absolute: absolute, max: max, now: now}
}

func hashID(id string) [32]byte { return sha256.Sum256([]byte(id)) }

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.lastSeen) >= s.idle || now.Sub(ss.created) >= s.absolute
}

// create starts a session and returns its id (the cookie value). When the
// store is full, expired sessions are dropped first, then the oldest.
func (s *sessions) create(o owner) (string, session) {
	id := secret.NewToken(32)
	now := s.now()
	ss := &session{owner: o, csrf: secret.NewToken(32), created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byHash) >= s.max {
		var oldestKey [32]byte
		var oldest *session
		for k, v := range s.byHash {
			if s.expired(v, now) {
				delete(s.byHash, k)
				continue
			}
			if oldest == nil || v.created.Before(oldest.created) {
				oldestKey, oldest = k, v
			}
		}
		if len(s.byHash) >= s.max && oldest != nil {
			delete(s.byHash, oldestKey)
		}
	}
	s.byHash[hashID(id)] = ss
	return id, *ss
}

// get returns a copy of the live session with this id and marks it used.
func (s *sessions) get(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	h := hashID(id)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byHash[h]
	if !ok {
		return session{}, false
	}
	if s.expired(ss, now) {
		delete(s.byHash, h)
		return session{}, false
	}
	ss.lastSeen = now
	return *ss, true
}

// update changes the live session with this id; false when it is gone.
func (s *sessions) update(id string, fn func(*session)) bool {
	h := hashID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byHash[h]
	if !ok || s.expired(ss, s.now()) {
		return false
	}
	fn(ss)
	return true
}

// takeFlash returns and clears the session's one-time message.
func (s *sessions) takeFlash(id string) string {
	var msg string
	s.update(id, func(ss *session) { msg, ss.flash = ss.flash, "" })
	return msg
}

// delete ends a session.
func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byHash, hashID(id))
}

// len returns the number of stored sessions (for tests).
func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}
