package main

import (
	"os"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseProcStat(t *testing.T) {
	// The fields after "(comm) ": state ppid pgrp session tty_nr tpgid
	// flags minflt cminflt majflt cmajflt utime stime cutime cstime
	// priority nice num_threads itrealvalue starttime vsize rss ...
	const rest = " S 1 1234 1234 0 -1 4194560 100 0 0 0 250 30 7 3 20 0 8 0 987654 123456789 2000"
	tests := []struct {
		name string
		in   string
		want procStat
		err  bool
	}{
		{name: "plain", in: "1234 (orchestrator)" + rest + "\n",
			want: procStat{pid: 1234, comm: "orchestrator", self: 280, children: 10, start: 987654}},
		{name: "comm with spaces and parentheses", in: "42 (a) b (c) d)" + rest,
			want: procStat{pid: 42, comm: "a) b (c) d", self: 280, children: 10, start: 987654}},
		{name: "comm of a PostgreSQL process", in: "7 (postgres: walwriter)" + rest,
			want: procStat{pid: 7, comm: "postgres: walwriter", self: 280, children: 10, start: 987654}},
		{name: "empty comm", in: "9 ()" + rest,
			want: procStat{pid: 9, comm: "", self: 280, children: 10, start: 987654}},
		{name: "no comm", in: "1234 orchestrator" + rest, err: true},
		{name: "too few fields", in: "1234 (orchestrator) S 1 2 3", err: true},
		{name: "utime not a number", in: "1234 (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 x 30 7 3 20 0 8 0 987654", err: true},
		{name: "pid not a number", in: "x (orchestrator)" + rest, err: true},
		{name: "empty", in: "", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("parseProcStat(%q) error %v, want error %v", tt.in, err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(procStat{})); !tt.err && diff != "" {
				t.Errorf("parseProcStat(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// The parser reads this very process's /proc entry, as rate reads its own
// CPU time and ticks reads the server's.
func TestProcTicksOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	p, err := readProcStat("self")
	if err != nil {
		t.Fatal(err)
	}
	if p.pid != int64(os.Getpid()) || p.start <= 0 || p.self < 0 {
		t.Errorf("readProcStat(self) = %+v, want pid %d and a start time", p, os.Getpid())
	}
	pid := strconv.Itoa(os.Getpid())
	sum, err := procTicks([]string{pid, pid})
	if err != nil {
		t.Fatal(err)
	}
	if sum < 2*p.self {
		t.Errorf("procTicks(pid, pid) = %d, want at least twice %d", sum, p.self)
	}
	if _, err := procTicks([]string{"0"}); err == nil {
		t.Error("procTicks of PID 0: no error")
	}
}
