package admin

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

func importWorld(t *testing.T) (*Service, store.Store) {
	t.Helper()
	s, st := newService(t, Options{})
	ctx := context.Background()
	c := ok[store.Customer](t)(s.AddCustomer(ctx, CLI(), 0, "Bulk Co"))
	ok[store.Domain](t)(s.AddDomain(ctx, CLI(), c.ID, "one.test", 0))
	return s, st
}

// TestImportOpenQuoteDoesNotSwallowLaterLines: a quote left open is
// reported on its own line and the lines after it are imported, whole.
func TestImportOpenQuoteDoesNotSwallowLaterLines(t *testing.T) {
	s, st := importWorld(t)
	csv := "address,password\n" +
		"a@one.test,\"open quote password\n" + // 2: never closed
		"b@one.test,b-password-1\n" + // 3
		"c@one.test,\n" // 4
	got, res, err := runImport(t, s, CLI(), csv)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].line != 2 || got[0].err == nil || got[1].line != 3 || got[1].err != nil || got[2].line != 4 || got[2].err != nil {
		t.Fatalf("lines %+v", got)
	}
	if res.Imported != 2 || res.Failed != 1 {
		t.Fatalf("result %+v", res)
	}
	ctx := context.Background()
	if _, err := st.Account(ctx, "a@one.test"); err == nil {
		t.Error("the open-quote line was stored")
	}
	drainPending(t, s) // the imported passwords are hashed after the import
	b, err := st.Account(ctx, "b@one.test")
	if err != nil {
		t.Fatal(err)
	}
	if okPw, _ := auth.Verify(b.PasswordHash, "b-password-1"); !okPw {
		t.Error("b@one.test's password is not the one imported")
	}
	if mbs, err := st.Mailboxes(ctx, b.ID); err != nil || len(mbs) == 0 {
		t.Errorf("b@one.test has no mailboxes (half a row): %v %v", mbs, err)
	}
}

// TestImportBadQuoteReported: a line with a broken quote is reported
// with its number and the import goes on (it used to panic reading the
// position of a line that failed to parse).
func TestImportBadQuoteReported(t *testing.T) {
	s, _ := importWorld(t)
	got, res, err := runImport(t, s, CLI(), "address,password\n"+`x@one.test,"unterminated`+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].err == nil || got[0].line != 2 || res.Failed != 1 {
		t.Fatalf("lines %+v result %+v", got, res)
	}
}

// TestImportNoHalfRowUnderConcurrency imports the same addresses from
// two imports at once: every address exists exactly once, with the
// password of the import that created it and all its mailboxes.
func TestImportNoHalfRowUnderConcurrency(t *testing.T) {
	s, st := importWorld(t)
	ctx := context.Background()
	build := func(tag string) string {
		var b strings.Builder
		for i := range 600 {
			fmt.Fprintf(&b, "c%d@one.test,password-%s-%d\n", i, tag, i)
		}
		return b.String()
	}
	type out struct {
		res ImportResult
		err error
	}
	ch := make(chan out, 2)
	for _, tag := range []string{"x", "y"} {
		go func() {
			r, err := s.ImportAddresses(ctx, CLI(), strings.NewReader(build(tag)), nil)
			ch <- out{r, err}
		}()
	}
	a, b := <-ch, <-ch
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	if a.res.Imported+b.res.Imported != 600 || a.res.Failed+b.res.Failed != 600 {
		t.Fatalf("imported %d+%d failed %d+%d", a.res.Imported, b.res.Imported, a.res.Failed, b.res.Failed)
	}
	drainPending(t, s)
	for _, i := range []int{0, 299, 599} {
		addr := fmt.Sprintf("c%d@one.test", i)
		acct, err := st.Account(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		okX, _ := auth.Verify(acct.PasswordHash, fmt.Sprintf("password-x-%d", i))
		okY, _ := auth.Verify(acct.PasswordHash, fmt.Sprintf("password-y-%d", i))
		if okX == okY {
			t.Errorf("%s: password of x %t, of y %t", addr, okX, okY)
		}
		mbs, _ := st.Mailboxes(ctx, acct.ID)
		if len(mbs) != len(store.DefaultMailboxes) {
			t.Errorf("%s has %d mailboxes", addr, len(mbs))
		}
	}
}

// TestImport10k imports 10,000 addresses with passwords (test hashing
// parameters; BenchmarkImport10kChosen measures the real ones) and a bad last
// line.
func TestImport10k(t *testing.T) {
	s, _ := importWorld(t)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("address,password\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "bulk%05d@one.test,password-%05d\n", i, i)
	}
	b.WriteString("broken@,x\n")
	start := time.Now()
	var bad []lineResult
	res, err := s.ImportAddresses(ctx, CLI(), strings.NewReader(b.String()), func(line int, address string, err error) {
		if err != nil {
			bad = append(bad, lineResult{line, address, err})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000 addresses imported in %v", time.Since(start))
	if res.Imported != 10000 || res.Failed != 1 || len(bad) != 1 || bad[0].line != 10002 {
		t.Fatalf("result %+v, bad lines %+v", res, bad)
	}
	as, err := s.Addresses(ctx, CLI(), store.AccountQuery{Search: "bulk", Limit: 20000})
	if err != nil || len(as) != 10000 {
		t.Fatalf("%d bulk addresses, %v", len(as), err)
	}
}
