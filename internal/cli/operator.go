package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orchestrator/orchestrator/wire"
)

// OperatorFlags locate the server and the operator token.
type OperatorFlags struct {
	JSONFlag
	URL            string `name:"url" env:"ORCH_URL" default:"http://127.0.0.1:8080" help:"Server URL."`
	AdminToken     string `name:"admin-token" env:"ORCH_ADMIN_TOKEN" help:"Operator token."`
	AdminTokenFile string `name:"admin-token-file" env:"ORCH_ADMIN_TOKEN_FILE" help:"File holding the operator token (default: <ORCH_DATA or ./data>/admin.token)."`
}

func (o OperatorFlags) token() (string, error) {
	if o.AdminToken != "" {
		return o.AdminToken, nil
	}
	file := o.AdminTokenFile
	if file == "" {
		dir := os.Getenv("ORCH_DATA")
		if dir == "" {
			dir = "data"
		}
		file = filepath.Join(dir, "admin.token")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("operator token: give --admin-token, ORCH_ADMIN_TOKEN or --admin-token-file (%v)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// call sends an operator API request and returns the raw JSON answer.
func (o OperatorFlags) call(g *Globals, method, path string, body any) ([]byte, error) {
	tok, err := o.token()
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(g.Ctx, method, strings.TrimRight(o.URL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error, Message string }
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, e.Message)
		}
		return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return b, nil
}

// printJSON writes raw API JSON as is (--json).
func printJSON(g *Globals, raw []byte) error {
	raw = bytes.TrimSpace(raw)
	_, err := fmt.Fprintf(g.Stdout, "%s\n", raw)
	return err
}

// lastUsed formats a last-use time for the table output.
func lastUsed(t *time.Time) string {
	if t == nil {
		return "never (or in the last minute)"
	}
	return t.UTC().Format(time.RFC3339)
}

func printAccount(g *Globals, raw []byte) error {
	return printAccountUsage(g, raw, false)
}

// printAccountUsage is printAccount, with the last uses of the keys and
// credentials when usage (account show).
func printAccountUsage(g *Globals, raw []byte, usage bool) error {
	if g.JSON {
		return printJSON(g, raw)
	}
	var a wire.Account
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintf(w, "Account:\t%s\nName:\t%s\nAuth version:\t%s\nZone:\t%s\nCreated:\t%s\n", a.AccountID, a.Name, a.AuthVersion, a.Zone, a.CreatedAt.Format(time.RFC3339))
	if a.APIKey != "" {
		fmt.Fprintf(w, "v1 API key:\t%s\n", a.APIKey)
	}
	if c := a.Credentials; c != nil {
		fmt.Fprintf(w, "v2 user ID:\t%s\nv2 password:\t%s\n", c.UserID, c.Password)
	}
	if u := a.ConsoleUser; u != nil {
		fmt.Fprintf(w, "Console user:\t%s\n", u.Email)
		if u.Password != "" {
			fmt.Fprintf(w, "Console password:\t%s\n", u.Password)
		}
	}
	if usage {
		fmt.Fprintf(w, "v1 API key last used:\t%s\n", lastUsed(a.APIKeyLastUsedAt))
		for _, k := range a.GraceAPIKeys {
			fmt.Fprintf(w, "Old v1 API key (in grace until %s) last used:\t%s\n", k.RetiresAt.UTC().Format(time.RFC3339), lastUsed(k.LastUsedAt))
		}
		if a.AuthVersion == "v2" {
			fmt.Fprintf(w, "v2 credentials last used:\t%s\n", lastUsed(a.CredentialsLastUsedAt))
		}
	}
	return w.Flush()
}

// AccountCmd groups the account commands.
type AccountCmd struct {
	Create             AccountCreateCmd      `cmd:"" help:"Create an account (v2 unless --v1-only), or bring an existing tenant with its key and credentials.\n\nExamples:\n  orchestrator account create --name Acme --json\n  orchestrator account create --name Acme --id 67005361 --api-key-file key.txt --user-id 3f2504e0-4f89-41d3-9a0c-0305e82c3301 --password-file pw.txt"`
	List               AccountListCmd        `cmd:"" help:"List accounts.\n\nExample: orchestrator account list"`
	Show               AccountShowCmd        `cmd:"" help:"Show an account.\n\nExample: orchestrator account show 67005361"`
	Delete             AccountDeleteCmd      `cmd:"" help:"Delete an account and everything it owns.\n\nExample: orchestrator account delete 67005361"`
	Upgrade            AccountUpgradeCmd     `cmd:"" help:"Upgrade a v1 account to v2 and print its new credentials.\n\nExample: orchestrator account upgrade 67005361"`
	RegenerateKey      RegenerateKeyCmd      `cmd:"" name:"regenerate-key" help:"Replace the v1 API key; the old one stops working at once (or after --grace).\n\nExample: orchestrator account regenerate-key 67005361 --grace 10m"`
	RegeneratePassword RegeneratePasswordCmd `cmd:"" name:"regenerate-password" help:"Replace the v2 password and revoke earlier tokens (at once or after --grace).\n\nExample: orchestrator account regenerate-password 67005361"`
	ConsoleUser        ConsoleUserCmd        `cmd:"" name:"console-user" help:"Manage the console users of an account."`
	Audit              AccountAuditCmd       `cmd:"" help:"Print the account's audit log, newest first: who changed or viewed a secret, from where, when.\n\nExample: orchestrator account audit 67005361 --limit 20"`
}

// ConsoleUserCmd groups the console user commands.
type ConsoleUserCmd struct {
	Add ConsoleUserAddCmd `cmd:"" help:"Add a console user to an account; prints the password when it was generated.\n\nExample: orchestrator account console-user add 67005361 --email ops@example.com"`
}

// ConsoleUserAddCmd adds a console user.
type ConsoleUserAddCmd struct {
	AccountIDArg
	Email        string `required:"" help:"The user's email (the sign-in name)."`
	PasswordFile string `name:"password-file" help:"File holding the password (default: a generated one, printed once)."`
}

// Run runs the command.
func (c *ConsoleUserAddCmd) Run(g *Globals) error {
	body := wire.ConsoleLogin{Email: c.Email}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return fmt.Errorf("--password-file: %w", err)
		}
		body.Password = strings.TrimRight(string(b), "\r\n")
	}
	raw, err := c.call(g, "POST", c.path()+"/console-users", body)
	if err != nil || g.JSON {
		if err == nil {
			err = printJSON(g, raw)
		}
		return err
	}
	var v wire.ConsoleLogin
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintf(w, "Console user:\t%s\n", v.Email)
	if v.Password != "" {
		fmt.Fprintf(w, "Console password:\t%s\n", v.Password)
	}
	return w.Flush()
}

