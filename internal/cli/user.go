package cli

// User-side commands (SPEC §2 CLI): login, ccs, next-actions and config,
// all through the Go SDK (package sdk).
//
// Which API a ccs command uses: v2 with a token when a user ID is given
// (--user or ORCH_USER_ID), v1 with the API key when only an API key is
// (--api-key or ORCH_API_KEY), or when --v1 asks for it. `ccs namespaces`
// and `ccs sessions` exist only in v1 and always use the API key.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/orchestrator/orchestrator/sdk"
)

// UserFlags locate the server and hold the user's credentials.
type UserFlags struct {
	JSONFlag
	URL          string `name:"url" env:"ORCH_URL" help:"Server base URL, for v1 and v2 (default http://127.0.0.1:8080 unless --zone is given)."`
	Zone         string `name:"zone" help:"Use the default LivePerson URLs of a zone: z1 (AMERICAS), z2 (EMEA), z3 (APAC)."`
	Account      string `name:"account" env:"ORCH_ACCOUNT" help:"Account id (le prefix accepted; v2 default: the token's account)."`
	User         string `name:"user" env:"ORCH_USER_ID" help:"v2 user ID; selects v2 with a token."`
	PasswordFile string `name:"password-file" help:"File holding the v2 password (default: the ORCH_PASSWORD environment variable)."`
	APIKey       string `name:"api-key" env:"ORCH_API_KEY" help:"v1 API key (maven-api-key)."`
}

const defaultUserURL = "http://127.0.0.1:8080"

