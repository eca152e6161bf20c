package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPReplayRefused enrols a second factor and checks that each code
// is accepted once, that an older step is refused after a newer one, and
// that codes one step off are accepted for clock drift.
func TestTOTPReplayRefused(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 12, 5, 10, 0, 5, 0, time.UTC))
	svc, _ := newService(t, Options{Now: clk.Now})
	ctx := context.Background()
	a := ok[AdminInfo](t)(svc.AddAdmin(ctx, CLI(), "boss@provider.test", testPassword, store.RoleProvider, 0))
	res := ok[SignInResult](t)(svc.SignIn(ctx, "Boss@Provider.test", testPassword, "192.0.2.1"))
	if res.NeedTOTP || !res.MustEnrollTOTP || res.Principal.AdminID != a.ID || res.Pending == "" {
		t.Fatalf("first sign-in %+v", res)
	}
	enr := ok[TOTPEnrollment](t)(svc.PendingEnrollment(ctx, res.Pending))
	if !strings.HasPrefix(enr.URL, "otpauth://totp/") || !strings.Contains(enr.URL, "secret="+enr.Secret) {
		t.Fatalf("enrolment %+v", enr)
	}
	// Shown again, the same secret.
	if again := ok[TOTPEnrollment](t)(svc.PendingEnrollment(ctx, res.Pending)); again != enr {
		t.Fatalf("enrolment shown again: %+v, want %+v", again, enr)
	}
	if _, err := svc.SignInEnrol(ctx, res.Pending, "000000", "192.0.2.1"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("enrol with a wrong code: %v", err)
	}
	enrolCode := code(t, enr.Secret, clk.Now())
	p := ok[Principal](t)(svc.SignInEnrol(ctx, res.Pending, enrolCode, "192.0.2.1"))
	if p.AdminID != a.ID || p.RemoteIP != "192.0.2.1" {
		t.Fatalf("principal after enrolment %+v", p)
	}
	if _, err := svc.SignInEnrol(ctx, res.Pending, enrolCode, "192.0.2.1"); !errors.Is(err, ErrExpired) {
		t.Fatalf("pending sign-in used twice: %v, want ErrExpired", err)
	}
	// The code used to enrol cannot sign in.
	signIn := func() string {
		t.Helper()
		res := ok[SignInResult](t)(svc.SignIn(ctx, "boss@provider.test", testPassword, "192.0.2.1"))
		if !res.NeedTOTP || res.MustEnrollTOTP || res.Pending == "" {
			t.Fatalf("sign-in after enrolment %+v", res)
		}
		return res.Pending
	}
	pending := signIn()
	if _, err := svc.SignInTOTP(ctx, pending, enrolCode, ""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("enrolment code replayed: %v", err)
	}
	clk.Advance(30 * time.Second)
	c1 := code(t, enr.Secret, clk.Now())
	ok[Principal](t)(svc.SignInTOTP(ctx, pending, c1, ""))
	pending = signIn()
	if _, err := svc.SignInTOTP(ctx, pending, c1, ""); !errors.Is(err, ErrUnauthenticated) || !errors.Is(err, store.ErrReplay) {
		t.Fatalf("same code twice: %v, want a replay refusal", err)
	}
	// Concurrent submissions of one fresh code, each with its own
	// pending sign-in: exactly one passes.
	clk.Advance(30 * time.Second)
	c2 := code(t, enr.Secret, clk.Now())
	var pendings []string
	for range 4 {
		pendings = append(pendings, signIn())
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for _, pd := range pendings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := svc.SignInTOTP(ctx, pd, c2, ""); err == nil {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if passed != 1 {
		t.Fatalf("%d concurrent uses of one code passed, want 1", passed)
	}
	// Drift: the next step's code is accepted; afterwards the current
	// step's code (older) is refused.
	clk.Advance(30 * time.Second)
	pending = signIn()
	ok[Principal](t)(svc.SignInTOTP(ctx, pending, code(t, enr.Secret, clk.Now().Add(30*time.Second)), ""))
	pending = signIn()
	if _, err := svc.SignInTOTP(ctx, pending, code(t, enr.Secret, clk.Now()), ""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("older step after a newer one: %v", err)
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, err := svc.SignInTOTP(ctx, pending, bad, ""); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("code %q: %v", bad, err)
		}
	}
	// Replays are in the audit log.
	recs, _ := svc.st.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "totp.replay"})
	if len(recs) < 2 {
		t.Errorf("%d replay records", len(recs))
	}
	// Removing the second factors (a lost phone, which held a passkey
	// too) from the CLI.
	if _, err := svc.st.AddPasskey(ctx, store.Passkey{AdminID: a.ID, Name: "phone", CredentialID: []byte("cred-1"), Credential: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	check(t, svc.RemoveTOTP(ctx, CLI(), a.ID))
	if res := ok[SignInResult](t)(svc.SignIn(ctx, "boss@provider.test", testPassword, "192.0.2.1")); res.NeedTOTP || res.Passkey {
		t.Fatalf("a second factor still asked after removal: %+v", res)
	}
	if pks, err := svc.st.Passkeys(ctx, a.ID); err != nil || len(pks) != 0 {
		t.Fatalf("passkeys after removal: %v %v", pks, err)
	}
}

// TestSignIn checks admin sign-in answers: one error for every failure,
// disabled admins refused, sessions rebuilt until disabled.
func TestSignIn(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, c := range []struct{ email, pw string }{
		{"admin@one.test", "wrong password"},
		{"nobody@one.test", testPassword},
		{"user@one.test", testPassword}, // a user, not an admin
	} {
		if _, err := w.svc.SignIn(ctx, c.email, c.pw, "192.0.2.9"); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("sign-in %s: %v", c.email, err)
		}
	}
	res := ok[SignInResult](t)(w.svc.SignIn(ctx, "admin@one.test", testPassword, "192.0.2.9"))
	if res.Principal.Role != store.RoleCustomer || res.Principal.ScopeID != w.one.customer.ID || res.Principal.ResellerID != w.one.reseller.ID ||
		res.Principal.RemoteIP != "192.0.2.9" || res.NeedTOTP || res.MustEnrollTOTP {
		t.Fatalf("principal %+v", res)
	}
	check(t, w.svc.SetAdminDisabled(ctx, w.r1, w.one.admin.ID, true))
	if _, err := w.svc.PrincipalByID(ctx, w.one.admin.ID); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("disabled admin's session: %v", err)
	}
	if _, err := w.svc.SignIn(ctx, "admin@one.test", testPassword, "192.0.2.9"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("disabled admin signs in: %v", err)
	}
	if err := w.svc.SetAdminDisabled(ctx, w.r1, w.r1Admin.ID, true); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("disable yourself: %v", err)
	}
}

