package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on Linux for every architecture Go supports).
const clockTick = 10 * time.Millisecond

// treeCPU returns the CPU time (user and system) that process pid and
// its descendants have used: its own, that of its children it has waited
// for (cutime, cstime: Dovecot's master reaps its imap and imap-login
// processes), and that of its live descendants. CPU time measures what
// a server spent even on a machine shared with the load generator, where
// wall time measures the neighbours.
func treeCPU(pid int) (time.Duration, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	type stat struct {
		ppid int
		cpu  time.Duration
	}
	all := map[int]stat{}
	for _, p := range procs {
		id, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		ppid, cpu, err := procStat(id)
		if err != nil {
			continue // ended meanwhile
		}
		all[id] = stat{ppid, cpu}
	}
	if _, ok := all[pid]; !ok {
		return 0, fmt.Errorf("no process %d", pid)
	}
	var total time.Duration
	for id, s := range all {
		for p := id; p > 1; p = all[p].ppid {
			if p == pid {
				total += s.cpu
				break
			}
			if _, ok := all[p]; !ok {
				break
			}
		}
	}
	return total, nil
}

// procStat reads a process's parent and its CPU time with that of its
// waited-for children from /proc/PID/stat (proc(5): fields 4 and 14-17).
func procStat(pid int) (ppid int, cpu time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:])) // from field 3 on
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, err
	}
	var ticks int64
	for _, s := range f[11:15] { // utime stime cutime cstime
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		ticks += n
	}
	return ppid, time.Duration(ticks) * clockTick, nil
}
