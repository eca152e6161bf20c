package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
