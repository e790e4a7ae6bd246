package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// benchDBName is what pgdb accepts as a database name: it creates and
// drops only the bench's own throwaway databases.
var benchDBName = regexp.MustCompile(`^orch_bench_[a-z0-9_]{1,40}$`)

// pgdb creates or drops a throwaway database on the PostgreSQL server of
// --url (a maintenance connection, e.g. to database "test" or
// "postgres"). create prints the new database's URL (same server, user
// and parameters); drop ends the database's remaining sessions (FORCE) and
// is quiet when the database is already gone.
//
//	benchtool pgdb create|drop --url postgres://postgres@127.0.0.1:5432/test?sslmode=disable --name orch_bench_x
func pgdb(args []string) error {
	if len(args) < 1 || (args[0] != "create" && args[0] != "drop") {
		return fmt.Errorf("usage: benchtool pgdb create|drop --url URL --name orch_bench_NAME")
	}
	fs := flag.NewFlagSet("pgdb", flag.ExitOnError)
	admin := fs.String("url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "maintenance connection to the PostgreSQL server")
	name := fs.String("name", "", "database to create or drop (orch_bench_...)")
	fs.Parse(args[1:])
	if !benchDBName.MatchString(*name) {
		return fmt.Errorf("pgdb: database name %q: want orch_bench_ followed by lower-case letters, digits or _", *name)
	}
	u, err := url.Parse(*admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("pgdb: --url: want postgres://user@host:port/database")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, *admin)
	if err != nil {
		return fmt.Errorf("pgdb: %w", err)
	}
	defer conn.Close(context.Background())
	ident := pgx.Identifier{*name}.Sanitize()
	if args[0] == "drop" {
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
		return err
	}
	if _, err = conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("pgdb: %w", err)
	}
	u.Path = "/" + *name
	fmt.Println(u.String())
	return nil
}
