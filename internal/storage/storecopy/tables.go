package storecopy

import (
	"fmt"
	"strings"
)

// kind is the type of a column on both sides, to which every value is
// normalised before it is sent and hashed.
type kind uint8

const (
	text    kind = iota + 1 // SQLite TEXT, PostgreSQL TEXT
	integer                 // SQLite INTEGER, PostgreSQL BIGINT, NOT NULL
	nullInt                 // the same, NULL allowed
	blob                    // SQLite BLOB, PostgreSQL BYTEA
)

// column is one column of a copied table.
type column struct {
	name string
	kind kind
	// rowid: SQLite has no such column; the value is the row's rowid,
	// the order SQLite kept implicitly (a PostgreSQL identity column).
	rowid bool
}

// table is one copied table. Its columns are the PostgreSQL columns; all
// but the rowid one have the same name in SQLite.
type table struct {
	name string
	cols []column
	// key orders the rows for the checksum on both sides: the primary
	// key, or seq.
	key []string
	// identity is the PostgreSQL identity column whose sequence must go
	// past the copied values ("" for none).
	identity string
}

// tables are the copied tables in foreign key order (parents first).
// ccs_usage comes after the context tables, whose PostgreSQL triggers
// are disabled during the copy (see copyAll), so it holds the source's
// rows exactly. health_probe is not data; the migration bookkeeping
// tables belong to each side.
var tables = []table{
	{name: "accounts", key: []string{"id"}, cols: []column{
		{name: "id", kind: text}, {name: "name", kind: text}, {name: "auth_version", kind: text},
		{name: "created_at", kind: integer}, {name: "upgraded_at", kind: integer}, {name: "deleted_at", kind: integer},
	}},
	{name: "api_keys", key: []string{"hash"}, cols: []column{
		{name: "hash", kind: blob}, {name: "account_id", kind: text}, {name: "sealed", kind: blob},
		{name: "created_at", kind: integer}, {name: "retired_at", kind: integer}, {name: "last_used_at", kind: integer},
	}},
	{name: "credentials", key: []string{"account_id"}, cols: []column{
		{name: "account_id", kind: text}, {name: "user_id", kind: text}, {name: "secret_hash", kind: blob},
		{name: "seed", kind: blob}, {name: "created_at", kind: integer}, {name: "revoked_before_ms", kind: integer},
		{name: "pending_before_ms", kind: integer}, {name: "pending_at", kind: integer}, {name: "last_used_at", kind: integer},
	}},
	{name: "revoked_tokens", key: []string{"account_id", "jti"}, cols: []column{
		{name: "account_id", kind: text}, {name: "jti", kind: text}, {name: "expires_at", kind: integer},
	}},
	{name: "console_users", key: []string{"account_id", "email"}, cols: []column{
		{name: "account_id", kind: text}, {name: "email", kind: text}, {name: "password_hash", kind: text},
		{name: "created_at", kind: integer},
	}},
	{name: "signing_keys", key: []string{"seq"}, identity: "seq", cols: []column{
		{name: "kid", kind: text}, {name: "alg", kind: text}, {name: "private", kind: blob},
		{name: "created_at", kind: integer}, {name: "signs_from", kind: integer},
		{name: "seq", kind: integer, rowid: true},
	}},
	{name: "audit_log", key: []string{"seq"}, identity: "seq", cols: []column{
		{name: "seq", kind: integer}, {name: "time", kind: integer}, {name: "account_id", kind: text},
		{name: "actor", kind: text}, {name: "action", kind: text}, {name: "address", kind: text},
	}},
	{name: "ccs_namespaces", key: []string{"account_id", "name"}, cols: []column{
		{name: "account_id", kind: text}, {name: "name", kind: text}, {name: "created_at", kind: integer},
		{name: "ttl_ms", kind: nullInt},
	}},
	{name: "ccs_sessions", key: []string{"account_id", "namespace", "session_id"}, cols: []column{
		{name: "account_id", kind: text}, {name: "namespace", kind: text}, {name: "session_id", kind: text},
		{name: "created_at", kind: integer}, {name: "updated_at", kind: integer}, {name: "ttl_ms", kind: nullInt},
		{name: "size", kind: integer},
	}},
	{name: "ccs_properties", key: []string{"account_id", "namespace", "session_id", "name"}, cols: []column{
		{name: "account_id", kind: text}, {name: "namespace", kind: text}, {name: "session_id", kind: text},
		{name: "name", kind: text}, {name: "value", kind: text}, {name: "expires_at", kind: integer},
		{name: "size", kind: integer},
	}},
	{name: "ccs_usage", key: []string{"account_id"}, cols: []column{
		{name: "account_id", kind: text}, {name: "properties", kind: integer}, {name: "bytes", kind: integer},
	}},
	{name: "policies", key: []string{"account_id", "id"}, cols: []column{
		{name: "account_id", kind: text}, {name: "id", kind: text}, {name: "position", kind: integer},
		{name: "revision", kind: text}, {name: "body", kind: blob}, {name: "created_at", kind: integer},
		{name: "updated_at", kind: integer},
	}},
	{name: "policy_evaluations", key: []string{"seq"}, identity: "seq", cols: []column{
		{name: "seq", kind: integer, rowid: true}, {name: "account_id", kind: text}, {name: "time", kind: integer},
		{name: "conversation_id", kind: text}, {name: "policy_id", kind: text}, {name: "state", kind: text},
	}},
	{name: "policy_log_counts", key: []string{"account_id"}, cols: []column{
		{name: "account_id", kind: text}, {name: "n", kind: integer},
	}},
	{name: "account_attributes", key: []string{"account_id"}, cols: []column{
		{name: "account_id", kind: text}, {name: "revision", kind: text}, {name: "body", kind: blob},
		{name: "updated_at", kind: integer},
	}},
}

// skippedSource are the SQLite tables that are not copied: migration
// bookkeeping and the readiness probe's row. Names starting with
// "sqlite_" are SQLite's own (sqlite_sequence, sqlite_stat1).
var skippedSource = map[string]bool{"schema_migrations": true, "goose_db_version": true, "health_probe": true}

func (t table) col(name string) column {
	for _, c := range t.cols {
		if c.name == name {
			return c
		}
	}
	panic("storecopy: " + t.name + " has no column " + name)
}

// names are the PostgreSQL column names.
func (t table) names() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.name
	}
	return out
}

// sourceQuery reads the table from SQLite in checksum order.
func (t table) sourceQuery() string {
	sel := make([]string, len(t.cols))
	for i, c := range t.cols {
		sel[i] = c.name
		if c.rowid {
			sel[i] = "rowid"
		}
	}
	order := make([]string, len(t.key))
	for i, k := range t.key {
		order[i] = k
		if t.col(k).rowid {
			order[i] = "rowid"
		}
	}
	return fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(sel, ", "), t.name, strings.Join(order, ", "))
}

// targetQuery reads the table back from PostgreSQL in the same order as
// sourceQuery: text sorts by its bytes (COLLATE "C"), as SQLite's BINARY
// collation does, whatever the database's collation.
func (t table) targetQuery() string {
	order := make([]string, len(t.key))
	for i, k := range t.key {
		order[i] = k
		if t.col(k).kind == text {
			order[i] += ` COLLATE "C"`
		}
	}
	return fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(t.names(), ", "), t.name, strings.Join(order, ", "))
}
