// Command orchestrator is the Conversation Orchestrator server and CLI.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/orchestrator/orchestrator/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
