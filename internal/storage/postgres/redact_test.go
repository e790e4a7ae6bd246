package postgres

import (
	"strings"
	"testing"
)

func TestRedacted(t *testing.T) {
	for _, dsn := range []string{
		"postgres://orch:s3cret-pw@db.example:5432/orch?sslmode=require",
		"postgres://orch@db.example/orch?password=s3cret-pw",
		"host=db user=orch password=s3cret-pw",
	} {
		if got := Redacted(dsn); strings.Contains(got, "s3cret-pw") {
			t.Errorf("Redacted(%q) = %q: the password shows", dsn, got)
		}
	}
	if got := Redacted("postgres://orch@db.example:5432/orch"); got != "postgres://orch@db.example:5432/orch" {
		t.Errorf("a URL without password changed: %q", got)
	}
}