// AccountCreateCmd creates an account.
type AccountCreateCmd struct {
	OperatorFlags
	Name         string `required:"" help:"Account name."`
	ID           string `name:"id" help:"Account id (decimal digits; default: generated)."`
	V1Only       bool   `name:"v1-only" help:"Create a v1 account (API key only)."`
	ConsoleEmail string `name:"console-email" help:"Also create a console user with this email."`
	// Importing an existing tenant (SPEC §2). The secrets are read from
	// files (or stdin with "-"), not argv, which other users of the
	// machine can read; --api-key is there for keys already public
	// enough. No environment variables: ORCH_API_KEY and ORCH_PASSWORD
	// are the user-side commands' credentials, and an operator who has
	// them set must not import them by accident.
	APIKey       string `name:"api-key" help:"Import this v1 API key of an existing tenant instead of generating one (20-256 printable characters; prefer --api-key-file)."`
	APIKeyFile   string `name:"api-key-file" help:"File holding the v1 API key to import (- for stdin)."`
	UserID       string `name:"user-id" help:"Import this v2 user ID (a UUID) of an existing tenant; needs --password-file."`
	PasswordFile string `name:"password-file" help:"File holding the v2 password to import with --user-id (- for stdin; 20-256 printable characters)."`
}

// readSecretFile reads a secret from a file, or from stdin for "-",
// without its line ending.
func readSecretFile(flag, file string) (string, error) {
	b, err := readFileOrStdin(file, Stdin, 64<<10)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// imports returns the secrets of an existing tenant the flags import.
func (c *AccountCreateCmd) imports() (apiKey string, creds *wire.Credentials, err error) {
	switch {
	case c.APIKey != "" && c.APIKeyFile != "":
		return "", nil, errors.New("give --api-key or --api-key-file, not both")
	case c.APIKeyFile == "-" && c.PasswordFile == "-":
		return "", nil, errors.New("--api-key-file and --password-file cannot both read stdin")
	case (c.UserID == "") != (c.PasswordFile == ""):
		return "", nil, errors.New("--user-id and --password-file import v2 credentials together: give both or neither")
	case c.UserID != "" && c.V1Only:
		return "", nil, errors.New("--user-id: a --v1-only account has no v2 credentials")
	}
	apiKey = c.APIKey
	if c.APIKeyFile != "" {
		if apiKey, err = readSecretFile("--api-key-file", c.APIKeyFile); err != nil {
			return "", nil, err
		}
		if apiKey == "" {
			return "", nil, errors.New("--api-key-file: the file is empty")
		}
	}
	if c.UserID != "" {
		pw, err := readSecretFile("--password-file", c.PasswordFile)
		if err != nil {
			return "", nil, err
		}
		if pw == "" {
			return "", nil, errors.New("--password-file: the file is empty")
		}
		creds = &wire.Credentials{UserID: c.UserID, Password: pw}
	}
	return apiKey, creds, nil
}

// Run runs the command.
func (c *AccountCreateCmd) Run(g *Globals) error {
	apiKey, creds, err := c.imports()
	if err != nil {
		return err
	}
	body := wire.CreateAccount{Name: c.Name, ID: c.ID, AuthVersion: "v2", ConsoleEmail: c.ConsoleEmail, APIKey: apiKey, Credentials: creds}
	if c.V1Only {
		body.AuthVersion = "v1"
	}
	raw, err := c.call(g, "POST", "/admin/v1/accounts", body)
	if err != nil {
		return err
	}
	return printAccount(g, raw)
}

// AccountListCmd lists accounts.
type AccountListCmd struct{ OperatorFlags }

// Run runs the command.
func (c *AccountListCmd) Run(g *Globals) error {
	raw, err := c.call(g, "GET", "/admin/v1/accounts", nil)
	if err != nil || g.JSON {
		if err == nil {
			err = printJSON(g, raw)
		}
		return err
	}
	var as []wire.Account
	if err := json.Unmarshal(raw, &as); err != nil {
		return err
	}
	w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "ACCOUNT\tNAME\tAUTH\tZONE\tCREATED")
	for _, a := range as {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.AccountID, a.Name, a.AuthVersion, a.Zone, a.CreatedAt.Format(time.RFC3339))
	}
	return w.Flush()
}

