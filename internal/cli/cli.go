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
	JSON   bool            `help:"Print the exact JSON of the API response." name:"json"`
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

// Version is the module version the binary was built from ("v1.2.3"),
// or "devel" plus the VCS revision when it was built from a checkout.
func Version() string { return buildinfo.Read().String() }

// VersionCmd prints the version.
type VersionCmd struct{}

// Run runs the command.
func (VersionCmd) Run(g *Globals) error {
	_, err := fmt.Fprintf(g.Stdout, "orchestrator %s\n", Version())
	return err
}

var errNotYet = errors.New("not implemented yet")

// root is the whole command line.
type root struct {
	Globals
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`

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
}

// Run parses args and runs the chosen command. Errors are returned, not
// printed; the caller prints them to stderr and exits non-zero.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cli root
	exitCode := -1
	parser, err := kong.New(&cli,
		kong.Name("orchestrator"),
		kong.Description("Conversation Orchestrator: server-to-server authentication, Context Service and Next Actions."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exitCode = code; panic(exitSentinel{}) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Vars{"version": "orchestrator " + Version()},
		kong.Help(helpPrinter),
	)
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
	return explain(kctx.Run(&cli.Globals))
}

// helpPrinter is kong's, except that serve does not list --json: a
// server prints no API response.
func helpPrinter(options kong.HelpOptions, ctx *kong.Context) error {
	if n := ctx.Selected(); n != nil && n.Name == "serve" && n.Parent != nil && n.Parent.Parent == nil {
		for _, f := range ctx.Model.Flags {
			if f.Name == "json" {
				f.Hidden = true
				defer func() { f.Hidden = false }()
			}
		}
	}
	return kong.DefaultHelpPrinter(options, ctx)
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
