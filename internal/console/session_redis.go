package console

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// SessionsPerUser is how many sessions one console user keeps in Redis;
// a new sign-in past it ends that user's oldest session.
//
// The memory store bounds all sessions together (Config.MaxSessions),
// which bounds the process's memory. In Redis every session expires with
// its idle or absolute timeout anyway, so the bound is per user instead:
// Redis holds at most SessionsPerUser sessions of each console user that
// signed in within SessionMax, and a user who signs in from a loop ends
// only their own sessions, never other users'.
const SessionsPerUser = 50

// opTimeout bounds one Redis round trip of the session store: a Redis
// that does not answer fails the request (500, "try again") rather than
// holding it.
const opTimeout = 2 * time.Second

// RedisSessions keeps sessions in Redis, so that a session created on one
// node works on every node of the zone (SPEC §9). Keys start with prefix
// (e.g. "orch:console:"): prefix+"s:"+hex(SHA-256(session id)) is a
// session, a hash with its record as JSON and its creation and last-use
// times; prefix+"u:"+hex(SHA-256(account, email)) indexes a console
// user's sessions (see SessionsPerUser). The session id itself is never
// stored.
//
// A session key expires after min(idle timeout, what remains of the
// absolute timeout), renewed on each use, so Redis forgets sessions as
// the memory store does. Timeouts are checked with the node's clock
// (Config.Now), inside the scripts, so a use and its check are one
// atomic step. Each operation is one Lua script: create with its per-user
// bound, get with its expiry check and renewal, and update as a
// compare-and-set of the record (retried on conflict), so that of two
// nodes taking a flash at once one gets it.
//
// Under Redis Cluster, give the prefix a hash tag ("{orch}:console:"):
// create touches a session and its user's index together.
//
// Records are sealed (AES-GCM, Sealer) and bound to their session's key:
// they hold the CSRF token and the 24-hour testing token, bearer secrets
// that a reader of Redis must not be able to use.
func RedisSessions(client rueidis.Client, prefix string, sealer Sealer) SessionStore {
	return func(p sessionPolicy) sessionStore {
		return &redisSessions{client: client, prefix: prefix, policy: p, perUser: SessionsPerUser, sealer: sealer}
	}
}

// Sealer encrypts and authenticates session records (secret.Keys).
type Sealer interface {
	Seal(plaintext []byte, aad string) []byte
	Open(sealed []byte, aad string) ([]byte, error)
}

type redisSessions struct {
	client  rueidis.Client
	prefix  string
	policy  sessionPolicy
	perUser int
	sealer  Sealer
}

// seal encrypts a record for the session id (the additional data is
// its Redis key, so a record cannot be moved to another session).
func (s *redisSessions) seal(id, rec string) string {
	return base64.RawStdEncoding.EncodeToString(s.sealer.Seal([]byte(rec), s.sessionKey(id)))
}

func (s *redisSessions) open(id, stored string) (string, error) {
	b, err := base64.RawStdEncoding.DecodeString(stored)
	if err == nil {
		b, err = s.sealer.Open(b, s.sessionKey(id))
	}
	if err != nil {
		return "", fmt.Errorf("console: stored session does not open: %w", err)
	}
	return string(b), nil
}

// sessionRecord is a session as stored in Redis.
type sessionRecord struct {
	AccountID      string    `json:"account_id"`
	Email          string    `json:"email"`
	AccountCreated time.Time `json:"account_created"`
	UserCreated    time.Time `json:"user_created"`
	UserHash       string    `json:"user_hash"` // hex of owner.userHash
	CSRF           string    `json:"csrf"`
	Created        time.Time `json:"created"`
	TestToken      string    `json:"test_token,omitempty"`
	TestExpires    time.Time `json:"test_expires,omitzero"`
	Flash          string    `json:"flash,omitempty"`
}

func encodeSession(ss *session) string {
	b, _ := json.Marshal(sessionRecord{
		AccountID: ss.accountID, Email: ss.email, AccountCreated: ss.accountCreated, UserCreated: ss.userCreated,
		UserHash: hex.EncodeToString(ss.userHash[:]), CSRF: ss.csrf, Created: ss.created,
		TestToken: ss.testToken, TestExpires: ss.testExpires, Flash: ss.flash,
	})
	return string(b)
}

func decodeSession(v string, lastSeen time.Time) (session, error) {
	var r sessionRecord
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return session{}, fmt.Errorf("console: stored session: %w", err)
	}
	ss := session{
		owner: owner{accountID: r.AccountID, email: r.Email, accountCreated: r.AccountCreated, userCreated: r.UserCreated},
		csrf:  r.CSRF, created: r.Created, lastSeen: lastSeen,
		testToken: r.TestToken, testExpires: r.TestExpires, flash: r.Flash,
	}
	if h, err := hex.DecodeString(r.UserHash); err != nil || len(h) != len(ss.userHash) {
		return session{}, errors.New("console: stored session: bad user hash")
	} else {
		copy(ss.userHash[:], h)
	}
	return ss, nil
}

// sessionKey is the Redis key of a session id: its SHA-256, in hex.
func (s *redisSessions) sessionKey(id string) string {
	h := hashID(id)
	return s.prefix + "s:" + hex.EncodeToString(h[:])
}

// userKey is the Redis key of a console user's index of sessions.
func (s *redisSessions) userKey(o owner) string {
	h := sha256.Sum256([]byte(o.accountID + "\x00" + o.email))
	return s.prefix + "u:" + hex.EncodeToString(h[:])
}