// TestTokens covers API tokens: shown once, hashed, scoped to their
// admin, refused when revoked or expired or their admin is disabled.
func TestTokens(t *testing.T) {
	clk := clocktest.New(time.Now())
	w := newWorld(t)
	w.svc.now = clk.Now
	ctx := context.Background()
	secret, info, err := w.svc.CreateToken(ctx, w.c1, 0, "deploy script", clk.Now().Add(time.Hour))
	check(t, err)
	if !strings.HasPrefix(secret, tokenPrefix) || info.AdminID != w.one.admin.ID || info.Name != "deploy script" {
		t.Fatalf("token %q %+v", secret, info)
	}
	stored, err := w.st.APITokenByHash(ctx, tokenHash(secret))
	if err != nil || strings.Contains(stored.Hash, secret) {
		t.Fatalf("stored token %+v %v", stored, err)
	}
	p := ok[Principal](t)(w.svc.AuthenticateToken(ctx, secret, "203.0.113.5"))
	if p.AdminID != w.one.admin.ID || p.Scope() != store.CustomerScope(w.one.customer.ID) || p.RemoteIP != "203.0.113.5" {
		t.Fatalf("token principal %+v", p)
	}
	// The token acts within its admin's subtree only.
	if _, err := w.svc.Domain(ctx, p, "two.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token reads another tenant's domain: %v", err)
	}
	for _, bad := range []string{"", "xtm_", "xtm_nope", strings.TrimPrefix(secret, tokenPrefix), secret + "x"} {
		if _, err := w.svc.AuthenticateToken(ctx, bad, ""); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	// Last use is recorded.
	if ts := ok[[]TokenInfo](t)(w.svc.Tokens(ctx, w.c1)); len(ts) != 2 || ts[1].LastUsed.IsZero() {
		t.Errorf("tokens %+v", ts)
	}
	// Expiry.
	clk.Advance(time.Hour)
	if _, err := w.svc.AuthenticateToken(ctx, secret, ""); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("expired token: %v", err)
	}
	// Revocation, and another customer cannot revoke (404).
	secret2, info2, err := w.svc.CreateToken(ctx, w.c1, 0, "second", time.Time{})
	check(t, err)
	c2 := ok[Principal](t)(w.svc.PrincipalByID(ctx, w.two.admin.ID))
	if err := w.svc.RevokeToken(ctx, c2, info2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("foreign revoke: %v", err)
	}
	ok[Principal](t)(w.svc.AuthenticateToken(ctx, secret2, ""))
	check(t, w.svc.RevokeToken(ctx, w.c1, info2.ID))
	if _, err := w.svc.AuthenticateToken(ctx, secret2, ""); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("revoked token: %v", err)
	}
	// A disabled admin's tokens stop working.
	secret3, _, err := w.svc.CreateToken(ctx, w.c1, 0, "third", time.Time{})
	check(t, err)
	check(t, w.svc.SetAdminDisabled(ctx, w.provider, w.one.admin.ID, true))
	if _, err := w.svc.AuthenticateToken(ctx, secret3, ""); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("disabled admin's token: %v", err)
	}
	if _, _, err := w.svc.CreateToken(ctx, w.provider, w.one.admin.ID, "past", clk.Now().Add(-time.Second)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("token expiring in the past: %v", err)
	}
}

