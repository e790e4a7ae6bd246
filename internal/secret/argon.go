package secret

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters for passwords people choose (console users): RFC 9106
// second recommended option scaled to a small server.
const (
	argonTime    = 2
	argonMemory  = 32 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
)

// humanHashSlots bounds the argon2id computations running at once in the
// process to GOMAXPROCS. Each one allocates argonMemory (32 MiB) and keeps
// a core busy, so without a bound a burst of parallel sign-ins grows the
// heap by 32 MiB per request (the security review saw 64 MB → 1.3 GB from
// 60 parallel requests) and no request finishes sooner for the extra
// parallelism. Callers beyond the bound wait here before allocating
// anything. It is the process-wide backstop for every caller (sign-ins,
// and console users created by the operator); the console adds its own
// gate in front of it that gives up with 503 instead of queueing.
var humanHashSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// humanHash computes the argon2id key while holding a hashing slot.
func humanHash(pw, salt []byte, t, m uint32, p uint8, keyLen uint32) []byte {
	humanHashSlots <- struct{}{}
	defer func() { <-humanHashSlots }()
	return argon2.IDKey(pw, salt, t, m, p, keyLen)
}

// HumanHashConcurrency is the most argon2id computations HashHumanPassword
// and CheckHumanPassword run at once in this process (GOMAXPROCS at start).
func HumanHashConcurrency() int { return cap(humanHashSlots) }

// HashHumanPassword returns an argon2id hash in PHC string format. At most
// HumanHashConcurrency hashes run at once; others wait their turn.
func HashHumanPassword(pw string) string {
	salt := Random(16)
	key := humanHash([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// DummyHumanHash is a valid hash of a random password, checked against
// when a user does not exist so that both paths take the same time.
var DummyHumanHash = HashHumanPassword(NewToken(24))

// CheckHumanPassword reports whether pw matches the PHC argon2id hash. At
// most HumanHashConcurrency checks run at once; others wait their turn.
func CheckHumanPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	// Bounds that argon2 would otherwise panic on or spend without limit.
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 || m > 1<<20 || t < 1 || t > 16 || p < 1 {
		return false
	}
	got := humanHash([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
