package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"

	"github.com/orchestrator/orchestrator/internal/datadir"
)

// Keys holds the subkeys derived from the server's secret key.
type Keys struct {
	hash, seal, password []byte
	aead                 cipher.AEAD
}

// KeySize is the size of the server secret key in bytes.
const KeySize = 32

// Load derives the subkeys from a raw secret key of at least KeySize bytes.
func Load(master []byte) (*Keys, error) {
	if len(master) < KeySize {
		return nil, fmt.Errorf("secret key: need at least %d bytes, got %d", KeySize, len(master))
	}
	derive := func(purpose string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("orchestrator/" + purpose))
		return m.Sum(nil)
	}
	k := &Keys{hash: derive("hash"), seal: derive("seal"), password: derive("password")}
	block, err := aes.NewCipher(k.seal)
	if err != nil {
		return nil, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return k, nil
}

// LoadOrCreate returns the keys from env (base64, base64url or hex of at
// least KeySize bytes) when it is set, else from <dir>/secret.key, creating
// that file (mode 0600) with a new random key when it does not exist or is
// empty (what a failed write left before writes were made whole). The
// file is written whole or not at all (datadir.WriteFile); the caller
// holds the directory's lock and has made sure that the store holds
// nothing sealed with an earlier key. created reports whether a new key
// file was written.
func LoadOrCreate(dir, env string) (k *Keys, created bool, err error) {
	if env != "" {
		raw, err := decodeKey(env)
		if err != nil {
			return nil, false, fmt.Errorf("ORCH_SECRET_KEY: %w", err)
		}
		k, err := Load(raw)
		return k, false, err
	}
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(b) == 0) {
		raw := make([]byte, KeySize)
		rand.Read(raw)
		if err := datadir.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(raw)+"\n")); err != nil {
			return nil, false, fmt.Errorf("secret key: %w", err)
		}
		k, err := Load(raw)
		return k, true, err
	}
	if err != nil {
		return nil, false, err
	}
	raw, err := decodeKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	k, err = Load(raw)
	return k, false, err
}

// KeyFile is the name of the secret key file in the data directory.
const KeyFile = "secret.key"

func decodeKey(s string) ([]byte, error) {
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) >= KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("not a base64 or hex key of at least %d bytes", KeySize)
}

// Hash returns the keyed hash (HMAC-SHA256) of a generated secret for the
// given purpose. Generated secrets have enough entropy that a fast keyed
// hash is safe; it is also what makes lookup by secret possible.
func (k *Keys) Hash(purpose, s string) []byte {
	m := hmac.New(sha256.New, k.hash)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(s))
	return m.Sum(nil)
}

// Seal encrypts plaintext with AES-256-GCM, binding it to aad.
func (k *Keys) Seal(plaintext []byte, aad string) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, []byte(aad))
}

// ErrWrongKey is the error of Open when a sealed value does not open: it
// was sealed with another secret key (or altered).
var ErrWrongKey = errors.New("secret: sealed value does not open with this secret key")

// Open decrypts what Seal produced with the same aad.
func (k *Keys) Open(sealed []byte, aad string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("secret: sealed value too short")
	}
	b, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		// The AEAD's own error ("message authentication failed") says
		// nothing more, and does not say which key is wrong.
		return nil, ErrWrongKey
	}
	return b, nil
}

// Password derives the v2 password of a credential from its random seed.
// The store keeps only the seed and a keyed hash of the password, so the
// store alone cannot give the password back; with the server key the
// console can show it again.
func (k *Keys) Password(userID string, seed []byte) string {
	m := hmac.New(sha256.New, k.password)
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write(seed)
	sum := m.Sum(nil)
	return base62(sum, PasswordLen)
}

// PasswordLen is the length of generated v2 passwords.
const PasswordLen = 40

// Equal compares two secrets in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// Random returns n random bytes.
func Random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62 renders n base-62 characters from b (consumed as a big number; b
// must hold at least ~6 bits per character).
func base62(b []byte, n int) string {
	// Repeated division of a big-endian byte number by 62.
	num := append([]byte(nil), b...)
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		var rem int
		for j := range num {
			cur := rem<<8 | int(num[j])
			num[j] = byte(cur / 62)
			rem = cur % 62
		}
		out[i] = alphabet[rem]
	}
	return string(out)
}

// APIKeyPrefix starts every v1 API key, so leaked keys can be found by
// secret scanners.
const APIKeyPrefix = "orch_"

const (
	apiKeyBody     = 32 // base62 characters of randomness (~190 bits)
	apiKeyChecksum = 6  // base62 characters of CRC32
	// APIKeyLen is the length of a v1 API key.
	APIKeyLen = len(APIKeyPrefix) + apiKeyBody + apiKeyChecksum
)

// NewAPIKey returns a new v1 API key: prefix, 32 random base62 characters
// and a 6-character CRC32 checksum of what precedes it.
func NewAPIKey() string {
	body := base62(Random(32), apiKeyBody)
	return APIKeyPrefix + body + checksum(APIKeyPrefix+body)
}

func checksum(s string) string {
	c := crc32.ChecksumIEEE([]byte(s))
	return base62([]byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}, apiKeyChecksum)
}

// WellFormedAPIKey reports whether s has the API key format and a valid
// checksum, so typos and junk are refused without a store lookup.
func WellFormedAPIKey(s string) bool {
	if len(s) != APIKeyLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return false
	}
	for i := len(APIKeyPrefix); i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	cut := len(s) - apiKeyChecksum
	return subtle.ConstantTimeCompare([]byte(checksum(s[:cut])), []byte(s[cut:])) == 1
}

// Imported secrets (an existing tenant's v1 key or v2 password brought
// in by the operator, SPEC §2) are 20–256 visible ASCII characters: no
// spaces, which HTTP trims from header values, and nothing a header or a
// Basic credential cannot carry.
const (
	MinImportedLen = 20
	MaxImportedLen = 256
)

// ImportableSecret reports whether s may be imported as a v1 key or v2
// password.
func ImportableSecret(s string) bool {
	if len(s) < MinImportedLen || len(s) > MaxImportedLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// PlausibleAPIKey reports whether s may be a v1 key and is worth a
// lookup: a well-formed key of ours, or one in the shape of an imported
// key that does not claim our prefix (so that typos in our keys are still
// refused without a lookup).
func PlausibleAPIKey(s string) bool {
	if strings.HasPrefix(s, APIKeyPrefix) {
		return WellFormedAPIKey(s)
	}
	return ImportableSecret(s)
}

// NewToken returns a random URL-safe token of n bytes of entropy (admin
// tokens, session ids, CSRF tokens).
func NewToken(n int) string { return base64.RawURLEncoding.EncodeToString(Random(n)) }
