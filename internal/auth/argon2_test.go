package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// cheap are parameters that keep tests fast; never use them for real.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerifyRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery staple", "ünïcödé 🔑", " ", strings.Repeat("x", MaxPasswordLength)} {
		encoded, err := HashParams(pw, cheap)
		if err != nil {
			t.Fatalf("HashParams(%q): %v", pw, err)
		}
		if ok, err := Verify(encoded, pw); !ok || err != nil {
			t.Errorf("Verify(right password %q) = %v, %v; want true, nil", pw, ok, err)
		}
		if ok, err := Verify(encoded, pw+"!"); ok || err != nil {
			t.Errorf("Verify(wrong password) = %v, %v; want false, nil", ok, err)
		}
	}
}

func TestHashDefaultFormat(t *testing.T) {
	encoded, err := Hash("secret")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "$argon2id$v=19$m=19456,t=2,p=1$"
	if !strings.HasPrefix(encoded, prefix) {
		t.Fatalf("Hash = %q, want prefix %q", encoded, prefix)
	}
	fields := strings.Split(encoded, "$")
	// 16-byte salt and 32-byte key, unpadded base64.
	if len(fields[4]) != 22 || len(fields[5]) != 43 {
		t.Errorf("salt/hash lengths %d/%d, want 22/43: %q", len(fields[4]), len(fields[5]), encoded)
	}
	again, _ := Hash("secret")
	if again == encoded {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

// TestHashKnownAnswer recomputes our own output with argon2.IDKey, so a
// mistake in encoding (parameter order, base64 alphabet, padding) shows.
func TestHashKnownAnswer(t *testing.T) {
	encoded, err := HashParams("hunter2", cheap)
	if err != nil {
		t.Fatal(err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(strings.Split(encoded, "$")[4])
	if err != nil {
		t.Fatal(err)
	}
	key := argon2.IDKey([]byte("hunter2"), salt, cheap.Time, cheap.Memory, cheap.Threads, cheap.KeyLen)
	want := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", cheap.Memory, cheap.Time, cheap.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	if encoded != want {
		t.Errorf("HashParams = %q\nwant          %q", encoded, want)
	}
}

// TestVerifyReferenceVector checks a hash written by the reference C
// implementation (phc-winner-argon2 src/test.c), so that hashes imported
// from other systems verify.
func TestVerifyReferenceVector(t *testing.T) {
	const ref = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	if ok, err := Verify(ref, "password"); !ok || err != nil {
		t.Errorf("Verify(reference, password) = %v, %v; want true, nil", ok, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	good, err := HashParams("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(good, "$")
	salt, key := f[4], f[5]
	join := func(parts ...string) string { return strings.Join(parts, "$") }
	tests := []struct {
		name    string
		encoded string
		want    error
	}{
		{"empty", "", ErrMalformedHash},
		{"plain text", "hunter2", ErrMalformedHash},
		{"no leading $", join("argon2id", "v=19", "m=64,t=1,p=1", salt, key), ErrMalformedHash},
		{"too few fields", join("", "argon2id", "m=64,t=1,p=1", salt, key), ErrMalformedHash},
		{"too many fields", good + "$", ErrMalformedHash},
		{"argon2i", join("", "argon2i", "v=19", "m=64,t=1,p=1", salt, key), ErrUnsupportedHash},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", ErrMalformedHash},
		{"version 16", join("", "argon2id", "v=16", "m=64,t=1,p=1", salt, key), ErrUnsupportedHash},
		{"version missing", join("", "argon2id", "m=64,t=1,p=1", salt, key, ""), ErrMalformedHash},
		{"version not a number", join("", "argon2id", "v=x", "m=64,t=1,p=1", salt, key), ErrMalformedHash},
		{"params reordered", join("", "argon2id", "v=19", "t=1,m=64,p=1", salt, key), ErrMalformedHash},
		{"params missing", join("", "argon2id", "v=19", "m=64,t=1", salt, key), ErrMalformedHash},
		{"extra param", join("", "argon2id", "v=19", "m=64,t=1,p=1,keyid=x", salt, key), ErrMalformedHash},
		{"negative", join("", "argon2id", "v=19", "m=-64,t=1,p=1", salt, key), ErrMalformedHash},
		{"plus sign", join("", "argon2id", "v=19", "m=+64,t=1,p=1", salt, key), ErrMalformedHash},
		{"leading zero", join("", "argon2id", "v=19", "m=064,t=1,p=1", salt, key), ErrMalformedHash},
		{"overflow", join("", "argon2id", "v=19", "m=4294967296,t=1,p=1", salt, key), ErrMalformedHash},
		{"p over 255", join("", "argon2id", "v=19", "m=64,t=1,p=256", salt, key), ErrMalformedHash},
		{"memory 2 GiB", join("", "argon2id", "v=19", "m=2097152,t=1,p=1", salt, key), ErrUnsupportedHash},
		{"memory below 8p", join("", "argon2id", "v=19", "m=15,t=1,p=2", salt, key), ErrUnsupportedHash},
		{"time 0", join("", "argon2id", "v=19", "m=64,t=0,p=1", salt, key), ErrUnsupportedHash},
		{"time 1000", join("", "argon2id", "v=19", "m=64,t=1000,p=1", salt, key), ErrUnsupportedHash},
		{"threads 0", join("", "argon2id", "v=19", "m=64,t=1,p=0", salt, key), ErrUnsupportedHash},
		{"salt not base64", join("", "argon2id", "v=19", "m=64,t=1,p=1", "!!!!", key), ErrMalformedHash},
		{"salt padded", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt+"==", key), ErrMalformedHash},
		{"salt url alphabet", join("", "argon2id", "v=19", "m=64,t=1,p=1", "c29tZXNhbHQ-_w", key), ErrMalformedHash},
		{"salt too short", join("", "argon2id", "v=19", "m=64,t=1,p=1", "c2FsdA", key), ErrUnsupportedHash},
		{"hash too short", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, "a2V5"), ErrUnsupportedHash},
		{"hash empty", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, ""), ErrUnsupportedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := Verify(tt.encoded, "pw")
			if ok || !errors.Is(err, tt.want) {
				t.Errorf("Verify(%q) = %v, %v; want false, %v", tt.encoded, ok, err, tt.want)
			}
		})
	}
}

func TestHashParamsRejects(t *testing.T) {
	bad := cheap
	bad.Memory = 2 << 20
	if _, err := HashParams("pw", bad); !errors.Is(err, ErrUnsupportedHash) {
		t.Errorf("HashParams(2 GiB) error = %v, want ErrUnsupportedHash", err)
	}
	if _, err := HashParams(strings.Repeat("x", MaxPasswordLength+1), cheap); err == nil {
		t.Error("HashParams(overlong password) succeeded")
	}
	if ok, err := Verify(mustHash(t, "pw"), strings.Repeat("x", MaxPasswordLength+1)); ok || err != nil {
		t.Errorf("Verify(overlong) = %v, %v; want false, nil", ok, err)
	}
}

func mustHash(t testing.TB, pw string) string {
	t.Helper()
	encoded, err := HashParams(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	return encoded
}

// FuzzDecodePHC checks that the parser never panics and accepts only
// canonical strings: whatever it accepts re-encodes to the same text.
func FuzzDecodePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=65536,t=2,p=1$ZGlmZnNhbHQ$sDV8zPvvkfOGCw26RHsjSMvv7K2vmQq/6cxAcmxSEnE")
	f.Add("$argon2id$v=19$m=064,t=1,p=1$c29tZXNhbHQ$a2V5a2V5a2V5a2V5a2V5aw")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := decodePHC(s)
		if err != nil {
			return
		}
		if got := encodePHC(p, salt, key); got != s {
			t.Errorf("decode then encode %q = %q", s, got)
		}
	})
}
