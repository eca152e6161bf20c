package auth

import "context"

// GeneratedParams are the argon2id parameters for passwords the service
// generates itself (at least 100 bits from crypto/rand), not for
// passwords a person chose.
//
// Why cheaper is sound: a slow hash only protects passwords an attacker
// can guess, by making each guess of a stolen hash cost time and memory.
// A uniformly random 100-bit secret cannot be guessed: at 10^12 guesses a
// second with no hash cost at all, finding it takes about 2^99/10^12 s,
// some 2×10^10 years. So the cost buys nothing, while at the OWASP minimum
// (m=19 MiB, t=2, ~25 ms) 10,000 of them take over two minutes of both
// cores of a small server, during which sign-ins wait for hash slots.
// We keep argon2id and the same PHC string, so that one verifier reads
// every hash, at 1 MiB and one pass (about 1 ms).
//
// The trade-off: verifying such a hash is faster than the decoy hash of
// an unknown address, so timing can tell an address with a generated
// password from a missing one; the per-address and per-IP throttles bound
// how fast anyone can ask.
func GeneratedParams() Params {
	return Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// HashWith is [Hasher.Hash] with other parameters (GeneratedParams), in
// the same slots, so that sign-ins keep their share of them.
func (h *Hasher) HashWith(ctx context.Context, password string, p Params) (string, error) {
	var encoded string
	err := h.withSlot(ctx, func() (err error) {
		encoded, err = h.hashHeld(password, p)
		return err
	})
	return encoded, err
}