// us is t in microseconds, as the scripts count time.
func us(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

func usDur(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

// sessionLive is the shared part of the scripts: given the fields of a
// session hash (rec, created, seen) and ARGV[1..3] = now, idle and
// absolute timeouts (µs), it ends an expired session, and otherwise marks
// a live one used and renews its expiry to min(idle, rest of absolute).
const sessionLive = `
local now, idle, absolute = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local f = redis.call('HMGET', KEYS[1], 'rec', 'created', 'seen')
if not f[1] then return false end
local created, seen = tonumber(f[2]), tonumber(f[3])
if now - seen >= idle or now - created >= absolute then
	redis.call('DEL', KEYS[1])
	return false
end
local function touch()
	redis.call('HSET', KEYS[1], 'seen', string.format('%d', now))
	local ttl = math.min(idle, created + absolute - now)
	redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(ttl / 1000)))
end
`

// getScript returns the record of a live session and marks it used.
// KEYS[1] is the session.
var getScript = rueidis.NewLuaScript(`local function live()` + sessionLive + `
touch()
return f[1]
end
return live()`)

// updateScript replaces the record of a live session if it is still
// ARGV[4], with ARGV[5]. It returns 1 when replaced, 0 when the record
// changed meanwhile, -1 when the session is gone.
var updateScript = rueidis.NewLuaScript(`local function live()` + sessionLive + `
if f[1] ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[5])
touch()
return 1
end
local r = live()
if not r then return -1 end
return r`)

// createScript stores a new session (KEYS[1]) and adds it to its user's
// index (KEYS[2], a sorted set of session keys by creation time), first
// forgetting index entries whose sessions have expired, then ending the
// oldest sessions past ARGV[5] per user. ARGV: now, idle, absolute (µs),
// the record, the bound.
var createScript = rueidis.NewLuaScript(`
local now, idle, absolute = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local max = tonumber(ARGV[5])
for _, k in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
	if redis.call('EXISTS', k) == 0 then redis.call('ZREM', KEYS[2], k) end
end
while redis.call('ZCARD', KEYS[2]) >= max do
	local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
	redis.call('ZREM', KEYS[2], oldest)
	redis.call('DEL', oldest)
end
local t = string.format('%d', now)
redis.call('HSET', KEYS[1], 'rec', ARGV[4], 'created', t, 'seen', t)
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(math.min(idle, absolute) / 1000)))
redis.call('ZADD', KEYS[2], t, KEYS[1])
redis.call('PEXPIRE', KEYS[2], math.max(1, math.ceil(absolute / 1000)))
return 1`)

func (s *redisSessions) args(now time.Time, more ...string) []string {
	return append([]string{us(now), usDur(s.policy.idle), usDur(s.policy.absolute)}, more...)
}

func (s *redisSessions) create(ctx context.Context, o owner) (string, session, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	now := s.policy.now()
	id, ss := newSession(o, now)
	err := createScript.Exec(ctx, s.client, []string{s.sessionKey(id), s.userKey(o)},
		s.args(now, s.seal(id, encodeSession(ss)), strconv.Itoa(s.perUser))).Error()
	if err != nil {
		return "", session{}, fmt.Errorf("console: store session: %w", err)
	}
	return id, *ss, nil
}

// read returns the live session's record as stored, marking it used.
func (s *redisSessions) read(ctx context.Context, id string, now time.Time) (string, bool, error) {
	v, err := getScript.Exec(ctx, s.client, []string{s.sessionKey(id)}, s.args(now)).ToString()
	if rueidis.IsRedisNil(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("console: read session: %w", err)
	}
	return v, true, nil
}

func (s *redisSessions) get(ctx context.Context, id string) (session, bool, error) {
	if id == "" {
		return session{}, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	now := s.policy.now()
	v, ok, err := s.read(ctx, id, now)
	if !ok {
		return session{}, false, err
	}
	plain, err := s.open(id, v)
	if err != nil {
		return session{}, false, err
	}
	ss, err := decodeSession(plain, now)
	return ss, err == nil, err
}

// update reads the record, applies fn and writes it back if no other
// update came in between; otherwise it starts again with the new record.
func (s *redisSessions) update(ctx context.Context, id string, fn func(*session)) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	for range 10 {
		now := s.policy.now()
		old, ok, err := s.read(ctx, id, now)
		if !ok {
			return false, err
		}
		plain, err := s.open(id, old)
		if err != nil {
			return false, err
		}
		ss, err := decodeSession(plain, now)
		if err != nil {
			return false, err
		}
		fn(&ss)
		rec := encodeSession(&ss)
		if rec == plain {
			return true, nil // nothing changed (a flash already taken): read marked it used
		}
		r, err := updateScript.Exec(ctx, s.client, []string{s.sessionKey(id)}, s.args(now, old, s.seal(id, rec))).AsInt64()
		if err != nil {
			return false, fmt.Errorf("console: update session: %w", err)
		}
		switch r {
		case 1:
			return true, nil
		case -1:
			return false, nil
		}
	}
	return false, errors.New("console: update session: too many concurrent updates")
}

func (s *redisSessions) delete(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := s.client.Do(ctx, s.client.B().Del().Key(s.sessionKey(id)).Build()).Error(); err != nil {
		return fmt.Errorf("console: delete session: %w", err)
	}
	return nil
}
