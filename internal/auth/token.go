package auth

import (
	"crypto/rand"
	"encoding/base64"
)

// NewToken returns 32 random bytes (256 bits) encoded as unpadded
// base64url (43 characters), for session cookies and API tokens: safe in
// URLs, cookies and headers without escaping. Store only a hash of it if
// it must survive in a database.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:]) // Never fails (crypto/rand, Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b[:])
}
