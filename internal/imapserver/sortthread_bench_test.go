package imapserver_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"
)

// runLong is benchConn.run for responses whose lines outgrow the reader's
// buffer (a SORT of 100,000 numbers).
func (bc *benchConn) runLong(b *testing.B, cmd string) int {
	bc.n++
	tag := []byte(fmt.Sprintf("b%d ", bc.n))
	io.WriteString(bc.c, string(tag)+cmd+"\r\n")
	lines := 0
	for {
		l, err := bc.r.ReadSlice('\n')
		start := l
		for err == bufio.ErrBufferFull {
			_, err = bc.r.ReadSlice('\n')
		}
		if err != nil {
			b.Fatalf("%s: %v", cmd, err)
		}
		if bytes.HasPrefix(start, tag) {
			if !bytes.HasPrefix(start[len(tag):], []byte("OK")) {
				b.Fatalf("%s: %s", cmd, start)
			}
			return lines
		}
		lines++
	}
}

// benchCold runs cmd once on a fresh server (the SORT/THREAD cache
// empty: every message's sort row is read from the store) and reports
// that time as cold-ms (cold-cpu-ms in CPU time), then runs it in a loop
// like benchCommand.
func benchCold(b *testing.B, cmd string) {
	e := benchMailbox(b)
	c := e.benchLogin(b)
	c.run(b, "SELECT INBOX")
	// The store loads its search word list in the background after
	// opening (a second or more of CPU): a search waits for it, so that
	// cold-cpu-ms counts the SORT or THREAD alone.
	c.run(b, `UID SEARCH TEXT "zebracorn"`)
	start := time.Now()
	cpu := cpuTime()
	c.runLong(b, cmd)
	cold, coldCPU := time.Since(start), cpuTime()-cpu
	b.ResetTimer()
	start = time.Now()
	cpu = cpuTime()
	for b.Loop() {
		if n := c.runLong(b, cmd); n < 1 {
			b.Fatalf("%s: %d lines", cmd, n)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(cold.Microseconds())/1000, "cold-ms")
	// The process's CPU while the cold command ran: the server's, the
	// client's and the store's background work after opening.
	b.ReportMetric(float64(coldCPU.Microseconds())/1000, "cold-cpu-ms")
}

// cpuTime is the process's CPU time so far (server and client: user and
// system). On a machine shared with other work, wall time measures the
// neighbours; this does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// SORT and THREAD over the whole 100,000-message INBOX (issue 11 part 7).
func BenchmarkSortArrival(b *testing.B) { benchCold(b, "UID SORT (REVERSE ARRIVAL) UTF-8 ALL") }
func BenchmarkSortSubject(b *testing.B) { benchCold(b, "UID SORT (SUBJECT) UTF-8 ALL") }
func BenchmarkSortDate(b *testing.B)    { benchCold(b, "UID SORT (REVERSE DATE) UTF-8 ALL") }
func BenchmarkSortFrom(b *testing.B)    { benchCold(b, "UID SORT (FROM) UTF-8 UNSEEN") }
func BenchmarkThreadReferences(b *testing.B) {
	benchCold(b, "UID THREAD REFERENCES UTF-8 ALL")
}
func BenchmarkThreadOrderedSubject(b *testing.B) {
	benchCold(b, "UID THREAD ORDEREDSUBJECT UTF-8 ALL")
}
