package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/openapi/openapitest"
	"github.com/orchestrator/orchestrator/internal/server"
)

func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.Data = filepath.Join(dir, "data")
	cfg.TLSCert, cfg.TLSKey = writeSelfSigned(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Deps{Wrap: openapitest.ForTest(t, false)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + cfg.Addr + "/healthz")
	if err != nil {
		t.Fatalf("https: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("https healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if got := cfg.Issuer(); got != "https://"+cfg.Addr {
		t.Errorf("issuer under TLS = %q", got)
	}
}

// PostgreSQL is shared by every node, so the secrets must come from the
// environment (the same on each), never be generated into one node's
// --data; Redis is not available yet.
func TestConfigRefusesSharedStoreWithoutSecrets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     func(*config.Serve)
		mention []string
	}{
		{"no secrets", func(c *config.Serve) {}, []string{"ORCH_SECRET_KEY", "ORCH_ADMIN_TOKEN"}},
		{"no admin token", func(c *config.Serve) { c.SecretKey = strings.Repeat("a", 64) }, []string{"ORCH_ADMIN_TOKEN"}},
		{"redis without postgres", func(c *config.Serve) {
			c.SecretKey, c.AdminToken, c.RedisURL, c.PostgresURL = strings.Repeat("a", 64), strings.Repeat("t", 40), "redis://127.0.0.1:6379", ""
		}, []string{"--redis-url", "--postgres-url"}},
		{"not a redis URL", func(c *config.Serve) {
			c.SecretKey, c.AdminToken, c.RedisURL = strings.Repeat("a", 64), strings.Repeat("t", 40), "http://127.0.0.1:6379"
		}, []string{"redis://"}},
		{"not a postgres URL", func(c *config.Serve) {
			c.SecretKey, c.AdminToken, c.PostgresURL = strings.Repeat("a", 64), strings.Repeat("t", 40), "mysql://127.0.0.1/test"
		}, []string{"postgres://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Data = t.TempDir()
			cfg.PostgresURL = "postgres://127.0.0.1/test"
			tc.set(&cfg)
			_, err := server.New(context.Background(), cfg, server.Deps{})
			if err == nil {
				t.Fatal("server started")
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not name %s", err, m)
				}
			}
			if entries, _ := os.ReadDir(cfg.Data); len(entries) > 0 {
				t.Errorf("refused start left %d files in --data", len(entries))
			}
		})
	}
}
