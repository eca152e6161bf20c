package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters and output sizes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams returns the parameters used by [Hash]: m=19 MiB, t=2, p=1,
// the OWASP minimum for argon2id. At about 25 ms per hash on our servers
// that is 40 logins/s per core, which is why verified credentials are
// cached and concurrent hashes bounded (see [Hasher], [Cache]).
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Limits on parameters accepted from a stored hash, so that a corrupt or
// hostile row in the database cannot make one login allocate gigabytes or
// spin for minutes.
const (
	maxMemory  = 1 << 20 // KiB, 1 GiB
	maxTime    = 32
	maxThreads = 64
	minSaltLen = 8 // PHC string format minimum
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// MaxPasswordLength bounds the passwords [Hash] accepts and
// [Authenticator.Authenticate] will hash: argon2 pre-hashes the password
// with BLAKE2b, so a megabyte "password" would cost CPU before the memory
// hard part even starts. 1024 bytes is far beyond any passphrase.
const MaxPasswordLength = 1024

var (
	// ErrMalformedHash means an encoded hash is not a well-formed argon2id
	// PHC string.
	ErrMalformedHash = errors.New("auth: malformed password hash")
	// ErrUnsupportedHash means an encoded hash is well formed but uses an
	// algorithm, version or parameters this package refuses.
	ErrUnsupportedHash = errors.New("auth: unsupported password hash")
)

// validate checks p against the same limits applied to parsed hashes, so
// that we never write a hash we would refuse to read.
func (p Params) validate() error {
	switch {
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("%w: threads %d not in [1,%d]", ErrUnsupportedHash, p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		// RFC 9106 section 3.1: m must be at least 8*p KiB.
		return fmt.Errorf("%w: memory %d KiB not in [%d,%d]", ErrUnsupportedHash, p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: time %d not in [1,%d]", ErrUnsupportedHash, p.Time, maxTime)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("%w: salt length %d not in [%d,%d]", ErrUnsupportedHash, p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("%w: key length %d not in [%d,%d]", ErrUnsupportedHash, p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Hash hashes password with [DefaultParams] and a random salt and returns
// the PHC string, e.g. "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>".
// It does not bound concurrency; servers use a [Hasher].
func Hash(password string) (string, error) {
	return HashParams(password, DefaultParams())
}

// HashParams is [Hash] with explicit parameters (tests use cheap ones).
func HashParams(password string, p Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	if len(password) > MaxPasswordLength {
		return "", fmt.Errorf("hash password: longer than %d bytes", MaxPasswordLength)
	}
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // Never fails (crypto/rand, Go 1.24+).
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded. The
// error is non-nil only when encoded cannot be used (malformed,
// unsupported); a wrong password is (false, nil).
func Verify(encoded, password string) (bool, error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordLength {
		return false, nil // Hash never accepted it, so it cannot match.
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// b64 is the encoding of the reference implementation and the PHC string
// format: standard alphabet, no padding. Strict rejects non-zero trailing
// bits, so every accepted string has exactly one spelling.
var b64 = base64.RawStdEncoding.Strict()

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodePHC parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash". It is strict:
// only the canonical form this package writes is accepted (fixed parameter
// order, no optional keyid/data parameters, no leading zeros), so that
// decode then encode gives back the same string.
func decodePHC(s string) (p Params, salt, key []byte, err error) {
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return p, nil, nil, fmt.Errorf("%w: want 5 $-separated fields", ErrMalformedHash)
	}
	if fields[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: algorithm %q", ErrUnsupportedHash, fields[1])
	}
	v, ok := strings.CutPrefix(fields[2], "v=")
	if !ok {
		return p, nil, nil, fmt.Errorf("%w: missing version", ErrMalformedHash)
	}
	version, err := parseDecimal(v, 32)
	if err != nil {
		return p, nil, nil, fmt.Errorf("%w: version: %v", ErrMalformedHash, err)
	}
	if version != argon2.Version {
		return p, nil, nil, fmt.Errorf("%w: version %d", ErrUnsupportedHash, version)
	}

	params := strings.Split(fields[3], ",")
	if len(params) != 3 {
		return p, nil, nil, fmt.Errorf("%w: want parameters m,t,p", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return p, nil, nil, fmt.Errorf("%w: parameter %d is not %s", ErrMalformedHash, i+1, name)
		}
		bits := 32
		if name == "p=" {
			bits = 8
		}
		if vals[i], err = parseDecimal(v, bits); err != nil {
			return p, nil, nil, fmt.Errorf("%w: parameter %s%s: %v", ErrMalformedHash, name, v, err)
		}
	}
	p.Memory, p.Time, p.Threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])

	if salt, err = b64.DecodeString(fields[4]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: salt: %v", ErrMalformedHash, err)
	}
	if key, err = b64.DecodeString(fields[5]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: hash: %v", ErrMalformedHash, err)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.validate(); err != nil {
		return p, nil, nil, err
	}
	return p, salt, key, nil
}

// parseDecimal parses an unsigned decimal without sign or leading zeros,
// as the PHC string format requires.
func parseDecimal(s string, bits int) (uint64, error) {
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	return strconv.ParseUint(s, 10, bits)
}