func (f *UserFlags) password() (string, error) {
	if f.PasswordFile != "" {
		b, err := os.ReadFile(f.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return os.Getenv("ORCH_PASSWORD"), nil
}

// client returns an SDK client and whether calls go to v2 (token) rather
// than v1 (API key). v1 forces the API key.
func (f *UserFlags) client(v1 bool) (*sdk.Client, bool, error) {
	useV2 := f.User != "" && !v1
	if !useV2 && f.APIKey == "" {
		if v1 {
			return nil, false, errors.New("v1 needs an API key: give --api-key or ORCH_API_KEY")
		}
		return nil, false, errors.New("no credentials: give --user (ORCH_USER_ID) with --password-file or ORCH_PASSWORD for v2, or --api-key (ORCH_API_KEY) for v1")
	}
	if !useV2 && f.Account == "" {
		return nil, false, errors.New("v1 calls need the account: give --account or ORCH_ACCOUNT")
	}
	cfg := sdk.Config{Zone: f.Zone, BaseURL: f.URL, AccountID: f.Account, APIKey: f.APIKey}
	if cfg.Zone == "" && cfg.BaseURL == "" {
		cfg.BaseURL = defaultUserURL
	}
	if useV2 {
		pw, err := f.password()
		if err != nil {
			return nil, false, err
		}
		cfg.UserID, cfg.Password = f.User, pw
		if cache, err := newFileCache(f.User); err == nil {
			cfg.TokenCache = cache
		}
	}
	c, err := sdk.New(cfg)
	if err != nil {
		return nil, false, err
	}
	return c, useV2, nil
}

// fileCache keeps a user's token in
// $XDG_CACHE_HOME/orchestrator/tokens/<userId>.jwt (default ~/.cache),
// readable by the user only: it is a bearer credential.
type fileCache struct{ path string }

func newFileCache(userID string) (*fileCache, error) {
	if userID == "" || userID == "." || userID == ".." || strings.ContainsAny(userID, `/\`+"\x00") {
		return nil, fmt.Errorf("user ID %q cannot name a cache file", userID)
	}
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(home, ".cache")
	}
	return &fileCache{path: filepath.Join(dir, "orchestrator", "tokens", userID+".jwt")}, nil
}

// Load returns the cached token, "" when there is none.
func (c *fileCache) Load() (string, error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Save writes the token atomically with mode 0600 in a 0700 directory.
func (c *fileCache) Save(tok string) error {
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".token-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), c.path)
}

func ctxOf(g *Globals) context.Context {
	if g.Ctx != nil {
		return g.Ctx
	}
	return context.Background()
}

// call runs fn with a context that captures the raw answer, and prints
// that answer when --json is set. It reports whether it printed.
func call(g *Globals, fn func(ctx context.Context) error) (bool, error) {
	var raw []byte
	ctx := sdk.WithResponseBody(ctxOf(g), &raw)
	if err := fn(ctx); err != nil {
		return false, err
	}
	if !g.JSON {
		return false, nil
	}
	if raw = bytes.TrimSpace(raw); len(raw) > 0 {
		_, err := fmt.Fprintf(g.Stdout, "%s\n", raw)
		return true, err
	}
	return true, nil
}

// printValue prints a JSON value for people: objects and arrays indented.
func printValue(w io.Writer, v json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, v, "", "  "); err != nil {
		buf.Reset()
		buf.Write(v)
	}
	_, err := fmt.Fprintf(w, "%s\n", buf.Bytes())
	return err
}

func where(ns, sid string) string {
	if sid == "" {
		return ns
	}
	return ns + " (session " + sid + ")"
}

// LoginCmd logs in with v2 credentials and prints a token.
type LoginCmd struct {
	UserFlags
}

// Run logs in (always, whatever the cache holds), caches the token and
// prints it.
func (c *LoginCmd) Run(g *Globals) error {
	if c.User == "" {
		return errors.New("login needs --user or ORCH_USER_ID")
	}
	cl, _, err := c.client(false)
	if err != nil {
		return err
	}
	var resp *sdk.LoginResponse
	printed, err := call(g, func(ctx context.Context) error {
		var err error
		resp, err = cl.Login(ctx)
		return err
	})
	if err != nil || printed {
		return err
	}
	tok := resp.Token
	if tok == "" {
		tok = resp.AccessToken
	}
	_, err = fmt.Fprintln(g.Stdout, tok)
	return err
}

// CCSCmd groups the Context Service commands.
type CCSCmd struct {
	Set        CCSSetCmd        `cmd:"" help:"Set properties of a namespace or session; each value is parsed as JSON, else taken as a string.\n\nExample: orchestrator ccs set shop --session conv-1 --ttl 3600 cart=3 tier=gold 'tags=[\"a\"]'"`
	Get        CCSGetCmd        `cmd:"" help:"Print the properties of a namespace or session as a JSON object, or one property's value.\n\nExample: orchestrator ccs get shop --session conv-1 tier"`
	Delete     CCSDeleteCmd     `cmd:"" help:"Delete one property, or all properties of a namespace or session.\n\nExample: orchestrator ccs delete shop --session conv-1 cart"`
	Namespaces CCSNamespacesCmd `cmd:"" help:"List the account's namespaces (v1: needs an API key).\n\nExample: ORCH_API_KEY=... orchestrator ccs namespaces --account 67005361"`
	Sessions   CCSSessionsCmd   `cmd:"" help:"List the sessions of a namespace (v1: needs an API key).\n\nExample: ORCH_API_KEY=... orchestrator ccs sessions shop --account 67005361"`
}

// CCSSetCmd sets properties.
type CCSSetCmd struct {
	UserFlags
	V1        bool     `name:"v1" help:"Use v1 with the API key even when a user ID is given."`
	Session   string   `name:"session" help:"Session id (default: the namespace-level properties)."`
	TTL       *int     `name:"ttl" placeholder:"SECONDS" help:"Lifetime in seconds (v2: of the written properties; v1: of the session, or of the namespace without --session); 0 = forever."`
	Namespace string   `arg:"" name:"namespace" help:"Namespace."`
	Pairs     []string `arg:"" name:"key=json" help:"Properties to set."`
}

// parsePairs turns KEY=JSON arguments into properties: the value is
// parsed as JSON, and taken as a string when it is not valid JSON.
func parsePairs(pairs []string) (map[string]any, []string, error) {
	props := make(map[string]any, len(pairs))
	var names []string
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("%q: want KEY=JSON", p)
		}
		if _, dup := props[k]; !dup {
			names = append(names, k)
		}
		if json.Valid([]byte(v)) {
			props[k] = json.RawMessage(v)
		} else {
			props[k] = v
		}
	}
	return props, names, nil
}

// Run sets the properties.
func (c *CCSSetCmd) Run(g *Globals) error {
	props, names, err := parsePairs(c.Pairs)
	if err != nil {
		return err
	}
	cl, v2, err := c.client(c.V1)
	if err != nil {
		return err
	}
	printed, err := call(g, func(ctx context.Context) error {
		if v2 {
			_, err := cl.SetDocument(ctx, sdk.DocumentWrite{NameSpace: c.Namespace, SessionID: c.Session, TTLSeconds: c.TTL, Payload: props})
			return err
		}
		if c.TTL != nil {
			var err error
			if c.Session != "" {
				err = cl.SetSessionTTL(ctx, c.Namespace, c.Session, *c.TTL)
			} else {
				err = cl.SetNamespaceTTL(ctx, c.Namespace, *c.TTL)
			}
			if err != nil {
				return err
			}
		}
		return cl.PatchProperties(ctx, c.Namespace, c.Session, props)
	})
	if err != nil || printed {
		return err
	}
	_, err = fmt.Fprintf(g.Stdout, "Set %s in %s.\n", strings.Join(names, ", "), where(c.Namespace, c.Session))
	return err
}

// CCSGetCmd prints properties.
type CCSGetCmd struct {
	UserFlags
	V1        bool   `name:"v1" help:"Use v1 with the API key even when a user ID is given."`
	Session   string `name:"session" help:"Session id (default: the namespace-level properties)."`
	Namespace string `arg:"" name:"namespace" help:"Namespace."`
	Key       string `arg:"" optional:"" name:"key" help:"One property to print."`
}

// Run prints the properties, or one value.
func (c *CCSGetCmd) Run(g *Globals) error {
	cl, v2, err := c.client(c.V1)
	if err != nil {
		return err
	}
	var value json.RawMessage
	var object map[string]json.RawMessage
	printed, err := call(g, func(ctx context.Context) error {
		switch {
		case v2 && c.Key != "":
			m, err := cl.GetDocumentProperties(ctx, c.Namespace, c.Session, c.Key)
			if err != nil {
				return err
			}
			v, ok := m[c.Namespace+"."+c.Key]
			if !ok {
				return fmt.Errorf("%s: no property %q", where(c.Namespace, c.Session), c.Key)
			}
			value = v
		case v2:
			d, err := cl.GetDocument(ctx, c.Namespace, c.Session)
			if err != nil {
				return err
			}
			object = d.Payload
		case c.Key != "":
			v, err := cl.GetProperty(ctx, c.Namespace, c.Session, c.Key)
			if err != nil {
				return err
			}
			value = v
		default:
			m, err := cl.GetProperties(ctx, c.Namespace, c.Session)
			if err != nil {
				return err
			}
			object = m
		}
		return nil
	})
	if err != nil || printed {
		return err
	}
	if c.Key != "" {
		return printValue(g.Stdout, value)
	}
	if object == nil {
		object = map[string]json.RawMessage{}
	}
	return printIndented(g.Stdout, object)
}

// CCSDeleteCmd deletes properties.
type CCSDeleteCmd struct {
	UserFlags
	V1        bool   `name:"v1" help:"Use v1 with the API key even when a user ID is given."`
	Session   string `name:"session" help:"Session id (default: the namespace-level properties)."`
	Namespace string `arg:"" name:"namespace" help:"Namespace."`
	Key       string `arg:"" optional:"" name:"key" help:"The one property to delete (default: all of the namespace's or session's)."`
}

// Run deletes.
func (c *CCSDeleteCmd) Run(g *Globals) error {
	cl, v2, err := c.client(c.V1)
	if err != nil {
		return err
	}
	printed, err := call(g, func(ctx context.Context) error {
		var err error
		switch {
		case v2 && c.Key != "":
			_, err = cl.DeleteDocumentProperties(ctx, c.Namespace, c.Session, c.Key)
		case v2:
			_, err = cl.DeleteDocument(ctx, c.Namespace, c.Session)
		case c.Key != "":
			err = cl.DeleteProperty(ctx, c.Namespace, c.Session, c.Key)
		case c.Session != "":
			err = cl.DeleteSession(ctx, c.Namespace, c.Session)
		default:
			// The namespace-level properties are session __default__.
			err = cl.DeleteSessionProperties(ctx, c.Namespace, sdk.DefaultSession)
		}
		return err
	})
	if err != nil || printed {
		return err
	}
	what := "all properties"
	if c.Key != "" {
		what = c.Key
	}
	_, err = fmt.Fprintf(g.Stdout, "Deleted %s of %s.\n", what, where(c.Namespace, c.Session))
	return err
}

func ttlText(ttl *int) string {
	switch {
	case ttl == nil:
		return "-"
	case *ttl == 0:
		return "forever"
	default:
		return fmt.Sprintf("%ds", *ttl)
	}
}

// CCSNamespacesCmd lists namespaces.
type CCSNamespacesCmd struct {
	UserFlags
}

// Run lists the namespaces.
func (c *CCSNamespacesCmd) Run(g *Globals) error {
	cl, _, err := c.client(true)
	if err != nil {
		return err
	}
	var list []sdk.Namespace
	printed, err := call(g, func(ctx context.Context) error {
		var err error
		list, err = cl.ListNamespaces(ctx)
		return err
	})
	if err != nil || printed {
		return err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "NAMESPACE\tCREATED\tTTL")
	for _, n := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\n", n.Name, n.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), ttlText(n.TTLSecond))
	}
	return w.Flush()
}

// CCSSessionsCmd lists the sessions of a namespace.
type CCSSessionsCmd struct {
	UserFlags
	Namespace string `arg:"" name:"namespace" help:"Namespace."`
}

// Run lists the sessions. The listing is v1 (it needs the API key); with
// v2 credentials too, each session's expiry is read from its v2 document
// (when its last property expires), since the v1 TTL only says what later
// writes will get.
func (c *CCSSessionsCmd) Run(g *Globals) error {
	if c.APIKey == "" {
		return errors.New("v1 needs an API key: give --api-key or ORCH_API_KEY")
	}
	cl, v2, err := c.client(c.User == "")
	if err != nil {
		return err
	}
	var list []sdk.Session
	printed, err := call(g, func(ctx context.Context) error {
		var err error
		list, err = cl.ListSessions(ctx, c.Namespace)
		return err
	})
	if err != nil || printed {
		return err
	}
	w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "SESSION\tCREATED\tTTL\tEXPIRES")
	for _, s := range list {
		expires := "-"
		if v2 {
			if expires, err = sessionExpiry(g, cl, c.Namespace, s.SessionID); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.SessionID, s.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), ttlText(s.TTLSecond), expires)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if !v2 && len(list) > 0 {
		fmt.Fprintln(g.Stderr, "EXPIRES needs v2 credentials (--user with --password-file or ORCH_PASSWORD)")
	}
	return nil
}

// sessionExpiry says when a session's data expires: the ttl of its v2
// document, "never" when some property never expires, "no data" when it
// holds nothing live.
func sessionExpiry(g *Globals, cl *sdk.Client, ns, sid string) (string, error) {
	if sid == sdk.DefaultSession {
		sid = "" // the namespace-level document
	}
	doc, err := cl.GetDocument(g.Ctx, ns, sid)
	switch {
	case sdk.IsNotFound(err):
		return "no data", nil
	case err != nil:
		return "", err
	case doc.TTL == "" && len(doc.Payload) == 0:
		return "no data", nil
	case doc.TTL == "":
		return "never", nil
	}
	return doc.TTL, nil
}

// NextActionsCmd asks for the next actions of a conversation.
type NextActionsCmd struct {
	UserFlags
	V1           bool   `name:"v1" help:"Use v1 (GET /v1/account/{a}/next-actions) with the API key."`
	Conversation string `name:"conversation" required:"" help:"Conversation id."`
	Session      string `name:"session" help:"CCS session whose variables the policies read (default: the conversation id); v1 sends it as groupId."`
	Consumer     string `name:"consumer" help:"Consumer id (conversation.consumerId)."`
	Group        string `name:"group" help:"Group id (conversation.groupId; in v1 also the session)."`
	Policy       string `name:"policy" help:"Evaluate this policy only (v2)."`
	Vars         string `name:"conversation-vars" placeholder:"JSON" help:"JSON object of further conversation.* variables (v2), e.g. '{\"minutesSincePreviousMessage\":12}'."`
	SDE          string `name:"sde" placeholder:"JSON" help:"JSON object of the sde.* variables (v2), e.g. '{\"visitorinfo\":{\"customerinfo\":{\"customerid\":\"c9\"}}}'."`
}

// jsonObject decodes the JSON object of a flag ("" is nil).
func jsonObject(flag, v string) (map[string]any, error) {
	if v == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil || m == nil {
		return nil, fmt.Errorf("--%s: want a JSON object", flag)
	}
	return m, nil
}

func printActions(w io.Writer, actions []sdk.Action) error {
	for _, a := range actions {
		if _, err := fmt.Fprintf(w, "%s %s\n", a.Type, bytes.TrimSpace(a.Payload)); err != nil {
			return err
		}
	}
	return nil
}

// Run evaluates the policies.
func (c *NextActionsCmd) Run(g *Globals) error {
	conv, err := jsonObject("conversation-vars", c.Vars)
	if err != nil {
		return err
	}
	sde, err := jsonObject("sde", c.SDE)
	if err != nil {
		return err
	}
	cl, v2, err := c.client(c.V1)
	if err != nil {
		return err
	}
	if !v2 && (conv != nil || sde != nil) {
		return errors.New("next-actions: --conversation-vars and --sde are v2 only")
	}
	var actions []sdk.Action
	var v1 *sdk.NextActionsV1Result
	printed, err := call(g, func(ctx context.Context) error {
		var err error
		if v2 {
			actions, err = cl.NextActions(ctx, sdk.NextActionsRequest{ConversationID: c.Conversation, SessionID: c.Session, ConsumerID: c.Consumer, GroupID: c.Group, PolicyID: c.Policy,
				Conversation: conv, SDE: sde})
		} else {
			v1, err = cl.NextActionsV1(ctx, sdk.NextActionsV1Request{ConversationID: c.Conversation, ConsumerID: c.Consumer, GroupID: c.Group, SessionID: c.Session})
		}
		return err
	})
	if err != nil || printed {
		return err
	}
	if !v2 {
		if v1.Rule == nil {
			_, err := fmt.Fprintf(g.Stdout, "No match: %s.\n", v1.NoMatchReason)
			return err
		}
		fmt.Fprintf(g.Stdout, "Policy %s (%s):\n", v1.Rule.ID, v1.Rule.Name)
		actions = v1.Rule.Actions
	}
	if len(actions) == 0 {
		_, err := fmt.Fprintln(g.Stdout, "No action.")
		return err
	}
	return printActions(g.Stdout, actions)
}

// ConfigCmd manages policies (v2).
type ConfigCmd struct {
	Create     ConfigCreateCmd     `cmd:"" help:"Create a policy from a JSON file (- for stdin); it goes last in evaluation order.\n\nExample: orchestrator config create --file vip.json"`
	List       ConfigListCmd       `cmd:"" help:"List the policies in evaluation order.\n\nExample: orchestrator config list"`
	Get        ConfigGetCmd        `cmd:"" help:"Print one policy.\n\nExample: orchestrator config get 3f2a9c"`
	Update     ConfigUpdateCmd     `cmd:"" help:"Replace a policy with the JSON of a file (- for stdin); the id comes from the argument or the file.\n\nExample: orchestrator config update 3f2a9c --file vip.json"`
	Delete     ConfigDeleteCmd     `cmd:"" help:"Delete a policy.\n\nExample: orchestrator config delete 3f2a9c"`
	Logs       ConfigLogsCmd       `cmd:"" help:"Print the policy evaluations of the last 7 days.\n\nExample: orchestrator config logs --conversation conv-1"`
	Attributes ConfigAttributesCmd `cmd:"" help:"Print or replace the account's static attributes, the custom.* variables of policies.\n\nExample: orchestrator config attributes set --file attributes.json"`
}

// ConfigAttributesCmd manages the account's static attributes.
type ConfigAttributesCmd struct {
	Get ConfigAttributesGetCmd `cmd:"" help:"Print the attributes ({} when none).\n\nExample: orchestrator config attributes get"`
	Set ConfigAttributesSetCmd `cmd:"" help:"Replace the whole set of attributes with the JSON object of a file (- for stdin).\n\nExample: orchestrator config attributes set --file attributes.json"`
}

// v2Call is the shape of every config command: a v2 client, one call
// (whose raw answer --json prints as it is), then the answer for people.
func v2Call[T any](g *Globals, f *UserFlags, do func(*sdk.Client, context.Context) (T, error), human func(T) error) error {
	cl, err := f.v2Client()
	if err != nil {
		return err
	}
	var out T
	printed, err := call(g, func(ctx context.Context) error {
		var err error
		out, err = do(cl, ctx)
		return err
	})
	if err != nil || printed {
		return err
	}
	return human(out)
}

// say is a human answer of one line.
func say(g *Globals, format string, args ...any) error {
	_, err := fmt.Fprintf(g.Stdout, format, args...)
	return err
}

// printIndented prints v as indented JSON (map keys sorted).
func printIndented(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// readInput reads --file: a file, or stdin for "-".
func readInput(file string, stdin io.Reader) ([]byte, error) {
	b, err := readFileOrStdin(file, stdin, 8<<20)
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	return b, nil
}

// readFileOrStdin reads a file, or at most limit bytes of stdin for "-".
func readFileOrStdin(file string, stdin io.Reader, limit int64) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(io.LimitReader(stdin, limit))
	}
	return os.ReadFile(file)
}

// ConfigAttributesGetCmd prints the attributes.
type ConfigAttributesGetCmd struct {
	UserFlags
}

// Run prints the attributes.
func (c *ConfigAttributesGetCmd) Run(g *Globals) error {
	return v2Call(g, &c.UserFlags, (*sdk.Client).Attributes,
		func(attrs map[string]any) error { return printIndented(g.Stdout, attrs) })
}

// ConfigAttributesSetCmd replaces the attributes.
type ConfigAttributesSetCmd struct {
	UserFlags
	File string `name:"file" short:"f" required:"" help:"JSON object file, - for stdin."`
}

// Run replaces the attributes.
func (c *ConfigAttributesSetCmd) Run(g *Globals) error {
	b, err := readInput(c.File, os.Stdin)
	if err != nil {
		return err
	}
	attrs, err := jsonObject("file", string(b))
	if err != nil || attrs == nil {
		return fmt.Errorf("--file %s: want a JSON object", c.File)
	}
	return v2Call(g, &c.UserFlags,
		func(cl *sdk.Client, ctx context.Context) (map[string]any, error) { return cl.PutAttributes(ctx, attrs) },
		func(out map[string]any) error { return say(g, "Saved %d attributes.\n", len(out)) })
}

func (f *UserFlags) v2Client() (*sdk.Client, error) {
	if f.User == "" {
		return nil, errors.New("policies are v2: give --user (ORCH_USER_ID) with --password-file or ORCH_PASSWORD")
	}
	cl, _, err := f.client(false)
	return cl, err
}

func readPolicy(file string, stdin io.Reader) (sdk.Policy, error) {
	b, err := readInput(file, stdin)
	if err != nil {
		return sdk.Policy{}, err
	}
	var p sdk.Policy
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return sdk.Policy{}, fmt.Errorf("--file %s: not a policy: %w", file, err)
	}
	return p, nil
}

// ConfigCreateCmd creates a policy.
type ConfigCreateCmd struct {
	UserFlags
	File string `name:"file" short:"f" required:"" help:"JSON policy file, - for stdin."`
}

// Run creates the policy.
func (c *ConfigCreateCmd) Run(g *Globals) error {
	p, err := readPolicy(c.File, os.Stdin)
	if err != nil {
		return err
	}
	return v2Call(g, &c.UserFlags,
		func(cl *sdk.Client, ctx context.Context) (*sdk.Policy, error) { return cl.CreatePolicy(ctx, p) },
		func(out *sdk.Policy) error { return say(g, "Created policy %s (%s).\n", out.ID, out.Name) })
}

// ConfigListCmd lists policies.
type ConfigListCmd struct {
	UserFlags
}

// Run lists the policies.
func (c *ConfigListCmd) Run(g *Globals) error {
	return v2Call(g, &c.UserFlags, (*sdk.Client).ListPolicies, func(list []sdk.Policy) error {
		w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tENABLED")
		for _, p := range list {
			fmt.Fprintf(w, "%s\t%s\t%v\n", p.ID, p.Name, p.Enabled == nil || *p.Enabled)
		}
		return w.Flush()
	})
}

// ConfigGetCmd prints a policy.
type ConfigGetCmd struct {
	UserFlags
	ID string `arg:"" name:"id" help:"Policy id."`
}

// Run prints the policy.
func (c *ConfigGetCmd) Run(g *Globals) error {
	return v2Call(g, &c.UserFlags,
		func(cl *sdk.Client, ctx context.Context) (*sdk.Policy, error) { return cl.GetPolicy(ctx, c.ID) },
		func(p *sdk.Policy) error { return printIndented(g.Stdout, p) })
}

// ConfigUpdateCmd replaces a policy.
type ConfigUpdateCmd struct {
	UserFlags
	File string `name:"file" short:"f" required:"" help:"JSON policy file, - for stdin."`
	ID   string `arg:"" optional:"" name:"id" help:"Policy id (default: the id in the file)."`
}

// Run replaces the policy.
func (c *ConfigUpdateCmd) Run(g *Globals) error {
	p, err := readPolicy(c.File, os.Stdin)
	if err != nil {
		return err
	}
	if c.ID != "" {
		p.ID = c.ID
	}
	if p.ID == "" {
		return errors.New("config update: give the policy id as an argument or in the file")
	}
	return v2Call(g, &c.UserFlags,
		func(cl *sdk.Client, ctx context.Context) (*sdk.Policy, error) { return cl.UpdatePolicy(ctx, p) },
		func(out *sdk.Policy) error { return say(g, "Updated policy %s (%s).\n", out.ID, out.Name) })
}

// ConfigDeleteCmd deletes a policy.
type ConfigDeleteCmd struct {
	UserFlags
	ID string `arg:"" name:"id" help:"Policy id."`
}

// Run deletes the policy.
func (c *ConfigDeleteCmd) Run(g *Globals) error {
	return v2Call(g, &c.UserFlags,
		func(cl *sdk.Client, ctx context.Context) (struct{}, error) {
			return struct{}{}, cl.DeletePolicy(ctx, c.ID)
		},
		func(struct{}) error { return say(g, "Deleted policy %s.\n", c.ID) })
}

// ConfigLogsCmd prints policy evaluations.
type ConfigLogsCmd struct {
	UserFlags
	Conversation string `name:"conversation" help:"Only this conversation."`
}

// Run prints the evaluations.
func (c *ConfigLogsCmd) Run(g *Globals) error {
	return v2Call(g, &c.UserFlags,
		func(cl *sdk.Client, ctx context.Context) ([]sdk.PolicyLog, error) {
			return cl.PolicyLogs(ctx, c.Conversation)
		},
		func(logs []sdk.PolicyLog) error {
			w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(w, "TIME\tCONVERSATION\tPOLICY\tSTATE")
			for _, l := range logs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", l.Time.Format("2006-01-02T15:04:05Z07:00"), l.ConversationID, l.PolicyID, l.State)
			}
			return w.Flush()
		})
}

const credentialsHelp = `Credentials: --user (ORCH_USER_ID) with --password-file or ORCH_PASSWORD
for v2, which logs in and caches the token in
$XDG_CACHE_HOME/orchestrator/tokens/<userId>.jwt (default ~/.cache, mode
0600) until shortly before it expires; --api-key (ORCH_API_KEY) for v1.
--account (ORCH_ACCOUNT) names the account. The server is --url (ORCH_URL,
default http://127.0.0.1:8080) or the default URLs of --zone.`

// Help is the detailed help of login.
func (c *LoginCmd) Help() string {
	return `Logs in with v2 credentials, caches the token and prints it (--json: the login answer).

Example:

    orchestrator login --url http://127.0.0.1:8080 --user 3b5c...e1 --password-file pw.txt

` + credentialsHelp
}

// Help is the detailed help of ccs.
func (c *CCSCmd) Help() string {
	return `v2 with a token when a user ID is given, else v1 with the API key (--v1
forces v1). namespaces and sessions exist only in v1.

Example:

    export ORCH_ACCOUNT=67005361 ORCH_USER_ID=3b5c...e1 ORCH_PASSWORD=...
    orchestrator ccs set shop --session conv-1 cart=3 tier=gold
    orchestrator ccs get shop --session conv-1 tier

` + credentialsHelp
}

// Help is the detailed help of next-actions.
func (c *NextActionsCmd) Help() string {
	return `Evaluates the account's policies for a conversation and prints the actions
of the policy that matched (--json: the API answer).

Example:

    orchestrator next-actions --conversation conv-1 --session conv-1
    orchestrator next-actions --v1 --api-key KEY --account 67005361 --conversation conv-1

` + credentialsHelp
}

// Help is the detailed help of config.
func (c *ConfigCmd) Help() string {
	return `Policies decide the next actions; they are v2 only.

Example:

    orchestrator config create --file vip.json
    orchestrator config list

A policy file:

    {"name": "VIP", "enabled": true,
     "conditions": [{"property": "shop.tier", "type": "EQUAL", "value": "gold"}],
     "actions": [{"type": "TRANSFER_TO_SKILL", "payload": {"skillId": "vip"}}]}

` + credentialsHelp
}
