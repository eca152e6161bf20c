package mailconfig

import (
	"bytes"
	"encoding/xml"
	"errors"
)

// Thunderbird's clientConfig, version 1.1: what Thunderbird (and K-9
// Mail, FairEmail, Evolution) fetch from autoconfig.<domain> or
// <domain>/.well-known/autoconfig before asking the user anything.
type clientConfig struct {
	XMLName  xml.Name       `xml:"clientConfig"`
	Version  string         `xml:"version,attr"`
	Provider configProvider `xml:"emailProvider"`
}

type configProvider struct {
	ID               string         `xml:"id,attr"`
	Domain           string         `xml:"domain"`
	DisplayName      string         `xml:"displayName"`
	DisplayShortName string         `xml:"displayShortName"`
	Incoming         []configServer `xml:"incomingServer"`
	Outgoing         []configServer `xml:"outgoingServer"`
}

type configServer struct {
	Type       string `xml:"type,attr"`
	Hostname   string `xml:"hostname"`
	Port       int    `xml:"port"`
	SocketType string `xml:"socketType"` // SSL (TLS from the first byte) or STARTTLS
	Username   string `xml:"username"`
	// password-cleartext is the password sent as it is (IMAP LOGIN or
	// AUTHENTICATE PLAIN, SMTP AUTH PLAIN or LOGIN), inside TLS: what
	// xtramail offers. password-encrypted would be CRAM-MD5, which it
	// does not.
	Authentication string `xml:"authentication"`
}

// emailAddressPlaceholder is replaced by the app with the address the
// user typed: the document is the same for every address of a domain,
// so it says nothing about which ones exist.
const emailAddressPlaceholder = "%EMAILADDRESS%"

// Autoconfig returns the clientConfig document (version 1.1) for domain
// (in its A-label form): IMAP over TLS, then each submission port that
// is on (587 with STARTTLS first, then 465), the user name being the
// address the user typed.
func Autoconfig(s Server, domain string) ([]byte, error) {
	if !s.Complete() {
		return nil, errors.New("autoconfig: IMAP or submission is off")
	}
	server := func(typ string, port int, socket string) configServer {
		return configServer{Type: typ, Hostname: s.Hostname, Port: port, SocketType: socket,
			Username: emailAddressPlaceholder, Authentication: "password-cleartext"}
	}
	p := configProvider{
		ID:               domain,
		Domain:           domain,
		DisplayName:      domain + " continuity mail (" + s.Hostname + ")",
		DisplayShortName: domain,
		Incoming:         []configServer{server("imap", s.IMAPPort, "SSL")},
	}
	if s.SubmissionPort != 0 {
		p.Outgoing = append(p.Outgoing, server("smtp", s.SubmissionPort, "STARTTLS"))
	}
	if s.SubmissionsPort != 0 {
		p.Outgoing = append(p.Outgoing, server("smtp", s.SubmissionsPort, "SSL"))
	}
	return marshal(clientConfig{Version: "1.1", Provider: p})
}

// marshal is v as an indented XML document with its declaration.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "\t")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
