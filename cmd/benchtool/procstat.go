package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
)

// procStat is what benchtool reads of /proc/PID/stat: the process's
// name, start time and CPU time, in clock ticks (USER_HZ).
type procStat struct {
	pid  int64
	comm string
	// self is utime+stime; children is cutime+cstime, the CPU time of
	// children that exited and were waited for.
	self, children int64
	// start is the start time since boot: with pid, it names one process
	// even when the PID is reused.
	start int64
}

// parseProcStat parses the text of /proc/PID/stat (proc(5)): "pid (comm)
// state ppid ...". comm may hold spaces and parentheses of its own, so it
// is the text between the first "(" and the last ")", and the numbered
// fields are counted after that last ")".
func parseProcStat(b []byte) (procStat, error) {
	open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || close < open {
		return procStat{}, fmt.Errorf("proc stat: no (comm) in %q", b)
	}
	var p procStat
	var err error
	if p.pid, err = strconv.ParseInt(string(bytes.TrimSpace(b[:open])), 10, 64); err != nil {
		return procStat{}, fmt.Errorf("proc stat: pid: %w", err)
	}
	p.comm = string(b[open+1 : close])
	// After "pid (comm) ": state is f[0], utime f[11], stime f[12],
	// cutime f[13], cstime f[14], starttime f[19].
	f := bytes.Fields(b[close+1:])
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("proc stat: %d fields after (comm), want at least 20", len(f))
	}
	var v [5]int64
	for i, idx := range [5]int{11, 12, 13, 14, 19} {
		if v[i], err = strconv.ParseInt(string(f[idx]), 10, 64); err != nil {
			return procStat{}, fmt.Errorf("proc stat: field %d: %w", idx, err)
		}
	}
	p.self, p.children, p.start = v[0]+v[1], v[2]+v[3], v[4]
	return p, nil
}

// readProcStat reads and parses /proc/<pid>/stat ("self" for this process).
func readProcStat(pid string) (procStat, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// procTicks is the CPU time (utime+stime, clock ticks) of the processes
// pids, summed: the server's, or a zone's nodes'.
func procTicks(pids []string) (int64, error) {
	var sum int64
	for _, pid := range pids {
		p, err := readProcStat(pid)
		if err != nil {
			return 0, err
		}
		sum += p.self
	}
	return sum, nil
}

// ticks prints the CPU time (utime+stime, in clock ticks) of the given
// processes, summed, for scripts/bench to read around each point:
//
//	benchtool ticks PID [PID...]
func ticks(args []string) error {
	fs := flag.NewFlagSet("ticks", flag.ExitOnError)
	fs.Parse(args)
	if fs.NArg() == 0 {
		return fmt.Errorf("usage: benchtool ticks PID [PID...]")
	}
	t, err := procTicks(fs.Args())
	if err != nil {
		return err
	}
	fmt.Println(t)
	return nil
}
