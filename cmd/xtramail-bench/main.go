// Command xtramail-bench measures xtramail under load.
//
//	xtramail-bench capture [--addr HOST:PORT --to ADDR] [--conns 8] [--size 10240] [--duration 10s]
//	xtramail-bench imap    [--addr HOST:PORT --user U --password P] [--clients 20] [--duration 10s]
//	xtramail-bench idle    [--addr HOST:PORT --user U --password P --pid PID] [--conns 1000]
//	xtramail-bench submit  [--addr HOST:PORT --user FMT --password P --sink HOST:PORT --pid PID] [--conns 8] [--duration 10s]
//
// Without --addr each mode starts a whole xtramail as a child process on a
// temporary data directory (fsync on, as in production) and measures that,
// so one command gives the figure; the server's memory is then measured
// apart from the load generator's.
package main

import (
	"fmt"
	"os"
)

func main() {
	modes := map[string]func([]string) error{
		"capture": captureMode,
		"imap":    imapMode,
		"idle":    idleMode,
		"submit":  submitMode,
		"server":  serverMode, // the child process of the other modes
	}
	if len(os.Args) < 2 || modes[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: xtramail-bench capture|imap|idle|submit [flags]   (see -h)")
		os.Exit(2)
	}
	if err := modes[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "xtramail-bench:", err)
		os.Exit(1)
	}
}
