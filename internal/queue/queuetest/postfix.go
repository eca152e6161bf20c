// Package queuetest holds what tests of the outbound queue and of
// submission share: a real Postfix from Debian started on loopback as a
// relay, and a go-smtp sink that records what it was given, the DSN
// parameters (RFC 3461) included.
package queuetest

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/tlsutil"
)

// postfixMaster is Debian's Postfix master daemon (apt-get install
// postfix, installed by scripts/test).
const postfixMaster = "/usr/lib/postfix/sbin/master"

// freePort returns a loopback port free right now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartPostfix runs a private Postfix instance (Debian's), with its own
// configuration and queue directories, whose smtpd listens on a free
// loopback port with STARTTLS, announces DSN as Postfix does, and relays
// everything from loopback to relayPort. It returns the smtpd port and
// the roots that trust its certificate. The instance stops with the
// test; its log is shown when the test failed. Lines of extra are added
// to its main.cf (later settings override earlier ones).
func StartPostfix(t testing.TB, relayPort int, extra ...string) (int, *x509.CertPool) {
	t.Helper()
	if _, err := os.Stat(postfixMaster); err != nil {
		t.Fatalf("Postfix is needed (apt-get install postfix; scripts/test installs it): %v", err)
	}
	pf, err := user.Lookup("postfix")
	if err != nil {
		t.Fatalf("no postfix user: %v", err)
	}
	uid, _ := strconv.Atoi(pf.Uid)
	gid, _ := strconv.Atoi(pf.Gid)
	dir, err := os.MkdirTemp("", "xtramail-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Postfix's daemons run as the postfix user: they must reach the
	// queue, and own the data directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"queue", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "data"), uid, gid); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsutil.SelfSigned(filepath.Join(dir, "tls"), []string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "tls", tlsutil.SelfSignedCertFile)
	keyFile := filepath.Join(dir, "tls", tlsutil.SelfSignedKeyFile)
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	port := freePort(t)
	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:%[2]d
smtp_dns_support_level = disabled
alias_maps =
alias_database =
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
smtpd_tls_security_level = may
smtpd_tls_cert_file = %[3]s
smtpd_tls_key_file = %[4]s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`, dir, relayPort, certFile, keyFile) + strings.Join(extra, "\n") + "\n"
	masterCF := fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd\n", port) + `pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
tlsmgr unix - - n 1000? 1 tlsmgr
postlog unix-dgram n - n - 1 postlogd
`
	for name, body := range map[string]string{"main.cf": mainCF, "master.cf": masterCF} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// "postfix check" makes the queue directories with their owners.
	if out, err := exec.Command("postfix", "-c", dir, "check").CombinedOutput(); err != nil {
		t.Fatalf("postfix check: %v\n%s", err, out)
	}
	var out bytes.Buffer
	master := exec.Command(postfixMaster, "-c", dir, "-d")
	master.Stdout, master.Stderr = &out, &out
	if err := master.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { master.Wait(); close(done) }()
	t.Cleanup(func() {
		// SIGTERM: the master stops its children, then itself.
		master.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			master.Process.Kill()
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Logf("postfix log:\n%s%s", log, out.String())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Fatalf("postfix smtpd never listened: %v\n%s%s", err, log, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return port, roots
}
