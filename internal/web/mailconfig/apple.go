package mailconfig

import (
	"bytes"
	"encoding/xml"
	"errors"
	"mime"
	"strconv"
	"strings"
)

// ProfileContentType is what Safari on iPhone, iPad and Mac needs to
// offer a download as a configuration profile to install.
const ProfileContentType = "application/x-apple-aspen-config"

// AppleProfile returns the configuration profile (.mobileconfig, an XML
// property list) that adds address's mail account: one
// com.apple.mail.managed payload, IMAP over TLS and SMTP with TLS
// (STARTTLS on 587, or 465), password sign-in with address as the user
// name. It holds no password: the device asks for it while installing.
//
// Its PayloadIdentifier and PayloadUUIDs are derived from the host name
// and the address, never random: installing a profile downloaded again
// replaces the one installed. The profile is not signed (the device shows
// it as "Not Verified"): signing needs the certificate's key in a CMS
// signature, which this package does not make.
func AppleProfile(s Server, address string) ([]byte, error) {
	if !s.Complete() {
		return nil, errors.New("apple profile: IMAP or submission is off")
	}
	if address == "" {
		return nil, errors.New("apple profile: no address")
	}
	id := reverseDNS(s.Hostname) + ".xtramail.mail." + nameUUID("profile "+s.Hostname+" "+address)
	smtpPort, _ := s.outgoing()
	mail := plistDict{
		{"PayloadType", "com.apple.mail.managed"},
		{"PayloadVersion", 1},
		{"PayloadIdentifier", id + ".account"},
		{"PayloadUUID", nameUUID("mail " + s.Hostname + " " + address)},
		{"PayloadDisplayName", "Mail: " + address},
		{"PayloadDescription", "Continuity mail account " + address + " on " + s.Hostname},
		// The account's name in Mail: the address with where it lives,
		// so that it is told apart from the same address's primary
		// account on the same device.
		{"EmailAccountDescription", address + " (" + s.Hostname + ")"},
		{"EmailAccountType", "EmailTypeIMAP"},
		{"EmailAddress", address},
		{"IncomingMailServerAuthentication", "EmailAuthPassword"},
		{"IncomingMailServerHostName", s.Hostname},
		{"IncomingMailServerPortNumber", s.IMAPPort},
		{"IncomingMailServerUseSSL", true},
		{"IncomingMailServerUsername", address},
		{"OutgoingMailServerAuthentication", "EmailAuthPassword"},
		{"OutgoingMailServerHostName", s.Hostname},
		{"OutgoingMailServerPortNumber", smtpPort},
		// On 587 the device takes this as STARTTLS, on 465 as TLS from
		// the first byte.
		{"OutgoingMailServerUseSSL", true},
		{"OutgoingMailServerUsername", address},
		// One password, asked once, for both servers.
		{"OutgoingPasswordSameAsIncomingPassword", true},
		{"PreventMove", false},
		{"PreventAppSheet", false},
		{"SMIMEEnabled", false},
	}
	profile := plistDict{
		{"PayloadType", "Configuration"},
		{"PayloadVersion", 1},
		{"PayloadIdentifier", id},
		{"PayloadUUID", nameUUID("configuration " + s.Hostname + " " + address)},
		{"PayloadDisplayName", "Mail for " + address},
		{"PayloadDescription", "Sets up " + address + " in Mail, on " + s.Hostname + ", while your usual mail is unavailable. Your password is asked for while installing; it is not in this file."},
		{"PayloadOrganization", s.Hostname},
		{"PayloadRemovalDisallowed", false},
		{"PayloadContent", []plistDict{mail}},
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	if err := writePlist(&b, profile, 0); err != nil {
		return nil, err
	}
	b.WriteString("</plist>\n")
	return b.Bytes(), nil
}

// ProfileDisposition is the Content-Disposition of address's profile: an
// attachment named for the address (RFC 6266; a UTF-8 address gets the
// filename* form).
func ProfileDisposition(address string) string {
	name := strings.NewReplacer("/", "-", `\`, "-").Replace("mail-" + address + ".mobileconfig")
	return mime.FormatMediaType("attachment", map[string]string{"filename": name})
}

// plistDict is a property list dictionary, its keys in the order given
// (plistlib and Apple's parser do not care; people reading it do).
type plistDict []plistEntry

type plistEntry struct {
	key string
	val any // string, int, bool, plistDict or []plistDict
}

// writePlist writes v in the XML property list format, indented.
func writePlist(b *bytes.Buffer, v any, depth int) error {
	ind := strings.Repeat("\t", depth)
	switch v := v.(type) {
	case string:
		b.WriteString(ind + "<string>")
		if err := xml.EscapeText(b, []byte(v)); err != nil {
			return err
		}
		b.WriteString("</string>\n")
	case int:
		b.WriteString(ind + "<integer>" + strconv.Itoa(v) + "</integer>\n")
	case bool:
		if v {
			b.WriteString(ind + "<true/>\n")
		} else {
			b.WriteString(ind + "<false/>\n")
		}
	case plistDict:
		b.WriteString(ind + "<dict>\n")
		for _, e := range v {
			b.WriteString(ind + "\t<key>")
			if err := xml.EscapeText(b, []byte(e.key)); err != nil {
				return err
			}
			b.WriteString("</key>\n")
			if err := writePlist(b, e.val, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(ind + "</dict>\n")
	case []plistDict:
		b.WriteString(ind + "<array>\n")
		for _, d := range v {
			if err := writePlist(b, d, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(ind + "</array>\n")
	default:
		return errors.New("plist: unsupported value")
	}
	return nil
}
