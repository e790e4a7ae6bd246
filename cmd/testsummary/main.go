// Command testsummary reads `go test -json` on stdin and prints what a
// plain `go test` prints (one line a package, plus the whole output of a
// failed test, build errors), then a package/time line and a last line
// "tests: N passed, N failed, N skipped". scripts/test pipes through it so
// the run ends with one countable line.
//
// With -summary FILE the two closing lines go to FILE instead of stdout,
// so the caller can print them after later steps; -label race makes the
// last one "race: N passed, ..." for a second, separately counted run. It exits 1 when a test
// or a package failed, or when the input held no test events at all.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
	Elapsed    float64
}

// counts is what a run adds up to.
type counts struct {
	Passed, Failed, Skipped  int
	Packages, PackagesFailed int
}

func (c counts) line() string {
	return fmt.Sprintf("tests: %d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped)
}

// summarise copies the readable part of the go test -json stream in to
// out and returns the counts. Lines that are not JSON (a go command
// error) are copied as they are.
func summarise(in io.Reader, out io.Writer) (counts, error) {
	var c counts
	held := map[string][]string{} // package+test -> output kept until the verdict
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(out, e.Output)
		case e.Test == "" && e.Action == "output":
			// "ok  pkg 1.2s", "FAIL pkg", "? pkg [no test files]",
			// panics outside a test; not the bare PASS a -v run adds.
			if o := strings.TrimSpace(e.Output); o != "PASS" && o != "" {
				fmt.Fprint(out, e.Output)
			}
		case e.Test == "" && e.Action == "pass":
			c.Packages++
		case e.Test == "" && e.Action == "fail":
			c.Packages++
			c.PackagesFailed++
		case e.Test == "" && e.Action == "skip":
			c.Packages++ // no test files
		case e.Action == "output":
			held[key] = append(held[key], e.Output)
		case e.Action == "pass":
			c.Passed++
			delete(held, key)
		case e.Action == "skip":
			c.Skipped++
			delete(held, key)
		case e.Action == "fail":
			c.Failed++
			fmt.Fprint(out, strings.Join(held[key], ""))
			delete(held, key)
		}
	}
	// Output of a test that never finished (a timeout panics the whole
	// binary) is printed rather than lost.
	for _, o := range held {
		fmt.Fprint(out, strings.Join(o, ""))
	}
	return c, sc.Err()
}

func main() {
	summary := flag.String("summary", "", "write the closing lines to this file instead of stdout")
	label := flag.String("label", "tests", `the closing line's first word ("race" for the -race run)`)
	flag.Parse()
	start := time.Now()
	c, err := summarise(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
	}
	closing := fmt.Sprintf("packages: %d (%d failed), go test took %s\n%s\n",
		c.Packages, c.PackagesFailed, time.Since(start).Round(time.Second), strings.Replace(c.line(), "tests:", *label+":", 1))
	if *summary != "" {
		if werr := os.WriteFile(*summary, []byte(closing), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", werr)
			os.Exit(1)
		}
	} else {
		fmt.Print(closing)
	}
	if err != nil || c.Failed > 0 || c.PackagesFailed > 0 || c.Passed+c.Failed+c.Skipped == 0 {
		os.Exit(1)
	}
}
