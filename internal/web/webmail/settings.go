package webmail

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
	"github.com/xtramail/xtramail/internal/web/mailconfig"
)

// settingsView is the settings page's data.
type settingsView struct {
	Address       string
	Client        ClientSettings
	PasswordError string
	MinLength     int
	// Profile offers the Apple configuration profile: IMAP and
	// submission are both on (mailconfig.Server.Complete).
	Profile bool
}

func (c *composer) renderSettings(w http.ResponseWriter, r *http.Request, status int, acct store.Account, pwErr string) {
	cs := c.client()
	v := settingsView{Address: acct.Address, Client: cs, PasswordError: pwErr, MinLength: admin.MinPasswordLength, Profile: cs.Complete()}
	c.settings.Render(w, r, status, web.View{Title: "Settings", App: "webmail", Nav: c.navFor(r, acct, "Settings"), Data: v})
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

// checkNewPassword applies the password policy that administrators'
// passwords and the CLI follow too (admin.CheckPassword), in words for
// the user.
func checkNewPassword(address, pw string) error {
	err := admin.CheckPassword(address, pw)
	var fe *admin.FieldError
	if errors.As(err, &fe) {
		return errors.New("The new password: " + fe.Msg + ".")
	}
	return err
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

// appleProfile serves GET /settings/mail.mobileconfig: the configuration
// profile that sets the signed-in user's own address up in Mail on an
// iPhone, iPad or Mac (mailconfig.AppleProfile). It takes no address: a
// user gets theirs only. It holds no password.
func (c *composer) appleProfile(w http.ResponseWriter, r *http.Request, acct store.Account) {
	cs := c.client()
	if !cs.Complete() {
		web.NotFound(w, r)
		return
	}
	doc, err := mailconfig.AppleProfile(cs, acct.Address)
	if err != nil {
		c.failed(w, r, acct.ID, "make configuration profile", err)
		return
	}
	w.Header().Set("Content-Type", mailconfig.ProfileContentType)
	w.Header().Set("Content-Disposition", mailconfig.ProfileDisposition(acct.Address))
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(doc)
}