// AccountIDArg names one account.
type AccountIDArg struct {
	OperatorFlags
	ID string `arg:"" help:"Account id (le prefix accepted)."`
}

func (a AccountIDArg) path() string { return "/admin/v1/accounts/" + a.ID }

// AccountShowCmd shows an account.
type AccountShowCmd struct{ AccountIDArg }

// Run runs the command.
func (c *AccountShowCmd) Run(g *Globals) error {
	raw, err := c.call(g, "GET", c.path(), nil)
	if err != nil {
		return err
	}
	return printAccountUsage(g, raw, true)
}

// AccountAuditCmd prints an account's audit log.
type AccountAuditCmd struct {
	AccountIDArg
	Limit int `default:"100" help:"Most entries to print, newest first (1-1000)."`
}

// Run runs the command.
func (c *AccountAuditCmd) Run(g *Globals) error {
	return printAudit(g, &c.OperatorFlags, fmt.Sprintf("%s/audit?limit=%d", c.path(), c.Limit))
}

// AuditCmd prints the zone's own audit log.
type AuditCmd struct {
	OperatorFlags
	Limit int `default:"100" help:"Most entries to print, newest first (1-1000)."`
}

// Run runs the command.
func (c *AuditCmd) Run(g *Globals) error {
	return printAudit(g, &c.OperatorFlags, fmt.Sprintf("/admin/v1/audit?limit=%d", c.Limit))
}

// printAudit prints the audit entries at path: the JSON as is (--json),
// else a table.
func printAudit(g *Globals, o *OperatorFlags, path string) error {
	raw, err := o.call(g, "GET", path, nil)
	if err != nil || g.JSON {
		if err == nil {
			err = printJSON(g, raw)
		}
		return err
	}
	var es []wire.AuditEntry
	if err := json.Unmarshal(raw, &es); err != nil {
		return err
	}
	w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tACTOR\tADDRESS\tACTION")
	for _, e := range es {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Actor, e.Address, e.Action)
	}
	return w.Flush()
}

// AccountDeleteCmd deletes an account.
type AccountDeleteCmd struct {
	AccountIDArg
	Yes bool `name:"yes" short:"y" help:"Do not ask for confirmation (it is asked only when stdin is a terminal)."`
}

// errNotConfirmed is returned when the user did not confirm a deletion.
var errNotConfirmed = errors.New("not confirmed; nothing deleted (--yes skips the question)")

