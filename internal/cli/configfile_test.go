package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// parse parses args as Run does, without running the command.
func parse(t *testing.T, args ...string) (*root, error) {
	t.Helper()
	var cli root
	parser, err := newParser(&cli, io.Discard, io.Discard, func(code int) { t.Fatalf("parse %v exited %d", args, code) })
	if err != nil {
		t.Fatal(err)
	}
	_, err = parser.Parse(args)
	return &cli, err
}

// unsetenv unsets key for the test (t.Setenv cannot: an empty value is
// still set, and the environment wins over the file even when empty).
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "") // restores the old value after the test
	os.Unsetenv(key)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveValues are the serve flags the tests set from files.
type serveValues struct {
	Addr              string
	Zone              string
	TokenTTL          time.Duration
	AuthFailureStatus int
	AccountMax        int64
	V1Sunset          string
}

func serveOf(c *root) serveValues {
	s := c.Serve.Serve
	return serveValues{s.Addr, s.Zone, s.TokenTTL, s.AuthFailureStatus, s.AccountMaxProperties, s.V1Sunset}
}

func TestConfigFileFormats(t *testing.T) {
	for _, env := range []string{"ORCH_ADDR", "ORCH_ZONE", "ORCH_TOKEN_TTL", "ORCH_AUTH_FAILURE_STATUS", "ORCH_ACCOUNT_MAX_PROPERTIES", "ORCH_V1_SUNSET"} {
		unsetenv(t, env)
	}
	want := serveValues{Addr: "127.0.0.1:9090", Zone: "z2", TokenTTL: time.Hour, AuthFailureStatus: 401, AccountMax: 67005361, V1Sunset: "2027-01-31"}
	for _, tt := range []struct{ name, content string }{
		{"serve.yaml", "addr: 127.0.0.1:9090\nzone: z2\ntoken-ttl: 1h\nauth-failure-status: 401\naccount-max-properties: 67005361\nv1-sunset: \"2027-01-31\"\n"},
		{"serve.yml", "addr: 127.0.0.1:9090\nzone: z2\ntoken_ttl: 1h\nauthFailureStatus: 401\naccount-max-properties: 67005361\nv1-sunset: \"2027-01-31\"\n"},
		{"serve.json", `{"addr": "127.0.0.1:9090", "zone": "z2", "token-ttl": "1h", "auth-failure-status": 401, "account-max-properties": 67005361, "v1-sunset": "2027-01-31"}`},
		// No extension: JSON by its content, else YAML.
		{"serve-json", ` {"addr": "127.0.0.1:9090", "zone": "z2", "token-ttl": "1h", "auth-failure-status": "401", "account-max-properties": "67005361", "v1-sunset": "2027-01-31"}`},
		{"serve-yaml", "# a comment\naddr: 127.0.0.1:9090\nzone: z2\ntoken-ttl: 1h\nauth-failure-status: 401\naccount-max-properties: 67005361\nv1-sunset: \"2027-01-31\"\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, "serve", "--config", writeFile(t, tt.name, tt.content))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, serveOf(c)); diff != "" {
				t.Errorf("serve flags from %s (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// TestConfigFilePrecedence: the command line, then the environment, then
// the file, then the default.
func TestConfigFilePrecedence(t *testing.T) {
	file := writeFile(t, "orchestrator.yaml", "addr: 127.0.0.1:1001\nzone: z3\n")
	for _, tt := range []struct {
		name     string
		env      string // ORCH_ADDR, "-" for unset
		args     []string
		wantAddr string
	}{
		{"default", "-", []string{"serve"}, "127.0.0.1:8080"},
		{"file over default", "-", []string{"serve", "--config", file}, "127.0.0.1:1001"},
		{"environment over file", "127.0.0.1:1002", []string{"serve", "--config", file}, "127.0.0.1:1002"},
		{"command line over environment and file", "127.0.0.1:1002", []string{"serve", "--config", file, "--addr", "127.0.0.1:1003"}, "127.0.0.1:1003"},
		{"command line before --config", "127.0.0.1:1002", []string{"--addr=127.0.0.1:1003", "--config", file, "serve"}, ""},
		{"--config before the command", "-", []string{"--config", file, "serve"}, "127.0.0.1:1001"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			unsetenv(t, "ORCH_ZONE")
			if tt.env == "-" {
				unsetenv(t, "ORCH_ADDR")
			} else {
				t.Setenv("ORCH_ADDR", tt.env)
			}
			c, err := parse(t, tt.args...)
			if tt.wantAddr == "" { // --addr is serve's: not a flag before it
				if err == nil {
					t.Fatalf("%v: no error", tt.args)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Serve.Addr != tt.wantAddr {
				t.Errorf("%v: addr %q, want %q", tt.args, c.Serve.Addr, tt.wantAddr)
			}
			// The file's other key still applies whoever set addr.
			if wantZone := map[bool]string{true: "z3", false: "z1"}[strings.Contains(strings.Join(tt.args, " "), "--config")]; c.Serve.Zone != wantZone {
				t.Errorf("%v: zone %q, want %q", tt.args, c.Serve.Zone, wantZone)
			}
		})
	}
}

// TestConfigFileSharedByCommands: one file holds the flags of serve and
// of the client commands; each command takes its own.
func TestConfigFileSharedByCommands(t *testing.T) {
	unsetenv(t, "ORCH_URL")
	unsetenv(t, "ORCH_ADDR")
	file := writeFile(t, "orchestrator.yaml", "addr: 127.0.0.1:1001\nurl: http://127.0.0.1:1001\naccount: \"67005361\"\njson: true\n")
	c, err := parse(t, "--config", file, "account", "list")
	if err != nil {
		t.Fatal(err)
	}
	if c.Account.List.URL != "http://127.0.0.1:1001" || !c.Account.List.JSON {
		t.Errorf("account list: url %q json %v", c.Account.List.URL, c.Account.List.JSON)
	}
	c, err = parse(t, "ccs", "namespaces", "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	if c.CCS.Namespaces.URL != "http://127.0.0.1:1001" || c.CCS.Namespaces.Account != "67005361" {
		t.Errorf("ccs namespaces: url %q account %q", c.CCS.Namespaces.URL, c.CCS.Namespaces.Account)
	}
	if c, err = parse(t, "serve", "--config", file); err != nil || c.Serve.Addr != "127.0.0.1:1001" {
		t.Errorf("serve: addr %q, err %v", c.Serve.Addr, err)
	}
}

func TestConfigFileErrors(t *testing.T) {
	for _, tt := range []struct{ name, content, want string }{
		{"typo.yaml", "adress: 127.0.0.1:9090\nzone: z2\n", `unknown key "adress"`},
		{"typos.json", `{"adress": "x", "zone": "z2", "tokenttl": "1h"}`, `unknown keys "adress", "tokenttl"`},
		{"help.yaml", "help: true\n", `--help cannot be set in a config file`},
		// A flag that says what to do once, or confirms a deletion, is
		// the command line's (review 2026-12-02 F2).
		{"yes.yaml", "yes: true\nzone: z2\n", `--yes cannot be set in a config file`},
		{"id.json", `{"id": "67005361"}`, `--id cannot be set in a config file`},
		{"list.yaml", "- addr\n", "not a YAML mapping"},
		{"broken.json", `{"addr": `, "not a JSON object"},
		{"nested.yaml", "addr:\n  host: x\n", "want a string, number, boolean or list"},
		{"enum.yaml", "zone: z9\n", "z9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			unsetenv(t, "ORCH_ZONE")
			unsetenv(t, "ORCH_ADDR")
			file := writeFile(t, tt.name, tt.content)
			_, err := parse(t, "serve", "--config", file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to say %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.name) && !strings.Contains(err.Error(), "z9") {
				t.Errorf("err %v does not name the file", err)
			}
		})
	}
	if _, err := parse(t, "serve", "--config", filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing --config file: no error")
	}
	// An empty file sets nothing.
	unsetenv(t, "ORCH_ADDR")
	if c, err := parse(t, "serve", "--config", writeFile(t, "empty.yaml", "")); err != nil || c.Serve.Addr != "127.0.0.1:8080" {
		t.Errorf("empty file: addr %q, err %v", c.Serve.Addr, err)
	}
}

// TestConfigFileThroughRun: the error reaches the user through Run, with
// the command's help hint.
func TestConfigFileThroughRun(t *testing.T) {
	file := writeFile(t, "cli.yaml", "ulr: http://127.0.0.1:1\n")
	_, err := run(t, "account", "list", "--config", file)
	if err == nil || !strings.Contains(err.Error(), `unknown key "ulr"`) || !strings.Contains(err.Error(), "cli.yaml") {
		t.Errorf("err %v", err)
	}
}

// TestConfigFileKeepsValueText: a value reaches the flag as the file wrote
// it: YAML's 0123 and 0x1F are not numbers to convert, and a 20-digit
// account id keeps every digit, in YAML and JSON (review 2026-12-02 F1).
func TestConfigFileKeepsValueText(t *testing.T) {
	unsetenv(t, "ORCH_ACCOUNT")
	for _, tt := range []struct{ name, content, want string }{
		{"octal.yaml", "account: 0123\n", "0123"},
		{"hex.yaml", "account: 0x1F\n", "0x1F"},
		{"long.yaml", "account: 12345678901234567891\n", "12345678901234567891"},
		{"long.json", `{"account": 12345678901234567893}`, "12345678901234567893"},
		{"exp.json", `{"account": 1e3}`, "1e3"},
		{"quoted.yaml", "account: \"le0042\"\n", "le0042"},
	} {
		file := writeFile(t, tt.name, tt.content)
		c, err := parse(t, "ccs", "namespaces", "--config", file)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if c.CCS.Namespaces.Account != tt.want {
			t.Errorf("%s: account %q, want %q", tt.name, c.CCS.Namespaces.Account, tt.want)
		}
	}
}

// TestConfigFileDoesNotEchoASecret: a secret file given to --config by
// mistake is refused without quoting it (review 2026-12-02 F4).
func TestConfigFileDoesNotEchoASecret(t *testing.T) {
	for _, content := range []string{"S3cretTokenValue\n", "short1", "+4weXq/8Zs==\n", "a: [b\n"} {
		file := writeFile(t, "secret.key", content)
		_, err := parse(t, "version", "--config", file)
		if err == nil {
			t.Fatalf("%q: accepted", content)
		}
		if secret := strings.TrimSpace(content); strings.Contains(err.Error(), secret[:4]) {
			t.Errorf("%q: error quotes the file: %v", content, err)
		}
	}
}