// TestSignInLink checks one-time sign-in links: valid once, until expiry,
// for enabled addresses.
func TestSignInLink(t *testing.T) {
	clk := clocktest.New(time.Now())
	w := newWorld(t)
	w.svc.now = clk.Now
	ctx := context.Background()
	tok, exp, err := w.svc.CreateSignInLink(ctx, w.c1, "USER@one.test")
	check(t, err)
	if exp.Sub(clk.Now()) != 15*time.Minute || len(tok) < 40 {
		t.Fatalf("link %q expires %v", tok, exp)
	}
	a := ok[store.Account](t)(w.svc.ConsumeSignInLink(ctx, tok))
	if a.Address != "user@one.test" {
		t.Fatalf("link account %+v", a)
	}
	if _, err := w.svc.ConsumeSignInLink(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("link used twice: %v", err)
	}
	tok2, _, err := w.svc.CreateSignInLink(ctx, w.c1, "user@one.test")
	check(t, err)
	clk.Advance(15 * time.Minute)
	if _, err := w.svc.ConsumeSignInLink(ctx, tok2); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("expired link: %v", err)
	}
	tok3, _, err := w.svc.CreateSignInLink(ctx, w.c1, "user@one.test")
	check(t, err)
	check(t, w.svc.SetAddressEnabled(ctx, w.c1, "user@one.test", false))
	if _, err := w.svc.ConsumeSignInLink(ctx, tok3); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("link of a disabled address: %v", err)
	}
	if _, _, err := w.svc.CreateSignInLink(ctx, w.c1, "user@one.test"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("link for a disabled address: %v", err)
	}
	for _, bad := range []string{"", "nope", strings.Repeat("x", 300)} {
		if _, err := w.svc.ConsumeSignInLink(ctx, bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

// TestPasswordPolicy is the one policy for users and admins.
func TestPasswordPolicy(t *testing.T) {
	for _, c := range []struct {
		addr, pw string
		ok       bool
	}{
		{"a@x.test", "12345678", true},
		{"a@x.test", "1234567", false},
		{"a@x.test", "ééééééé", false}, // 7 characters, 14 bytes
		{"a@x.test", "éééééééé", true},
		{"a@x.test", "tab\there1", false},
		{"a@x.test", strings.Repeat("x", auth.MaxPasswordLength+1), false},
		{"alice@x.test", "ALICE@x.test", false},
		{"alicealice@x.test", "AliceAlice", false},
		{"a@x.test", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", false},
	} {
		err := CheckPassword(c.addr, c.pw)
		var fe *FieldError
		if c.ok != (err == nil) || err != nil && (!errors.As(err, &fe) || fe.Field != "password" || !errors.Is(err, store.ErrInvalid)) {
			t.Errorf("CheckPassword(%q, %q) = %v", c.addr, c.pw, err)
		}
	}
	seen := map[string]bool{}
	for range 200 {
		pw := GeneratePassword()
		if CheckPassword("a@x.test", pw) != nil || len(pw) != GeneratedPasswordLength || seen[pw] || strings.ContainsAny(pw, "0O1lI") {
			t.Fatalf("generated %q", pw)
		}
		seen[pw] = true
	}
}

// TestGeneratePasswords sets passwords in bulk and returns them once; an
// address of another tenant among them refuses the whole request, which
// then sets no password at all (it used to set the others' and answer
// 404, so that the console never showed them: those users were locked
// out).
func TestGeneratePasswords(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ok[store.Account](t)(w.svc.AddAddress(ctx, w.c1, "second@one.test", "", true))
	mixed, err := w.svc.GeneratePasswords(ctx, w.c1, []string{"user@one.test", "user@two.test", "second@one.test"})
	if !errors.Is(err, store.ErrNotFound) || !errors.Is(mixed[1].Err, store.ErrNotFound) {
		t.Fatalf("with another tenant's address: %v, rows %+v; want ErrNotFound", err, mixed)
	}
	for _, g := range mixed {
		if a, _ := w.st.Account(ctx, g.Address); g.Password != "" || a.PasswordHash != "" {
			t.Errorf("refused request: %s got a password (row %+v)", g.Address, g)
		}
	}
	if recs, _ := w.st.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "denied", Object: "user@two.test"}); len(recs) != 1 {
		t.Errorf("%d denied records for the foreign address, want 1", len(recs))
	}
	out := ok[[]GeneratedPassword](t)(w.svc.GeneratePasswords(ctx, w.c1, []string{"user@one.test", "second@one.test"}))
	out = append(out[:1], GeneratedPassword{Address: "user@two.test"}, out[1])
	if out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("generated %+v", out)
	}
	for _, g := range []GeneratedPassword{out[0], out[2]} {
		a, _ := w.st.Account(ctx, g.Address)
		if ok, _ := auth.Verify(a.PasswordHash, g.Password); !ok {
			t.Errorf("%s: generated password does not verify", g.Address)
		}
		// Generated secrets (≥ 100 bits) take the cheap parameters.
		gp := auth.GeneratedParams()
		if want := fmt.Sprintf("$m=%d,t=%d,p=%d$", gp.Memory, gp.Time, gp.Threads); !strings.Contains(a.PasswordHash, want) {
			t.Errorf("%s: hash %q, want parameters %s", g.Address, a.PasswordHash, want)
		}
	}
	if a, _ := w.st.Account(ctx, "user@two.test"); a.PasswordHash != "" {
		t.Error("another tenant's password was set")
	}
}

