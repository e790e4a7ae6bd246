package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/orchestrator/orchestrator/internal/buildinfo"
)

// Globals are the settings every command receives.
type Globals struct {
	Stdout io.Writer       `kong:"-"`
	Stderr io.Writer       `kong:"-"`
	Ctx    context.Context `kong:"-"`
	// JSON is the --json of the selected command, for the commands that
	// offer it (those that embed JSONFlag); false for the others.
	JSON bool `kong:"-"`
}

// JSONFlag is --json, embedded in the commands that print data. It is not
// a global flag: serve and completion print no API response, so they do
// not offer it.
type JSONFlag struct {
	JSON bool `name:"json" help:"Print the exact JSON of the API response."`
}

// Stdin and StdinIsTerminal are what confirmations read; tests replace
// them.
var (
	Stdin           io.Reader = os.Stdin
	StdinIsTerminal           = func() bool {
		fi, err := os.Stdin.Stat()
		return err == nil && fi.Mode()&os.ModeCharDevice != 0
	}
)

// BuildInfo is what the binary knows of its own build (buildinfo owns it).
type BuildInfo = buildinfo.Info

// ReadBuildInfo returns the binary's build information.
func ReadBuildInfo() BuildInfo { return buildinfo.Read() }

// Version is the module version the binary was built from ("v1.2.3"),
// or "devel" plus the VCS revision when it was built from a checkout.
func Version() string { return buildinfo.Read().String() }

// VersionCmd prints the version.
type VersionCmd struct {
	JSONFlag
}

// Run runs the command.
func (VersionCmd) Run(g *Globals) error {
	b := ReadBuildInfo()
	if g.JSON {
		return writeJSON(g, b)
	}
	_, err := fmt.Fprintln(g.Stdout, b.Line())
	return err
}

// root is the whole command line.
type root struct {
	Globals
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`
	ConfigFile  kong.ConfigFlag  `name:"config" placeholder:"FILE" help:"JSON or YAML file of flag values (keys are flag names, such as addr or token-ttl); the command line and the environment win over it."`

	Version     VersionCmd     `cmd:"" help:"Print the version.\n\nExample: orchestrator version"`
	Serve       ServeCmd       `cmd:"" help:"Run one zone server.\n\nExample: orchestrator serve --zone z1 --addr 127.0.0.1:8080"`
	Account     AccountCmd     `cmd:"" help:"Manage accounts (operator)."`
	Keys        KeysCmd        `cmd:"" help:"Manage token signing keys (operator)."`
	Audit       AuditCmd       `cmd:"" help:"Print the zone's own audit log (signing-key rotations, failed logins of user IDs no account has), newest first (operator).\n\nExample: orchestrator audit --limit 20"`
	Store       StoreCmd       `cmd:"" help:"Migrate the store's schema or list its migrations (operator, without a server)."`
	Login       LoginCmd       `cmd:"" help:"Log in with v2 credentials and print a token."`
	CCS         CCSCmd         `cmd:"" name:"ccs" help:"Conversation Context Service."`
	NextActions NextActionsCmd `cmd:"" name:"next-actions" help:"Ask for the next actions of a conversation."`
	Config      ConfigCmd      `cmd:"" name:"config" help:"Manage policies."`
	Completion  CompletionCmd  `cmd:"" help:"Print a shell completion script (bash, zsh, fish).\n\nExample: source <(orchestrator completion bash)"`
}

// Run parses args and runs the chosen command. Errors are returned, not
// printed; the caller prints them to stderr and exits non-zero.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cli root
	exitCode := -1
	parser, err := newParser(&cli, stdout, stderr, func(code int) { exitCode = code; panic(exitSentinel{}) })
	if err != nil {
		return err
	}
	var kctx *kong.Context
	func() {
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(exitSentinel); !ok {
					panic(v)
				}
			}
		}()
		kctx, err = parser.Parse(args)
	}()
	if exitCode >= 0 { // --help
		if exitCode == 0 {
			return nil
		}
		return ExitError{Code: exitCode}
	}
	if err != nil {
		var pe *kong.ParseError
		if errors.As(err, &pe) && pe.Context != nil {
			if n := pe.Context.Selected(); n != nil {
				return fmt.Errorf("%w (see: %s --help)", err, n.FullPath())
			}
		}
		return fmt.Errorf("%w (see: orchestrator --help)", err)
	}
	cli.Globals.Stdout, cli.Globals.Stderr, cli.Globals.Ctx = stdout, stderr, ctx
	cli.Globals.JSON = selectedJSON(kctx)
	return explain(kctx.Run(&cli.Globals))
}

// selectedJSON is the --json of the selected command (its JSONFlag),
// false for a command without one.
func selectedJSON(kctx *kong.Context) bool {
	for _, f := range kctx.Flags() {
		if f.Name == "json" {
			v, _ := kctx.FlagValue(f).(bool)
			return v
		}
	}
	return false
}

// newParser is the kong parser of the whole command line into cli.
func newParser(cli *root, stdout, stderr io.Writer, exit func(int)) (*kong.Kong, error) {
	return kong.New(cli,
		kong.Name("orchestrator"),
		kong.Description("Conversation Orchestrator: server-to-server authentication, Context Service and Next Actions."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(exit),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Vars{"version": ReadBuildInfo().Line()},
		kong.Configuration(loadConfigFile),
	)
}

// explain turns a refused connection into a hint at its likely cause.
func explain(err error) error {
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			return fmt.Errorf("is the server running at %s://%s? (%w)", u.Scheme, u.Host, err)
		}
	}
	return fmt.Errorf("is the server running? (%w)", err)
}

type exitSentinel struct{}

// ExitError asks the caller to exit with Code without printing more.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// Main is what cmd/orchestrator calls.
func Main(ctx context.Context, args []string) int {
	err := Run(ctx, args, os.Stdout, os.Stderr)
	if err == nil {
		return 0
	}
	var ee ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	fmt.Fprintln(os.Stderr, "orchestrator:", err)
	return 1
}
