package tokens

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage"
)

// Supported signing algorithms.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// ValidAlg reports whether alg is a supported signing algorithm.
func ValidAlg(alg string) bool { return alg == RS256 || alg == ES256 || alg == EdDSA }

func method(alg string) jwt.SigningMethod {
	switch alg {
	case ES256:
		return jwt.SigningMethodES256
	case EdDSA:
		return jwt.SigningMethodEdDSA
	}
	return jwt.SigningMethodRS256
}

// signingKey is a loaded key.
type signingKey struct {
	rec    storage.SigningKey
	priv   crypto.Signer
	method jwt.SigningMethod
}

// sameRecord reports whether rec is the record k was loaded from, so that
// k can be reused without decrypting and parsing the key again.
func (k *signingKey) sameRecord(rec storage.SigningKey) bool {
	return k.rec.KID == rec.KID && k.rec.Alg == rec.Alg && k.rec.SignsFrom.Equal(rec.SignsFrom) &&
		k.rec.CreatedAt.Equal(rec.CreatedAt) && bytes.Equal(k.rec.Private, rec.Private)
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
}

// newKeyRecord generates a key and seals it for storage. The kid is the
// RFC 7638 thumbprint of the public key.
func newKeyRecord(keys *secret.Keys, alg string, now, signsFrom time.Time) (storage.SigningKey, error) {
	priv, err := generate(alg)
	if err != nil {
		return storage.SigningKey{}, err
	}
	tp, err := (&jose.JSONWebKey{Key: priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return storage.SigningKey{}, err
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, err
	}
	return storage.SigningKey{KID: kid, Alg: alg, Private: keys.Seal(der, "signing:"+kid), CreatedAt: now, SignsFrom: signsFrom}, nil
}

func loadKey(keys *secret.Keys, rec storage.SigningKey) (*signingKey, error) {
	der, err := keys.Open(rec.Private, "signing:"+rec.KID)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", rec.KID, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", rec.KID, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !ValidAlg(rec.Alg) {
		return nil, fmt.Errorf("signing key %s: unsupported key type", rec.KID)
	}
	return &signingKey{rec: rec, priv: signer, method: method(rec.Alg)}, nil
}

// jwks renders the public keys as an RFC 7517 JWK set.
func jwks(ks []*signingKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ks))}
	for _, k := range ks {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.rec.KID, Algorithm: k.rec.Alg, Use: "sig"})
	}
	return json.Marshal(set)
}
