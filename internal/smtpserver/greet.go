package smtpserver

import (
	"github.com/emersion/go-smtp"
)

// maxGreetingName bounds the name a client gives in HELO or EHLO: a
// domain is at most 255 octets (RFC 5321 4.5.3.1.2), an address literal
// less. go-smtp takes any length and echoes it in its "250 Hello" line,
// so a client could make each EHLO answer as long as the command line
// guard lets its command be (MaxCommandBytes), where a reply line is at
// most 512 octets (4.5.3.1.5).
const maxGreetingName = 255

// errGreetingName answers a greeting whose name is too long to be one.
var errGreetingName = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
	Message: "HELO/EHLO name too long: a domain is at most 255 octets (RFC 5321 4.5.3.1.2)"}

// greetingTooLong reports whether the name c was greeted with is over
// maxGreetingName.
func greetingTooLong(c *smtp.Conn) bool { return len(c.Hostname()) > maxGreetingName }
