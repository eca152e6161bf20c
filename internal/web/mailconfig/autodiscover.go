package mailconfig

import (
	"encoding/xml"
	"errors"
	"io"
)

// Outlook's Autodiscover, the "plain old XML" (POX) form of [MS-OXDSCLI]:
// Outlook POSTs a request naming the address the user typed to
// https://<domain>/autodiscover/autodiscover.xml, then
// https://autodiscover.<domain>/autodiscover/autodiscover.xml, and takes
// the IMAP and SMTP settings of an "email" account from the answer.
const (
	autodiscoverResponseNS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	// OutlookSchema is the response schema of mail accounts (IMAP, POP,
	// SMTP). A request that asks for another (ActiveSync's mobilesync)
	// wants a server this is not.
	OutlookSchema = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

// maxAutodiscoverRequest bounds a request body: Outlook's is under 1 KiB.
const maxAutodiscoverRequest = 16 << 10

// autodiscoverRequest is the part of a request read: the namespace is
// not checked, as Outlook's and Thunderbird's differ in nothing else.
type autodiscoverRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string `xml:"EMailAddress"`
		AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
	} `xml:"Request"`
}

// errRequest is a request body that is not an Autodiscover request.
var errRequest = errors.New("autodiscover: not an Autodiscover request")

// readAutodiscoverRequest reads the address and the response schema a
// request asks for. r is read to its end or to maxAutodiscoverRequest+1
// bytes, whichever comes first; a longer body is errTooLarge.
func readAutodiscoverRequest(r io.Reader) (address, schema string, err error) {
	body, err := io.ReadAll(io.LimitReader(r, maxAutodiscoverRequest+1))
	if err != nil {
		return "", "", err
	}
	if len(body) > maxAutodiscoverRequest {
		return "", "", errTooLarge
	}
	var req autodiscoverRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		return "", "", errRequest
	}
	return req.Request.EMailAddress, req.Request.AcceptableResponseSchema, nil
}

var errTooLarge = errors.New("autodiscover: request too large")

type autodiscoverResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	NS       string   `xml:"xmlns,attr"`
	Response struct {
		NS      string `xml:"xmlns,attr"`
		Account struct {
			AccountType string
			Action      string
			Protocol    []autodiscoverProtocol
		}
	}
}

type autodiscoverProtocol struct {
	Type      string // IMAP or SMTP
	Server    string
	Port      int
	LoginName string
	// DomainRequired off: the login name is the whole address, no
	// DOMAIN\user.
	DomainRequired string
	// SPA off: no NTLM ("Secure Password Authentication"), which
	// Outlook would otherwise try first.
	SPA string
	// SSL on with Encryption SSL is TLS from the first byte (993, 465);
	// Encryption TLS is STARTTLS (587). Encryption, when present,
	// overrides SSL for Outlook 2010 and later; SSL stays for older ones.
	SSL          string
	Encryption   string
	AuthRequired string
}

// Autodiscover returns the POX Autodiscover answer for address (as the
// request gave it, normalised): IMAP over TLS and one SMTP port
// (587 with STARTTLS, else 465), address as the login name.
func Autodiscover(s Server, address string) ([]byte, error) {
	if !s.Complete() {
		return nil, errors.New("autodiscover: IMAP or submission is off")
	}
	smtpPort, implicit := s.outgoing()
	enc := "TLS"
	if implicit {
		enc = "SSL"
	}
	var resp autodiscoverResponse
	resp.NS = autodiscoverResponseNS
	resp.Response.NS = OutlookSchema
	resp.Response.Account.AccountType = "email"
	resp.Response.Account.Action = "settings"
	resp.Response.Account.Protocol = []autodiscoverProtocol{
		{Type: "IMAP", Server: s.Hostname, Port: s.IMAPPort, LoginName: address, DomainRequired: "off", SPA: "off",
			SSL: "on", Encryption: "SSL", AuthRequired: "on"},
		{Type: "SMTP", Server: s.Hostname, Port: smtpPort, LoginName: address, DomainRequired: "off", SPA: "off",
			SSL: "on", Encryption: enc, AuthRequired: "on"},
	}
	return marshal(resp)
}
