package webmail

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// settingsView is the settings page's data.
type settingsView struct {
	Address       string
	Client        ClientSettings
	PasswordError string
	MinLength     int
}

func (c *composer) renderSettings(w http.ResponseWriter, r *http.Request, status int, acct store.Account, pwErr string) {
	v := settingsView{Address: acct.Address, Client: c.client(), PasswordError: pwErr, MinLength: minPasswordLength}
	c.settings.Render(w, r, status, web.View{Title: "Settings", App: "webmail", Nav: composeNav("settings"), Data: v})
}

// client is the mail client settings, with the standard ports where the
// service did not say.
func (c *composer) client() ClientSettings {
	cs := c.opt.Compose.Client
	if cs.Hostname == "" {
		cs.Hostname = "localhost"
	}
	return cs
}

// settingsPage serves GET /settings: password change, mail client
// settings with a QR code, keyboard shortcuts.
func (c *composer) settingsPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	c.renderSettings(w, r, http.StatusOK, acct, "")
}

// minPasswordLength is the password policy's length, the CLI's (user
// passwd) and the admin's: NIST SP 800-63B 3.1.1.2, at least 8
// characters when chosen by a person.
const minPasswordLength = 8

// checkNewPassword is the password policy for a user choosing their own:
// minPasswordLength characters to auth.MaxPasswordLength bytes of valid
// UTF-8 without control characters, and not the address itself.
func checkNewPassword(address, pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < minPasswordLength:
		return fmt.Errorf("The new password needs at least %d characters.", minPasswordLength)
	case len(pw) > auth.MaxPasswordLength:
		return fmt.Errorf("The new password can have at most %d bytes.", auth.MaxPasswordLength)
	case !utf8.ValidString(pw) || strings.ContainsFunc(pw, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return errors.New("The new password has characters that cannot be typed.")
	}
	local, _, _ := strings.Cut(address, "@")
	if strings.EqualFold(pw, address) || strings.EqualFold(pw, local) {
		return errors.New("The new password must not be your address.")
	}
	return nil
}

// changePassword serves POST /settings/password: the current password
// is checked through the authenticator (its throttles count a wrong
// one), the new one hashed with its bounded hasher; then cached
// credentials are forgotten, so that IMAP and SMTP take the new one at
// once (an IMAP session of the account ends at its next command, as
// after `xtramail user passwd`), and every other web session ends.
func (c *composer) changePassword(w http.ResponseWriter, r *http.Request, acct store.Account) {
	ctx := r.Context()
	cur, pw, again := r.FormValue("current"), r.FormValue("new"), r.FormValue("confirm")
	if pw != again {
		c.renderSettings(w, r, http.StatusUnprocessableEntity, acct, "The new password and its repetition differ.")
		return
	}
	if err := checkNewPassword(acct.Address, pw); err != nil {
		c.renderSettings(w, r, http.StatusUnprocessableEntity, acct, err.Error())
		return
	}
	p := c.opt.Compose.Passwords
	if p == nil {
		web.Error(w, r, http.StatusServiceUnavailable, "Passwords cannot be changed here.")
		return
	}
	if _, err := p.Authenticate(ctx, acct.Address, cur, web.RemoteIP(r)); err != nil {
		switch {
		case errors.Is(err, auth.ErrThrottled):
			c.renderSettings(w, r, http.StatusTooManyRequests, acct, "Too many wrong passwords. Wait a few minutes, then try again.")
		case errors.Is(err, auth.ErrInvalidCredentials):
			c.renderSettings(w, r, http.StatusUnprocessableEntity, acct, "The current password is not right.")
		default:
			c.failed(w, r, acct.ID, "check current password", err)
		}
		return
	}
	hash, err := p.Hasher().Hash(ctx, pw)
	if err != nil {
		c.failed(w, r, acct.ID, "hash new password", err)
		return
	}
	if err := c.store.SetPassword(ctx, acct.Address, hash); err != nil {
		c.failed(w, r, acct.ID, "set password", err)
		return
	}
	p.Forget(acct.Address)
	n, err := c.web.Sessions().EndOthers(r)
	if err != nil {
		c.log.Error("end other sessions after a password change", "account", acct.ID, "err", err)
	}
	msg := "Password changed."
	if n > 0 {
		msg += " Your " + strconv.Itoa(n) + " other web session(s) were signed out."
	}
	web.SetFlash(w, msg)
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

// clientText is what the QR code holds: the settings as text, which a
// phone's camera shows to copy into its mail app (no setup link format
// is common to phones).
func clientText(address string, cs ClientSettings) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Mail settings for %s\n", address)
	if cs.IMAPPort != 0 {
		fmt.Fprintf(&b, "Incoming (IMAP): %s port %d, SSL/TLS\n", cs.Hostname, cs.IMAPPort)
	}
	if cs.SubmissionPort != 0 {
		fmt.Fprintf(&b, "Outgoing (SMTP): %s port %d, STARTTLS\n", cs.Hostname, cs.SubmissionPort)
	}
	if cs.SubmissionsPort != 0 {
		fmt.Fprintf(&b, "Outgoing (SMTP): %s port %d, SSL/TLS\n", cs.Hostname, cs.SubmissionsPort)
	}
	fmt.Fprintf(&b, "User name: %s\nPassword: your xtramail password\n", address)
	return b.String()
}

// clientQR serves GET /settings/client.png: the QR code of clientText,
// made here (github.com/skip2/go-qrcode), never by a third party.
func (c *composer) clientQR(w http.ResponseWriter, r *http.Request, acct store.Account) {
	png, err := qrcode.Encode(clientText(acct.Address, c.client()), qrcode.Medium, 320)
	if err != nil {
		c.failed(w, r, acct.ID, "make QR code", err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(png)
}