// TestPendingSignInBounds: a pending sign-in ends after PendingTTL and
// after pendingTries codes (then the password is needed again), and an
// administrator's codes are bounded across pending sign-ins until the
// window passes.
func TestPendingSignInBounds(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 12, 5, 10, 0, 5, 0, time.UTC))
	svc, st := newService(t, Options{Now: clk.Now})
	ctx := context.Background()
	a := ok[AdminInfo](t)(svc.AddAdmin(ctx, CLI(), "boss@provider.test", testPassword, store.RoleProvider, 0))
	secret := "JBSWY3DPEHPK3PXP"
	check(t, st.SetAdminTOTP(ctx, store.AllScope(), a.ID, secret))
	signIn := func() string {
		t.Helper()
		return ok[SignInResult](t)(svc.SignIn(ctx, "boss@provider.test", testPassword, "192.0.2.1")).Pending
	}

	// Expiry.
	pending := signIn()
	ok[Principal](t)(svc.PendingSignIn(ctx, pending))
	clk.Advance(PendingTTL)
	if _, err := svc.PendingSignIn(ctx, pending); !errors.Is(err, ErrExpired) {
		t.Fatalf("pending sign-in after PendingTTL: %v, want ErrExpired", err)
	}
	if _, err := svc.SignInTOTP(ctx, pending, code(t, secret, clk.Now()), ""); !errors.Is(err, ErrExpired) {
		t.Fatalf("code for an expired pending sign-in: %v, want ErrExpired", err)
	}
	for _, bad := range []string{"", "nonsense", strings.Repeat("x", 200)} {
		if _, err := svc.SignInTOTP(ctx, bad, code(t, secret, clk.Now()), ""); !errors.Is(err, ErrExpired) {
			t.Errorf("pending id %q: %v, want ErrExpired", bad, err)
		}
	}

	// Per pending sign-in: the sixth try ends it, the right code too.
	clk.Advance(codeWindow)
	pending = signIn()
	for i := range pendingTries {
		if _, err := svc.SignInTOTP(ctx, pending, fmt.Sprintf("%06d", i), ""); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	if _, err := svc.SignInTOTP(ctx, pending, code(t, secret, clk.Now()), ""); !errors.Is(err, auth.ErrThrottled) || !errors.Is(err, ErrExpired) {
		t.Fatalf("right code after %d wrong ones: %v, want throttled and expired", pendingTries, err)
	}
	if _, err := svc.PendingSignIn(ctx, pending); !errors.Is(err, ErrExpired) {
		t.Fatalf("pending sign-in after too many codes: %v, want ErrExpired", err)
	}
	// Per administrator: a new pending sign-in does not start again.
	pending = signIn()
	if _, err := svc.SignInTOTP(ctx, pending, code(t, secret, clk.Now()), ""); !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("right code in a new pending sign-in within the window: %v, want throttled", err)
	}
	clk.Advance(codeWindow + time.Second)
	pending = signIn()
	ok[Principal](t)(svc.SignInTOTP(ctx, pending, code(t, secret, clk.Now()), ""))
}

