package cli

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server"
)

// ServeCmd runs a zone server.
type ServeCmd struct {
	config.Serve `embed:""`
}

// BeforeApply reads the secrets from the environment (never flags)
// before kong validates the configuration, which needs them with
// --postgres-url.
func (c *ServeCmd) BeforeApply() error {
	c.AdminToken, c.SecretKey = os.Getenv("ORCH_ADMIN_TOKEN"), os.Getenv("ORCH_SECRET_KEY")
	return nil
}

// Run runs the server until SIGINT/SIGTERM (the context from main).
func (c *ServeCmd) Run(g *Globals) error {
	var level slog.Level
	level.UnmarshalText([]byte(c.LogLevel))
	c.AdminToken, c.SecretKey = os.Getenv("ORCH_ADMIN_TOKEN"), os.Getenv("ORCH_SECRET_KEY")
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if limit, err := c.MemoryLimitBytes(); err != nil {
		return err
	} else if limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
	return server.Run(g.Ctx, c.Serve, server.Deps{Log: log})
}
