package imapserver_test

import (
	"os"
	"strings"
	"testing"
)

func TestTmpProbeDump(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	data, _ := os.ReadFile(os.Getenv("PROBE"))
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		l = strings.ReplaceAll(l, `\r\n`, "\r\n")
		lines, st := c.cmd(l)
		t.Logf("C: %s", l)
		for _, x := range lines {
			t.Logf("S: %s", x)
		}
		t.Logf("S: %s", st)
	}
}
