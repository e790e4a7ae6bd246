package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kong"
)

// Globals are the settings every command receives.
type Globals struct {
	Stdout io.Writer       `kong:"-"`
	Stderr io.Writer       `kong:"-"`
	Ctx    context.Context `kong:"-"`
	JSON   bool            `help:"Print the exact JSON of the API response." name:"json"`
}

var errNotYet = errors.New("not implemented yet")

// root is the whole command line.
type root struct {
	Globals

	Serve       ServeCmd       `cmd:"" help:"Run one zone server.\n\nExample: orchestrator serve --zone z1 --addr 127.0.0.1:8080"`
	Account     AccountCmd     `cmd:"" help:"Manage accounts (operator)."`
	Keys        KeysCmd        `cmd:"" help:"Manage token signing keys (operator)."`
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
		return err
	}
	cli.Globals.Stdout, cli.Globals.Stderr, cli.Globals.Ctx = stdout, stderr, ctx
	return kctx.Run(&cli.Globals)
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