// Run runs the command.
func (c *AccountDeleteCmd) Run(g *Globals) error {
	if !c.Yes && StdinIsTerminal() {
		fmt.Fprintf(g.Stderr, "Delete account %s and all its data, keys and tokens? [y/N] ", c.ID)
		line, _ := bufio.NewReader(Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return errNotConfirmed
		}
	}
	if _, err := c.call(g, "DELETE", c.path(), nil); err != nil {
		return err
	}
	if g.JSON {
		return nil
	}
	_, err := fmt.Fprintf(g.Stdout, "Deleted account %s\n", c.ID)
	return err
}

// AccountUpgradeCmd upgrades a v1 account to v2.
type AccountUpgradeCmd struct{ AccountIDArg }

// Run runs the command.
func (c *AccountUpgradeCmd) Run(g *Globals) error {
	raw, err := c.call(g, "POST", c.path()+"/upgrade", nil)
	if err != nil {
		return err
	}
	return printAccount(g, raw)
}

// RegenerateFlags are the flags of the regenerate commands.
type RegenerateFlags struct {
	AccountIDArg
	Grace time.Duration `help:"Keep the old key (or earlier tokens) working this long."`
}

func (c RegenerateFlags) run(g *Globals, suffix string) error {
	body := map[string]string{}
	if c.Grace > 0 {
		body["grace"] = c.Grace.String()
	}
	raw, err := c.call(g, "POST", c.path()+suffix, body)
	if err != nil || g.JSON {
		if err == nil {
			err = printJSON(g, raw)
		}
		return err
	}
	var v struct{ APIKey, UserID, Password string }
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if v.APIKey != "" {
		_, err = fmt.Fprintf(g.Stdout, "v1 API key: %s\n", v.APIKey)
	} else {
		_, err = fmt.Fprintf(g.Stdout, "v2 user ID: %s\nv2 password: %s\n", v.UserID, v.Password)
	}
	return err
}

// RegenerateKeyCmd replaces the v1 API key.
type RegenerateKeyCmd struct{ RegenerateFlags }

// Run runs the command.
func (c *RegenerateKeyCmd) Run(g *Globals) error { return c.run(g, "/api-key/regenerate") }

// RegeneratePasswordCmd replaces the v2 password.
type RegeneratePasswordCmd struct{ RegenerateFlags }

// Run runs the command.
func (c *RegeneratePasswordCmd) Run(g *Globals) error { return c.run(g, "/credentials/regenerate") }

// KeysCmd groups signing key commands.
type KeysCmd struct {
	List   KeysListCmd   `cmd:"" help:"List the published signing keys (from the public JWKS).\n\nExample: orchestrator keys list"`
	Rotate KeysRotateCmd `cmd:"" help:"Add a new signing key: published in the JWKS at once, signing after --delay.\n\nExample: orchestrator keys rotate --delay 5m"`
}

// KeysListCmd lists the keys of the JWKS. The operator API has no key
// listing; the JWKS is public and lists every key that verifies tokens.
type KeysListCmd struct {
	JSONFlag
	URL string `name:"url" env:"ORCH_URL" default:"http://127.0.0.1:8080" help:"Server URL."`
}

// Run runs the command.
func (c *KeysListCmd) Run(g *Globals) error {
	u := strings.TrimRight(c.URL, "/") + "/.well-known/jwks.json"
	req, err := http.NewRequestWithContext(ctxOf(g), "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /.well-known/jwks.json: %s", resp.Status)
	}
	if g.JSON {
		return printJSON(g, raw)
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
			Use string `json:"use"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("JWKS: %w", err)
	}
	w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tALG")
	for _, k := range set.Keys {
		fmt.Fprintf(w, "%s\t%s\n", k.KID, k.Alg)
	}
	return w.Flush()
}

// KeysRotateCmd rotates the signing key.
type KeysRotateCmd struct {
	OperatorFlags
	Delay time.Duration `default:"5m" help:"How long the new key is published before it signs (JWKS caches must see it first)."`
}

// Run runs the command.
func (c *KeysRotateCmd) Run(g *Globals) error {
	raw, err := c.call(g, "POST", "/admin/v1/keys/rotate", map[string]string{"delay": c.Delay.String()})
	if err != nil || g.JSON {
		if err == nil {
			err = printJSON(g, raw)
		}
		return err
	}
	var v struct {
		KID       string    `json:"kid"`
		Alg       string    `json:"alg"`
		SignsFrom time.Time `json:"signsFrom"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	_, err = fmt.Fprintf(g.Stdout, "New %s key %s is published; it signs from %s\n", v.Alg, v.KID, v.SignsFrom.Format(time.RFC3339))
	return err
}
