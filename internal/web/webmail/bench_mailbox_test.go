package webmail

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webmail/benchmailbox"
)

// benchMailbox returns the store of the kept mailbox of n messages
// (benchmailbox.Dir: built once, then reused), bob, and its 1 MiB
// message.
func benchMailbox(b *testing.B, n int) (store.Store, store.Account, store.Message) {
	b.Helper()
	st := benchmailbox.Open(b, benchmailbox.Dir(b, n))
	ctx := context.Background()
	bob, err := st.Account(ctx, benchmailbox.Address)
	if err != nil {
		b.Fatal(err)
	}
	big, err := st.MessagesByMessageID(ctx, bob.ID, []string{benchmailbox.BigMessageID})
	if err != nil || len(big) != 1 {
		b.Fatalf("the 1 MiB message of the kept mailbox: %v %v", big, err)
	}
	return st, bob, big[0]
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the machine's load average over the last minute.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, err := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	if err != nil {
		return -1
	}
	return f
}
