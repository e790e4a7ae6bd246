package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// pgticks measures the CPU time, in clock ticks, of the PostgreSQL server
// processes on this machine (every process whose name starts with
// "postgres") between two readings, for scripts/bench:
//
//	benchtool pgticks --db orch_bench_x --save snap      (before the run)
//	benchtool pgticks --db orch_bench_x --since snap     (after: prints "<all> <own>")
//
// all is the growth of utime+stime+cutime+cstime summed over every such
// process: a backend that exits between the readings is still counted
// (its time moves to the postmaster's children's time), but so is every
// other database's work on a server shared with other users.
//
// own is the CPU spent between the readings by the processes that are,
// at the second reading, not a backend of another database than --db:
// the bench database's backends (the server's pool keeps them open) and
// the server-wide processes (WAL writer, checkpointer, background writer,
// autovacuum, ...), which the bench's commits keep busy. It is computed
// process by process (a process that started meanwhile counts in full),
// so other users' short-lived connections do not enter it.
func pgticks(args []string) error {
	fs := flag.NewFlagSet("pgticks", flag.ExitOnError)
	db := fs.String("db", "", "the bench's database")
	save := fs.String("save", "", "write the first reading to this file")
	since := fs.String("since", "", "the first reading: print the CPU spent since")
	fs.Parse(args)
	now, err := readPGProcs()
	if err != nil {
		return err
	}
	if *save != "" {
		var b strings.Builder
		for _, p := range now {
			fmt.Fprintf(&b, "%d %d %d %d\n", p.pid, p.start, p.self, p.children)
		}
		return os.WriteFile(*save, []byte(b.String()), 0o600)
	}
	if *since == "" {
		return fmt.Errorf("pgticks: pass --save FILE or --since FILE")
	}
	f, err := os.Open(*since)
	if err != nil {
		return err
	}
	defer f.Close()
	type key struct{ pid, start int64 }
	before := map[key]int64{}
	var allBefore int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var pid, start, self, children int64
		if _, err := fmt.Sscan(sc.Text(), &pid, &start, &self, &children); err != nil {
			return fmt.Errorf("pgticks: %s: %w", *since, err)
		}
		before[key{pid, start}] = self
		allBefore += self + children
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var all, own int64
	for _, p := range now {
		all += p.self + p.children
		if p.db != "" && p.db != *db {
			continue
		}
		own += p.self - before[key{p.pid, p.start}]
	}
	fmt.Println(all-allBefore, own)
	return nil
}

// pgProc is one PostgreSQL process: its CPU time (self: utime+stime,
// children: cutime+cstime) and, for a client backend, its database.
type pgProc struct {
	pid, start     int64
	self, children int64
	db             string
}

// backendTitle matches the process title of a client backend,
// "postgres: [cluster: ]user database host(port)|[local] state", and
// captures the database.
var backendTitle = regexp.MustCompile(`^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])`)

func readPGProcs() ([]pgProc, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	var out []pgProc
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process has gone
		}
		st, err := parseProcStat(b)
		if err != nil || !strings.HasPrefix(st.comm, "postgres") {
			continue
		}
		p := pgProc{pid: st.pid, start: st.start, self: st.self, children: st.children}
		cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "cmdline"))
		title := strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		if m := backendTitle.FindStringSubmatch(title); m != nil {
			p.db = m[1]
		}
		out = append(out, p)
	}
	return out, nil
}
