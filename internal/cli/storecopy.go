package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/orchestrator/orchestrator/internal/secret"
	"github.com/orchestrator/orchestrator/internal/storage/storecopy"
)

// StoreCopyCmd copies the embedded SQLite store of a data directory into
// an empty PostgreSQL database (SPEC §9), in one transaction verified
// table by table before it commits.
type StoreCopyCmd struct {
	JSONFlag
	From string `name:"from" required:"" placeholder:"DIR" help:"Data directory whose store (DIR/orchestrator.db) is copied. Stop the server using it first."`
	To   string `name:"to" env:"ORCH_POSTGRES_URL" required:"" placeholder:"URL" help:"Empty PostgreSQL database to copy into (its schema is created), such as postgres://user@host/db."`
}

// storeCopyView is the --json output.
type storeCopyView struct {
	From       string          `json:"from"`
	DurationMs int64           `json:"durationMs"`
	Tables     []storeCopyItem `json:"tables"`
}

type storeCopyItem struct {
	Name           string `json:"name"`
	Rows           int64  `json:"rows"`
	Checksum       string `json:"checksum"`
	TargetRows     int64  `json:"targetRows"`
	TargetChecksum string `json:"targetChecksum"`
	OK             bool   `json:"ok"`
}

// Run copies the store and prints what was copied: each table's rows and
// checksum, on the source and read back from the target. On a mismatch
// it prints the comparison and fails; the target keeps nothing.
func (c *StoreCopyCmd) Run(g *Globals) error {
	if c.To == "" {
		return errors.New("store copy: give the target database with --to or ORCH_POSTGRES_URL")
	}
	db := filepath.Join(c.From, storecopy.DBFile)
	rep, err := storecopy.Copy(g.Ctx, c.From, c.To, storecopy.Options{
		Progress: func(table string, rows int64, took time.Duration) {
			fmt.Fprintf(g.Stderr, "copied %s: %d %s (%v)\n", table, rows, plural(rows, "row"), took.Round(time.Millisecond))
		},
	})
	if err != nil && !errors.Is(err, storecopy.ErrMismatch) {
		return err
	}
	if g.JSON {
		v := storeCopyView{From: db, DurationMs: rep.Duration.Milliseconds(), Tables: []storeCopyItem{}}
		for _, t := range rep.Tables {
			v.Tables = append(v.Tables, storeCopyItem(t))
		}
		b, jerr := json.MarshalIndent(v, "", "  ")
		if jerr != nil {
			return jerr
		}
		if _, jerr := fmt.Fprintf(g.Stdout, "%s\n", b); jerr != nil {
			return jerr
		}
		return err
	}
	if err == nil {
		fmt.Fprintf(g.Stdout, "Copied %s into PostgreSQL in %v, verified:\n\n", db, rep.Duration.Round(time.Millisecond))
	} else {
		fmt.Fprintf(g.Stdout, "The copy of %s does not match; nothing was committed:\n\n", db)
	}
	w := tabwriter.NewWriter(g.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "TABLE\tROWS\tSHA-256\tOK")
	for _, t := range rep.Tables {
		ok := "ok"
		if !t.OK {
			ok = fmt.Sprintf("MISMATCH: the target has %d rows, %s", t.TargetRows, t.TargetChecksum)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", t.Name, t.Rows, t.Checksum, ok)
	}
	if ferr := w.Flush(); ferr != nil {
		return ferr
	}
	if err != nil {
		return err
	}
	// The secrets are sealed with the key, not the store: without the same
	// key the copied API keys, credentials and signing keys do not open.
	_, err = fmt.Fprintf(g.Stdout, "\nSealed secrets were copied as they are: run the servers that use PostgreSQL with the same secret key\n(ORCH_SECRET_KEY, or the key in %s).\n", filepath.Join(c.From, secret.KeyFile))
	return err
}

func plural(n int64, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
