package main

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// TestCLIUserImportGeneratesPasswords: `user import --generate-passwords`
// imports a file in one step, prints each generated password once as
// CSV, reports refused lines by number on stderr with exit 1, and can
// write the passwords to a new 0600 file instead (never over one).
func TestCLIUserImportGeneratesPasswords(t *testing.T) {
	data := t.TempDir()
	d := func(args ...string) []string { return append(args, "--data", data) }
	if code, _, errOut := xtBin(t, "", d("domain", "add", "imp.test")...); code != 0 {
		t.Fatalf("domain add: %s", errOut)
	}
	file := filepath.Join(t.TempDir(), "in.csv")
	os.WriteFile(file, []byte("address,password\na@imp.test,\nb@imp.test,b own password\nc@other.test,\nd@imp.test,\n"), 0o644)
	code, out, errOut := xtBin(t, "", d("user", "import", "--generate-passwords", file)...)
	if code != 1 || !strings.Contains(errOut, "line 4: c@other.test: its domain is not protected") ||
		!strings.Contains(errOut, "4 lines read: 3 imported, 1 refused, 2 passwords generated") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 3 || recs[1][0] != "a@imp.test" || recs[2][0] != "d@imp.test" || len(recs[1][1]) != 18 {
		t.Fatalf("stdout: %v %q", err, out)
	}
	code, out, _ = xtBin(t, "", d("user", "list")...)
	if code != 0 || strings.Count(out, "enabled     set") != 3 {
		t.Errorf("user list after the import:\n%s", out)
	}

	// From standard input, into a new file.
	pwFile := filepath.Join(t.TempDir(), "passwords.csv")
	code, out, errOut = xtBin(t, "e@imp.test\n", d("user", "import", "--generate-passwords", "--passwords-file", pwFile, "-")...)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	st, err := os.Stat(pwFile)
	body, _ := os.ReadFile(pwFile)
	if err != nil || st.Mode().Perm() != 0o600 || !strings.HasPrefix(string(body), "address,password\ne@imp.test,") {
		t.Errorf("passwords file: %v %v %q", err, st.Mode(), body)
	}
	if code, _, errOut := xtBin(t, "f@imp.test\n", d("user", "import", "--generate-passwords", "--passwords-file", pwFile, "-")...); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("an existing passwords file: exit %d, %s", code, errOut)
	}
	if code, _, _ := xtBin(t, "g@imp.test\n", d("user", "import", "--passwords-file", pwFile+"2", "-")...); code != 2 {
		t.Errorf("--passwords-file without --generate-passwords: exit %d, want 2", code)
	}
}

// pythonIMAPLogin signs in over IMAP with Python's imaplib (a stock
// client) and prints OK or the server's refusal.
const pythonIMAPLogin = `
import imaplib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx, timeout=120)
try:
    m.login(sys.argv[2], sys.argv[3])
    print("OK")
except imaplib.IMAP4.error as e:
    print("NO", e)
`

// TestCLIUserImportDefersOwnPasswords: `user import` stores the passwords
// a file brings sealed under the data directory's key, as the console's
// and the API's imports do, and says so; the running server (another
// process) opens them: each address signs in over IMAP at once with its
// password and not with another, and its first sign-in leaves the hash
// stored and no pending copy.
func TestCLIUserImportDefersOwnPasswords(t *testing.T) {
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "imp.test")
	srv := startServer(t, data)
	file := filepath.Join(t.TempDir(), "in.csv")
	os.WriteFile(file, []byte("address,password\nann@imp.test,ann own password\nbob@imp.test,bob own password\n"), 0o644)
	code, _, errOut := xtBin(t, "", "user", "import", file, "--data", data)
	if code != 0 || !strings.Contains(errOut, "2 passwords from the file will be hashed by the running service") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	login := func(user, password string) string {
		out, err := exec.Command("python3", "-c", pythonIMAPLogin, srv.imap, user, password).CombinedOutput()
		if err != nil {
			t.Fatalf("python imaplib: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := login("bob@imp.test", "ann own password"); got == "OK" {
		t.Fatal("bob signed in with ann's password")
	}
	for _, u := range []string{"ann", "bob"} {
		if got := login(u+"@imp.test", u+" own password"); got != "OK" {
			t.Fatalf("%s after the CLI's import: %s\n%s", u, got, srv.stderr)
		}
	}
	st := openStore(t, data)
	ctx := context.Background()
	for _, addr := range []string{"ann@imp.test", "bob@imp.test"} {
		a, err := st.Account(ctx, addr)
		if err != nil || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
			t.Fatalf("%s after its first sign-in: %q %v", addr, a.PasswordHash, err)
		}
		if _, err := st.PendingPasswordOf(ctx, addr); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: pending copy kept: %v", addr, err)
		}
	}
}
