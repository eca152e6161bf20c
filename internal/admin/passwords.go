package admin

import (
	"crypto/rand"
	"strings"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/auth"
)

// MinPasswordLength is the shortest password an administrator may set
// for a user or an admin (NIST SP 800-63B 3.1.1.2: at least 8 characters
// when chosen by a person).
const MinPasswordLength = 8

// CheckPassword is the password policy for users and admins alike: 8 to
// auth.MaxPasswordLength bytes of valid UTF-8 without control characters,
// and not the address (or its local part) itself. It returns a
// *FieldError for field "password".
func CheckPassword(address, password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return fieldErr("password", "at least %d characters", MinPasswordLength)
	case len(password) > auth.MaxPasswordLength:
		return fieldErr("password", "at most %d bytes", auth.MaxPasswordLength)
	case !utf8.ValidString(password):
		return fieldErr("password", "not valid UTF-8")
	}
	for _, r := range password {
		if r < ' ' || r == 0x7f {
			return fieldErr("password", "no control characters")
		}
	}
	lp := strings.ToLower(password)
	local, _, _ := strings.Cut(strings.ToLower(address), "@")
	if address != "" && (lp == strings.ToLower(address) || lp == local) {
		return fieldErr("password", "must not be the address")
	}
	return nil
}

// passwordAlphabet has no characters that look alike (0/O, 1/l/I) and
// none that need quoting in CSV or a shell.
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratedPasswordLength gives 18 × log2(56) ≈ 104.5 bits: above the
// 100 bits that make the cheap hash of auth.GeneratedParams sound.
const GeneratedPasswordLength = 18

// GeneratePassword returns a random password that passes CheckPassword.
func GeneratePassword() string {
	b := make([]byte, GeneratedPasswordLength)
	// Rejection sampling keeps every character equally likely.
	limit := byte(256 - 256%len(passwordAlphabet))
	buf := make([]byte, 1)
	for i := 0; i < len(b); {
		rand.Read(buf) // never fails (crypto/rand, Go 1.24+)
		if buf[0] >= limit {
			continue
		}
		b[i] = passwordAlphabet[int(buf[0])%len(passwordAlphabet)]
		i++
	}
	return string(b)
}