// TestPasskeyOriginMustBeRelyingParty: a passkey ceremony starts only for
// a page at https on the relying party's host (any port): not over
// plain HTTP, not at an address or another host, whose ceremonies a
// passkey of this host could not answer anyway.
func TestPasskeyOriginMustBeRelyingParty(t *testing.T) {
	svc, _ := newService(t, Options{PasskeyRPID: "console.example.test"})
	ctx := context.Background()
	a := ok[AdminInfo](t)(svc.AddAdmin(ctx, CLI(), "boss@provider.test", testPassword, store.RoleProvider, 0))
	p := ok[Principal](t)(svc.PrincipalByID(ctx, a.ID))
	for origin, want := range map[string]bool{
		"https://console.example.test":      true,
		"https://CONSOLE.example.test:8443": true,
		"http://console.example.test":       false,
		"https://127.0.0.1":                 false,
		"https://evil.example":              false,
		"https://console.example.test.evil": false,
		"https://console.example.test/x":    false,
		"":                                  false,
	} {
		id, opts, err := svc.BeginPasskey(ctx, p, origin)
		if got := err == nil; got != want {
			t.Errorf("origin %q: %v, want allowed %v", origin, err, want)
		}
		if want && (id == "" || !strings.Contains(string(opts), `"rp":{"name":"xtramail","id":"console.example.test"}`)) {
			t.Errorf("origin %q: id %q, options %s", origin, id, opts)
		}
		if !want && !errors.Is(err, store.ErrInvalid) {
			t.Errorf("origin %q refused with %v, want a field error", origin, err)
		}
	}
	if _, _, err := svc.BeginPasskey(ctx, CLI(), "https://console.example.test"); !errors.Is(err, ErrForbidden) {
		t.Errorf("passkey for the command line: %v, want ErrForbidden", err)
	}
}

// TestAdminChangesEndSessions: setting an administrator's password,
// disabling them or removing them ends their console sessions, whichever
// front end asks (here the command line, whose `admin passwd` used to
// leave a session opened with the old password working for its 7 days).
func TestAdminChangesEndSessions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	cli := CLI()
	for _, c := range []struct {
		name   string
		change func(id int64) error
	}{
		{"password", func(id int64) error { return w.svc.SetAdminPassword(ctx, cli, id, "another horse battery") }},
		{"disable", func(id int64) error { return w.svc.SetAdminDisabled(ctx, cli, id, true) }},
		{"remove", func(id int64) error { return w.svc.RemoveAdmin(ctx, cli, id) }},
	} {
		a := ok[AdminInfo](t)(w.svc.AddAdmin(ctx, cli, c.name+"@one.test", testPassword, store.RoleCustomer, w.one.customer.ID))
		other := ok[AdminInfo](t)(w.svc.AddAdmin(ctx, cli, c.name+"-other@one.test", testPassword, store.RoleCustomer, w.one.customer.ID))
		for i, id := range []int64{a.ID, a.ID, other.ID} {
			check(t, w.st.CreateSession(ctx, store.Session{IDHash: []byte(fmt.Sprintf("%s-%d-%032d", c.name, i, id)),
				Kind: store.PrincipalAdmin, PrincipalID: id, CSRF: "x", Created: time.Now(), LastSeen: time.Now()}))
		}
		check(t, c.change(a.ID))
		if ss := ok[[]store.Session](t)(w.st.PrincipalSessions(ctx, store.PrincipalAdmin, a.ID)); len(ss) != 0 {
			t.Errorf("%s: %d sessions left, want none", c.name, len(ss))
		}
		if ss := ok[[]store.Session](t)(w.st.PrincipalSessions(ctx, store.PrincipalAdmin, other.ID)); len(ss) != 1 {
			t.Errorf("%s: another admin's sessions: %d, want 1", c.name, len(ss))
		}
	}
}

