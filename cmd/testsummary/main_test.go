package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummarise(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"p"}`,
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"quiet when it passes\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"skip","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Output":"PASS\n"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
		`{"Action":"output","Package":"q","Output":"ok  \tq\t0.2s\n"}`,
		`{"Action":"pass","Package":"q"}`,
		`{"ImportPath":"r","Action":"build-output","Output":"r/x.go:1: syntax error\n"}`,
		`go: some error that is not JSON`,
	}, "\n")
	var out bytes.Buffer
	c, err := summarise(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.line(), "tests: 1 passed, 1 failed, 1 skipped"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	if c.Packages != 2 || c.PackagesFailed != 1 {
		t.Errorf("packages = %d (%d failed), want 2 (1 failed)", c.Packages, c.PackagesFailed)
	}
	s := out.String()
	for _, want := range []string{"b_test.go:3: boom", "FAIL\tp\t0.1s", "ok  \tq\t0.2s", "syntax error", "not JSON"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range []string{"quiet when it passes", "=== RUN", "PASS\n"} {
		if strings.Contains(s, bad) {
			t.Errorf("output has %q:\n%s", bad, s)
		}
	}
}
