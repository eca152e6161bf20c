package api_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

func verifies(hash, password string) bool {
	ok, _ := auth.Verify(hash, password)
	return ok
}

// importCSV posts a CSV body to /addresses/import.
func importCSV(t *testing.T, c *client, body string) (int, map[string]any) {
	t.Helper()
	st, _, m := c.send("POST", "/addresses/import", "text/csv", body)
	return st, m
}

// exerciseImport drives the import once, for TestEveryRouteAgainstOpenAPI.
func exerciseImport(t *testing.T, w *world) {
	st, m := importCSV(t, w.c.as(w.c1), "address,password\nimp1@one.test,import password 1\nimp2@one.test,\n")
	if st != 200 || m["imported"].(float64) != 2 || m["failed"].(float64) != 0 {
		t.Errorf("import: %d %v", st, m)
	}
	st, _, m = w.c.as(w.c1).send("POST", "/addresses/import?generate_passwords=true", "text/csv", "address\nimp3@one.test\n")
	if st != 200 || m["generated"].(float64) != 1 || len(m["passwords"].([]any)) != 1 {
		t.Errorf("import with generated passwords: %d %v", st, m)
	}
}

// hashedPassword waits until the service's background job (or a
// sign-in) has hashed address's imported password, and returns the hash.
func hashedPassword(t *testing.T, w *world, address string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute) // a hang guard; the job is woken by the import
	for {
		a, err := w.srv.Store.Account(context.Background(), address)
		if err != nil {
			t.Fatalf("%s: %v", address, err)
		}
		if a.PasswordHash != store.PendingPasswordHash {
			return a.PasswordHash
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: its imported password is still not hashed", address)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// imapSignIn signs address in over IMAP (a raw LOGIN, RFC 9051 6.2.3)
// and reports whether the server accepted it.
func imapSignIn(t *testing.T, w *world, address, password string) bool {
	t.Helper()
	conn, err := tls.Dial("tcp", w.srv.IMAP, w.srv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute)) // a hang guard
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil { // greeting
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "a1 LOGIN %q %q\r\n", address, password)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("LOGIN %s: %v", address, err)
		}
		if strings.HasPrefix(line, "a1 ") {
			return strings.HasPrefix(line, "a1 OK")
		}
	}
}

// TestAPIImportDefersOwnPasswords: the API's import stores the passwords
// a file brings sealed and hashes them after its answer, as the
// console's and the CLI's do (one path, admin.ImportWith): the answer
// counts them as deferred, each address signs in over IMAP at once with
// its password (a wrong one is refused), and the service's job leaves
// every one hashed with no pending copy.
func TestAPIImportDefersOwnPasswords(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var body strings.Builder
	body.WriteString("address,password\n")
	// Few lines: the service hashes at the real argon2id cost, which the
	// race detector makes slow; the bulk figure is a benchmark's
	// (admin.BenchmarkImport10kChosen).
	const own = 3
	for i := range own {
		fmt.Fprintf(&body, "own%02d@one.test,own password %02d\n", i, i)
	}
	body.WriteString("gen@one.test,\n")
	st, _, m := w.c.as(w.c1).send("POST", "/addresses/import?generate_passwords=true", "text/csv", body.String())
	if st != 200 || m["imported"].(float64) != own+1 || m["deferred"].(float64) != own || m["generated"].(float64) != 1 {
		t.Fatalf("import: %d %v", st, m)
	}
	last := fmt.Sprintf("own%02d@one.test", own-1)
	if imapSignIn(t, w, last, "not the password") {
		t.Fatal("a wrong password signed in")
	}
	if !imapSignIn(t, w, last, fmt.Sprintf("own password %02d", own-1)) {
		t.Fatal("an imported address could not sign in with its password after the answer")
	}
	for i := range own {
		addr := fmt.Sprintf("own%02d@one.test", i)
		if h := hashedPassword(t, w, addr); !verifies(h, fmt.Sprintf("own password %02d", i)) {
			t.Fatalf("%s: hash %q", addr, h)
		}
		if _, err := w.srv.Store.PendingPasswordOf(ctx, addr); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: pending copy kept: %v", addr, err)
		}
	}
}