// TestAddressWithTwoAtSigns: "ceo@two.test@one.test" is refused; it was
// created as an address of one.test (the domain after the last "@")
// that reads, in lists and in the From of its mail, as one of another
// tenant's domain.
func TestAddressWithTwoAtSigns(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, addr := range []string{"ceo@two.test@one.test", "@x@one.test", "ceo@two.test@One.Test."} {
		_, err := w.svc.AddAddress(ctx, w.c1, addr, "", true)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "address" {
			t.Errorf("add %q: %v, want a refused address", addr, err)
		}
	}
	if _, err := w.svc.AddAddress(ctx, w.c1, "o'neil+tag@one.test", "", true); err != nil {
		t.Errorf("an address with an apostrophe and a +tag: %v", err)
	}
}

// TestTokenForPeerRefused: an administrator may create API tokens for
// themself and for administrators below them, not for a peer of their
// own role and scope (the token would act under the peer's name and
// outlive its maker's removal); the refusal is audited.
func TestTokenForPeerRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	peer := ok[AdminInfo](t)(w.svc.AddAdmin(ctx, CLI(), "peer@one.test", testPassword, store.RoleCustomer, w.one.customer.ID))
	if _, _, err := w.svc.CreateToken(ctx, w.c1, peer.ID, "as my peer", time.Time{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("customer admin, token for a peer: %v, want ErrForbidden", err)
	}
	if recs, _ := w.st.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "forbidden", Object: OpTokenCreate}); len(recs) != 1 || !strings.Contains(recs[0].Detail, "peer@one.test") {
		t.Errorf("%d forbidden records, want 1", len(recs))
	}
	if _, _, err := w.svc.CreateToken(ctx, w.c1, 0, "mine", time.Time{}); err != nil {
		t.Errorf("own token: %v", err)
	}
	if _, _, err := w.svc.CreateToken(ctx, w.r1, peer.ID, "for my customer's admin", time.Time{}); err != nil {
		t.Errorf("reseller admin, token for its customer's admin: %v", err)
	}
	peerR := ok[AdminInfo](t)(w.svc.AddAdmin(ctx, CLI(), "peer@r1.test", testPassword, store.RoleReseller, w.one.reseller.ID))
	if _, _, err := w.svc.CreateToken(ctx, w.r1, peerR.ID, "as my peer", time.Time{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("reseller admin, token for a peer: %v, want ErrForbidden", err)
	}
}

// TestLogEventsNameNoOtherTenantsRecipients: a captured copy's event
// names all its envelope recipients and is placed in one of their
// domains; the administrators of that domain see their own and outside
// recipients, not another customer's (a Bcc to another customer's user
// would show). Their own user's sent mail keeps every recipient.
func TestLogEventsNameNoOtherTenantsRecipients(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	one := ok[store.Domain](t)(w.st.ScopedDomain(ctx, store.AllScope(), "one.test"))
	now := time.Now()
	check(t, w.st.AppendLog(ctx,
		store.LogEvent{Time: now, Status: msglog.Captured, MessageID: "in@x", MailFrom: "ext@outside.example",
			Rcpt: "user@one.test, User@Two.test, far@elsewhere.example", DomainID: one.ID},
		store.LogEvent{Time: now, Status: msglog.Submitted, MessageID: "out@x", MailFrom: "user@one.test",
			Rcpt: "user@two.test, far@elsewhere.example", DomainID: one.ID}))
	want := map[string]string{"in@x": "user@one.test, far@elsewhere.example", "out@x": "user@two.test, far@elsewhere.example"}
	pg := ok[LogPage](t)(w.svc.SearchLog(ctx, w.c1, LogSearch{}))
	for _, e := range pg.Events {
		if r, ok := want[e.MessageID]; ok && e.Rcpt != r {
			t.Errorf("search, %s: recipients %q, want %q", e.MessageID, e.Rcpt, r)
		}
	}
	if len(pg.Events) != 2 {
		t.Errorf("%d events, want 2", len(pg.Events))
	}
	tl := ok[[]store.LogEvent](t)(w.svc.Timeline(ctx, w.c1, "in@x"))
	if len(tl) != 1 || tl[0].Rcpt != want["in@x"] {
		t.Errorf("timeline: %+v", tl)
	}
	// The provider sees the whole tree.
	tl = ok[[]store.LogEvent](t)(w.svc.Timeline(ctx, w.provider, "in@x"))
	if len(tl) != 1 || !strings.Contains(tl[0].Rcpt, "user@two.test") {
		t.Errorf("provider's timeline: %+v", tl)
	}
}
