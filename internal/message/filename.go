package message

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFilename bounds a file name in bytes: file systems take 255.
const maxFilename = 200

// SafeFilename returns a file name from a message (a part's filename or
// name parameter, already decoded) fit to show on a page, to offer to a
// browser's download and to write into a message again: its last path
// element, without control characters, Unicode format characters (bidi
// overrides and isolates, which make "invoice‮fdp.exe" show as
// "invoiceexe.pdf", zero-width marks) and double quotes, without leading
// dots (a hidden file) or surrounding spaces, as valid UTF-8 of at most
// 200 bytes. It is "" when nothing is left; callers make a name up.
func SafeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '"' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	if len(name) > maxFilename {
		cut := maxFilename
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	return strings.TrimSpace(name)
}

// SubjectFilename is SafeFilename of a subject made a file name (an
// attached message's), its slashes turned into dashes: "Q3/Q4 plan" is
// "Q3-Q4 plan", not "Q4 plan".
func SubjectFilename(subject string) string {
	return SafeFilename(strings.NewReplacer("/", "-", `\`, "-").Replace(subject))
}
