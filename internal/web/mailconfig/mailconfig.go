// Package mailconfig makes the documents that set a mail app up without
// typing server names: an Apple configuration profile (.mobileconfig) for
// iPhone, iPad and Mac, Thunderbird's autoconfig (clientConfig 1.1) and
// Outlook's POX Autodiscover answer. It owns their formats and the HTTP
// handler that serves the last two, unauthenticated, on the web listener
// (the profile is the webmail's, for the signed-in user only).
//
// No document carries a password: each names the user's address as the
// user name and leaves the password to the app, which asks for it.
package mailconfig

import (
	"crypto/sha1"
	"fmt"
	"strings"
)

// Server is where mail apps reach xtramail: its host name (the one its
// certificate names) and the ports of its listeners, 0 for one that is
// off.
type Server struct {
	Hostname string
	// IMAPPort is IMAP over TLS (993); SubmissionPort SMTP with STARTTLS
	// (587) and SubmissionsPort SMTP over TLS (465).
	IMAPPort, SubmissionPort, SubmissionsPort int
}

// Complete reports whether an app can be set up whole: IMAP to read and
// one submission port to send. Without both no document is offered: an
// app set up to read only would fail at its first send, or the reverse.
func (s Server) Complete() bool {
	return s.Hostname != "" && s.IMAPPort != 0 && (s.SubmissionPort != 0 || s.SubmissionsPort != 0)
}

// outgoing is the one submission port a document names where its format
// has room for one (Outlook and Apple): 587 with STARTTLS, the port
// DESIGN.md and the settings page give first, else 465; implicit reports
// TLS from the first byte (465).
func (s Server) outgoing() (port int, implicit bool) {
	if s.SubmissionPort != 0 {
		return s.SubmissionPort, false
	}
	return s.SubmissionsPort, true
}

// uuidNamespace is the RFC 9562 name space of this package's name-based
// UUIDs (made once, at random). Changing it changes every profile's
// identity: installed profiles would no longer be replaced.
var uuidNamespace = [16]byte{0x3c, 0x6f, 0x2b, 0x8e, 0x51, 0x0d, 0x4a, 0x97, 0xb2, 0x64, 0x19, 0xe5, 0xc0, 0x7a, 0x3d, 0x48}

// nameUUID is the name-based (version 5, SHA-1) UUID of name in
// uuidNamespace, RFC 9562 section 5.5: the same name gives the same UUID
// on every server and every day, so a profile downloaded again replaces
// the one installed rather than adding a second account.
func nameUUID(name string) string {
	h := sha1.New()
	h.Write(uuidNamespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// reverseDNS is host in reverse-DNS order ("mail.example.com" is
// "com.example.mail"), the form of Apple's payload identifiers.
func reverseDNS(host string) string {
	labels := strings.Split(strings.Trim(host, "."), ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".")
}
