package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/orchestrator/orchestrator/internal/datadir"
	"github.com/orchestrator/orchestrator/internal/server"
	"github.com/orchestrator/orchestrator/internal/storage/migrate"
	"github.com/orchestrator/orchestrator/internal/storage/postgres"
	"github.com/orchestrator/orchestrator/internal/storage/sqlite"
)

// StoreCmd works on the store itself, without a server: its schema, for
// operators who apply migrations before a start rather than let serve
// apply them.
type StoreCmd struct {
	Migrate StoreMigrateCmd `cmd:"" help:"Apply the pending schema migrations of the store and print each one applied.\n\nExample: orchestrator store migrate --data ./data"`
	Status  StoreStatusCmd  `cmd:"" help:"List the schema migrations of the store: applied (and when) or pending.\n\nExample: orchestrator store status --postgres-url postgres://orch@db.example.com/orch"`
	Copy    StoreCopyCmd    `cmd:"" help:"Copy the embedded store of a stopped server into an empty PostgreSQL database, verifying each table's rows and checksum (the servers on it need the same ORCH_SECRET_KEY).\n\nExample: orchestrator store copy --from ./data --to postgres://orch@db.example.com/orch"`
}

// StoreFlags locate one store: PostgreSQL when --postgres-url is set,
// else the embedded store of --data, as serve finds it.
type StoreFlags struct {
	JSONFlag
	Data        string `name:"data" env:"ORCH_DATA" default:"./data" help:"Data directory of the embedded store (<data>/orchestrator.db)."`
	PostgresURL string `name:"postgres-url" env:"ORCH_POSTGRES_URL" help:"PostgreSQL URL of the store (--data is then not used)."`
}

func (f StoreFlags) sqlitePath() string { return filepath.Join(f.Data, "orchestrator.db") }

// migrations are the migration files of the store's backend.
func (f StoreFlags) migrations() fs.FS {
	if f.PostgresURL != "" {
		return postgres.Migrations()
	}
	return sqlite.Migrations()
}

// openPostgres opens the PostgreSQL store and checks that it answers.
// Errors do not repeat the URL, which may hold a password.
func openPostgres(ctx context.Context, url string) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("--postgres-url: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	return db, nil
}

// StoreMigrateCmd applies the pending migrations.
type StoreMigrateCmd struct{ StoreFlags }

// Run runs the command.
func (c *StoreMigrateCmd) Run(g *Globals) error {
	applied, err := c.up(g)
	if err != nil {
		return err
	}
	sources, err := migrate.Sources(c.migrations())
	if err != nil {
		return err
	}
	names := make(map[int64]string, len(sources))
	for _, m := range sources {
		names[m.Version] = m.Name
	}
	if g.JSON {
		out := make([]migrationView, 0, len(applied))
		for _, v := range applied {
			out = append(out, migrationView{Version: v, Name: names[v], State: "applied"})
		}
		return writeJSON(g, out)
	}
	if len(applied) == 0 {
		_, err := fmt.Fprintln(g.Stdout, "up to date")
		return err
	}
	for _, v := range applied {
		if _, err := fmt.Fprintf(g.Stdout, "applied %d %s\n", v, names[v]); err != nil {
			return err
		}
	}
	return nil
}

func (c *StoreMigrateCmd) up(g *Globals) ([]int64, error) {
	if c.PostgresURL != "" {
		db, err := openPostgres(g.Ctx, c.PostgresURL)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		// Under the advisory lock: nodes starting meanwhile wait.
		return migrate.Up(g.Ctx, db, migrate.Postgres, postgres.Migrations())
	}
	// As serve does: the directory private, then its lock, so that the
	// store is not migrated under a running server.
	if err := datadir.Prepare(c.Data, slog.New(slog.NewTextHandler(g.Stderr, nil))); err != nil {
		return nil, err
	}
	lock, err := datadir.Acquire(c.Data)
	if err != nil {
		if errors.Is(err, datadir.ErrInUse) {
			return nil, fmt.Errorf("%w; a running server applies pending migrations itself", err)
		}
		return nil, err
	}
	defer lock.Release()
	if err := server.CheckStoreNotLost(c.Data); err != nil {
		return nil, err
	}
	return sqlite.Migrate(g.Ctx, c.sqlitePath())
}

// StoreStatusCmd lists the migrations.
type StoreStatusCmd struct{ StoreFlags }

// migrationView is one migration as the store commands print it.
type migrationView struct {
	Version   int64      `json:"version"`
	Name      string     `json:"name"`
	State     string     `json:"state"` // applied or pending
	AppliedAt *time.Time `json:"appliedAt,omitempty"`
}

// Run runs the command.
func (c *StoreStatusCmd) Run(g *Globals) error {
	st, err := c.status(g)
	if err != nil {
		return err
	}
	out := make([]migrationView, 0, len(st))
	for _, m := range st {
		v := migrationView{Version: m.Version, Name: m.Name, State: "pending"}
		if m.Applied {
			v.State = "applied"
			if !m.AppliedAt.IsZero() {
				at := m.AppliedAt.UTC()
				v.AppliedAt = &at
			}
		}
		out = append(out, v)
	}
	if g.JSON {
		return writeJSON(g, out)
	}
	w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tNAME\tSTATE\tAPPLIED")
	for _, v := range out {
		at := "-"
		if v.AppliedAt != nil {
			at = v.AppliedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", v.Version, v.Name, v.State, at)
	}
	return w.Flush()
}

// status reads without the data directory's lock: it changes nothing,
// and may run beside a server.
func (c *StoreStatusCmd) status(g *Globals) ([]migrate.Migration, error) {
	if c.PostgresURL != "" {
		db, err := openPostgres(g.Ctx, c.PostgresURL)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		return migrate.Status(g.Ctx, db, migrate.Postgres, postgres.Migrations())
	}
	if fi, err := os.Stat(c.Data); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("data directory %s is not a directory", c.Data)
	}
	return sqlite.MigrationStatus(g.Ctx, c.sqlitePath())
}

func writeJSON(g *Globals, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return printJSON(g, b)
}
