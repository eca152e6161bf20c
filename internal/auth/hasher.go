package auth

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes and verifies passwords with at most a fixed number of
// argon2 computations in flight. Each computation holds Params.Memory
// (19 MiB by default) for its whole duration, so without a bound a burst
// of logins (or an attacker) could make the process allocate hundreds of
// megabytes at once; with it, extra requests wait for a slot.
//
// A Hasher is safe for concurrent use.
type Hasher struct {
	params Params
	sem    chan struct{} // one token per running computation
	// observe, when set, is told the parameters of each argon2
	// computation the Hasher runs (Observed).
	observe func(Params)
}

// NewHasher returns a Hasher that writes new hashes with p and runs at
// most limit computations at once; limit <= 0 means runtime.NumCPU(),
// since argon2 with p=1 keeps one core busy and more in flight would only
// add memory, not throughput. It fails if p is outside the limits applied
// to stored hashes.
func NewHasher(p Params, limit int) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("new hasher: %w", err)
	}
	if limit <= 0 {
		limit = runtime.NumCPU()
	}
	return &Hasher{params: p, sem: make(chan struct{}, limit)}, nil
}

// Observed returns a Hasher sharing h's parameters and slots that tells
// fn the parameters of each argon2 computation it runs (a hash, a
// verification or an unknown address's decoy), before running it. It
// counts hashing work where a timer could not: tests check with it that
// every kind of failed sign-in costs the same (one computation at the
// Hasher's parameters), whatever the machine's load.
func (h *Hasher) Observed(fn func(Params)) *Hasher {
	return &Hasher{params: h.params, sem: h.sem, observe: fn}
}

// Params returns the parameters used for new hashes.
func (h *Hasher) Params() Params { return h.params }

// Hash is [HashParams] with the Hasher's parameters, run once a slot is
// free. It returns ctx's error if ctx ends while waiting; a computation
// that has started always runs to completion.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var encoded string
	err := h.withSlot(ctx, func() (err error) {
		encoded, err = h.hashHeld(password, h.params)
		return err
	})
	return encoded, err
}

// Verify is [Verify] run once a slot is free; see [Hasher.Hash] for ctx.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	var ok bool
	err := h.withSlot(ctx, func() (err error) {
		ok, err = h.verifyHeld(encoded, password)
		return err
	})
	return ok, err
}

// burn spends as much time and memory as verifying a password against a
// hash made with the Hasher's parameters. It is used for logins whose
// account does not exist, so that their response time does not reveal
// that; the caller must hold a slot.
func (h *Hasher) burn(password string) {
	h.seen(h.params)
	salt := make([]byte, h.params.SaltLen)
	argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
}

// hashHeld is HashParams, told to the observer; the caller holds a slot.
func (h *Hasher) hashHeld(password string, p Params) (string, error) {
	h.seen(p)
	return HashParams(password, p)
}

// verifyHeld is Verify, told to the observer (with the stored hash's
// parameters); the caller holds a slot.
func (h *Hasher) verifyHeld(encoded, password string) (bool, error) {
	if h.observe != nil {
		if p, _, _, err := decodePHC(encoded); err == nil {
			h.observe(p)
		}
	}
	return Verify(encoded, password)
}

func (h *Hasher) seen(p Params) {
	if h.observe != nil {
		h.observe(p)
	}
}

// withSlot runs fn while holding one of the Hasher's slots.
func (h *Hasher) withSlot(ctx context.Context, fn func() error) error {
	// Checked first because select picks at random among ready cases: a
	// cancelled ctx must not still win a free slot.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wait for password hash slot: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for password hash slot: %w", ctx.Err())
	}
	defer func() { <-h.sem }()
	return fn()
}
