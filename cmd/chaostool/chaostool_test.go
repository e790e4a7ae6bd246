package main

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheck(t *testing.T) {
	w := write{session: "s", n: 7, value: "v7"}
	for _, tc := range []struct {
		name string
		doc  map[string]any
		want outcome
	}{
		{"both properties", map[string]any{"a7": "v7", "b7": "v7", "a8": "x"}, whole},
		{"no document", nil, absent},
		{"other writes only", map[string]any{"a6": "v6", "b6": "v6"}, absent},
		{"a only", map[string]any{"a7": "v7"}, torn},
		{"b only", map[string]any{"b7": "v7"}, torn},
		{"another value", map[string]any{"a7": "v7", "b7": "v6"}, wrong},
		{"another type", map[string]any{"a7": 7.0, "b7": "v7"}, wrong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := check(w, tc.doc); got != tc.want {
				t.Errorf("check(%v) = %v, want %v", tc.doc, got, tc.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	writes := []write{
		{round: 1, session: "r1w0s0", n: 0, value: "x0", status: acked},
		{round: 1, session: "r1w0s0", n: 1, value: "x1", status: acked},    // lost
		{round: 1, session: "r1w0s0", n: 2, value: "x2", status: inFlight}, // earlier round: not counted
		{round: 2, session: "r2w0s0", n: 0, value: "y0", status: acked},    // wrong value: lost
		{round: 2, session: "r2w0s0", n: 1, value: "y1", status: inFlight}, // present
		{round: 2, session: "r2w1s0", n: 0, value: "z0", status: inFlight}, // absent
		{round: 2, session: "r2w1s0", n: 1, value: "z1", status: inFlight}, // torn
		{round: 2, session: "r2w2s0", n: 0, value: "q0", status: refused},  // absent, fine
		{round: 2, session: "r2w3s0", n: 0, value: "u0", status: acked},    // session never read: lost
	}
	docs := map[string]map[string]any{
		"r1w0s0": {"a0": "x0", "b0": "x0", "a2": "x2", "b2": "x2"},
		"r2w0s0": {"a0": "y0", "b0": "stale", "a1": "y1", "b1": "y1"},
		"r2w1s0": {"b1": "z1"},
	}
	got := verify(writes, docs, 2)
	want := report{
		Acked:           4,
		Lost:            []string{"r1w0s0#1 absent", "r2w0s0#0 wrong", "r2w3s0#0 absent"},
		InFlightPresent: 1,
		InFlightAbsent:  1,
		Torn:            []string{"r2w1s0#1 torn"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verify (-want +got):\n%s", diff)
	}
}

func TestWriteBody(t *testing.T) {
	w := write{n: 3, value: "r1w2n3-abcd"}
	if got, want := w.body(), `{"a3":"r1w2n3-abcd","b3":"r1w2n3-abcd"}`; got != want {
		t.Errorf("body() = %s, want %s", got, want)
	}
}

func TestServerEnv(t *testing.T) {
	got := serverEnv([]string{"PATH=/bin", "ORCH_DATA=/elsewhere", "ORCH_ADMIN_TOKEN=short", "HOME=/root"})
	if diff := cmp.Diff([]string{"PATH=/bin", "HOME=/root"}, got); diff != "" {
		t.Errorf("serverEnv (-want +got):\n%s", diff)
	}
}

func TestIntegrityCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	db, err := sql.Open("sqlite", good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT); INSERT INTO t VALUES ('a', 'b')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if got, err := integrityCheck(t.Context(), good); err != nil || got != "ok" {
		t.Errorf("integrityCheck(good) = %q, %v; want ok", got, err)
	}

	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, bytes.Repeat([]byte("not a database "), 512), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := integrityCheck(t.Context(), bad); err == nil && got == "ok" {
		t.Errorf("integrityCheck(garbage) = ok, want a failure")
	}
	if _, err := integrityCheck(t.Context(), filepath.Join(dir, "missing.db")); err == nil {
		t.Errorf("integrityCheck(missing) succeeded, want an error")
	}
}