// TestImportGeneratesPasswords: with generate_passwords, each imported
// line without a password gets one, returned once with its line number,
// and signs in; a line with its own keeps it; a refused line gets none;
// a bad flag is a 400 naming it.
func TestImportGeneratesPasswords(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c1 := w.c.as(w.c1)
	alice, _ := w.srv.Store.Account(ctx, "alice@one.test")
	body := "address,password,enabled\n" +
		"g1@one.test,,\n" + // 2
		"g2@one.test,my own password,\n" + // 3
		"alice@one.test,,\n" + // 4: exists
		"g3@one.test,,no\n" // 5
	st, _, m := c1.send("POST", "/addresses/import?generate_passwords=true", "text/csv", body)
	if st != 200 || m["imported"].(float64) != 3 || m["generated"].(float64) != 2 || m["failed"].(float64) != 1 {
		t.Fatalf("import: %d %v", st, m)
	}
	pws := m["passwords"].([]any)
	want := []struct {
		line float64
		addr string
	}{{2, "g1@one.test"}, {5, "g3@one.test"}}
	if len(pws) != len(want) {
		t.Fatalf("passwords %v", pws)
	}
	for i, g := range pws {
		g := g.(map[string]any)
		if g["line"] != want[i].line || g["address"] != want[i].addr || len(g["password"].(string)) < 16 {
			t.Errorf("password %d: %v", i, g)
		}
		a, err := w.srv.Store.Account(ctx, want[i].addr)
		if err != nil || a.Enabled != (want[i].addr == "g1@one.test") {
			t.Errorf("%s: %+v %v", want[i].addr, a, err)
		}
		if okPw, err := auth.Verify(a.PasswordHash, g["password"].(string)); !okPw {
			t.Errorf("%s: the generated password does not match the stored hash: %v", want[i].addr, err)
		}
	}
	if !verifies(hashedPassword(t, w, "g2@one.test"), "my own password") {
		t.Error("own password not kept")
	}
	if a, _ := w.srv.Store.Account(ctx, "alice@one.test"); a.PasswordHash != alice.PasswordHash {
		t.Error("an existing address got a password from a refused line")
	}
	// Without the flag, no password is made and none is answered.
	st, _, m = c1.send("POST", "/addresses/import", "text/csv", "address\ng4@one.test\n")
	if _, ok := m["passwords"]; st != 200 || ok || m["generated"].(float64) != 0 {
		t.Errorf("without the flag: %d %v", st, m)
	}
	if st, _, m := c1.send("POST", "/addresses/import?generate_passwords=maybe", "text/csv", "address\ng5@one.test\n"); st != 400 || m["field"] != "generate_passwords" {
		t.Errorf("bad flag: %d %v", st, m)
	}
}

// TestImportReportsBadLinesAndStaysInScope: bad lines by number, each
// line whole or not at all, a foreign domain refused per line.
func TestImportReportsBadLinesAndStaysInScope(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("address,password,enabled\n")
	for i := range 50 {
		switch i {
		case 10:
			b.WriteString("no-at-sign,,yes\n") // line 12
		case 20:
			b.WriteString("eve@two.test,eve password 12,yes\n") // line 22: c2's domain
		case 30:
			b.WriteString(fmt.Sprintf("u%02d@one.test,short,yes\n", i)) // line 32: bad password
		case 40:
			b.WriteString("alice@one.test,,yes\n") // line 42: exists
		default:
			b.WriteString(fmt.Sprintf("u%02d@one.test,,%s\n", i, map[bool]string{true: "no", false: "yes"}[i%2 == 0]))
		}
	}
	st, m := importCSV(t, w.c.as(w.c1), b.String())
	if st != 200 {
		t.Fatalf("import: %d %v", st, m)
	}
	if m["lines"].(float64) != 50 || m["imported"].(float64) != 46 || m["failed"].(float64) != 4 {
		t.Errorf("import counts: %v", m)
	}
	want := map[float64]string{12: "address", 22: "address", 32: "password", 42: "address"}
	errs := m["errors"].([]any)
	if len(errs) != 4 {
		t.Fatalf("errors: %v", errs)
	}
	for _, e := range errs {
		e := e.(map[string]any)
		if f, ok := want[e["line"].(float64)]; !ok || e["field"] != f || e["detail"] == "" {
			t.Errorf("error line %v", e)
		}
	}
	// Nothing of a refused line was written; the others were, whole.
	if _, err := w.srv.Store.Account(ctx, "eve@two.test"); err == nil {
		t.Errorf("eve@two.test was imported into another customer's domain")
	}
	if _, err := w.srv.Store.Account(ctx, "u30@one.test"); err == nil {
		t.Errorf("the line with a short password was half imported")
	}
	if a, err := w.srv.Store.Account(ctx, "u02@one.test"); err != nil || a.Enabled {
		t.Errorf("u02: %+v %v, want imported disabled", a, err)
	}
	// The foreign domain is an audited cross-tenant attempt.
	au := w.c.as(w.provider).want(200, "GET", "/audit?action=denied&limit=1000", nil)
	if len(au["items"].([]any)) == 0 {
		t.Errorf("the import into c2's domain was not audited")
	}
	// A reseller's import reaches its customers' domains, not reseller two's.
	st, m = importCSV(t, w.c.as(w.r1), "bob2@two.test\ncarol2@three.test\n")
	if st != 200 || m["imported"].(float64) != 1 || m["failed"].(float64) != 1 || m["errors"].([]any)[0].(map[string]any)["line"].(float64) != 2 {
		t.Errorf("r1's import: %d %v", st, m)
	}
}

func TestImportBadInput(t *testing.T) {
	w := newWorld(t)
	c1 := w.c.as(w.c1)
	if st, m := c1.do("POST", "/addresses/import", map[string]any{"address": "x@one.test"}); st != 415 || m["status"] != 415.0 {
		t.Errorf("JSON body: %d %v, want 415", st, m)
	}
	if st, m := importCSV(t, c1, "name,colour\nx,red\n"); st != 400 || m["field"] == "" {
		t.Errorf("no address column: %d %v", st, m)
	}
}
