// Package dkim signs outgoing mail with a domain's DKIM key (RFC 6376)
// and makes those keys. Signing is relaxed/relaxed over an explicit list
// of headers: go-msgauth's defaults (simple/simple, every header) break on
// the first relay that rewraps a header or adds one.
package dkim

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/xtramail/xtramail/internal/store"
)

// SignedHeaders are the header fields signed (RFC 6376 5.4.1 recommends
// these), each named twice: "oversigned" (RFC 6376 8.15). RFC 5322 3.6
// allows each of them once in a message, and a name listed once more
// than the message has it is signed as absent: none can be added on the
// way. Named once, a Subject or From put above the signed one would show
// (readers show the first; a verifier takes the last) while the
// signature still verified.
var SignedHeaders = oversign(
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "List-Unsubscribe",
)

func oversign(fields ...string) []string {
	keys := make([]string, 0, 2*len(fields))
	for _, f := range fields {
		keys = append(keys, f, f)
	}
	return keys
}

// NewSelector is the selector for a domain's next key: "x" and the date,
// or, when current (the selector of the domain's key now, "" if none)
// already has that date, the next letter after it ("x20261206b"). A new
// key must have a DNS name of its own: under the old one, every message
// signed before its record is published fails verification with the
// record still there.
func NewSelector(now time.Time, current string) string {
	sel := "x" + now.UTC().Format("20060102")
	suffix, ok := strings.CutPrefix(current, sel)
	switch {
	case !ok:
		return sel
	case suffix == "":
		return sel + "b"
	case len(suffix) == 1 && suffix[0] >= 'b' && suffix[0] < 'z':
		return sel + string(suffix[0]+1)
	}
	// A 27th key in a day: the time of day tells it apart.
	return sel + "t" + now.UTC().Format("150405")
}

// GenerateKey makes a key for a domain: "ed25519" or "rsa" (2048 bits).
// The selector names the key in DNS (NewSelector).
func GenerateKey(algorithm, selector string, now time.Time) (store.DKIMKey, error) {
	if selector == "" {
		return store.DKIMKey{}, fmt.Errorf("dkim key without a selector: %w", store.ErrInvalid)
	}
	var priv crypto.Signer
	var err error
	switch algorithm {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return store.DKIMKey{}, fmt.Errorf("dkim algorithm %q: want ed25519 or rsa: %w", algorithm, store.ErrInvalid)
	}
	if err != nil {
		return store.DKIMKey{}, fmt.Errorf("generate %s dkim key: %w", algorithm, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.DKIMKey{}, fmt.Errorf("encode dkim key: %w", err)
	}
	return store.DKIMKey{Selector: selector, Algorithm: algorithm, PrivateKey: der, Created: now}, nil
}

func parse(k store.DKIMKey) (crypto.Signer, error) {
	p, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("parse dkim key %s: %w", k.Selector, err)
	}
	switch p := p.(type) {
	case ed25519.PrivateKey:
		return p, nil
	case *rsa.PrivateKey:
		return p, nil
	}
	return nil, fmt.Errorf("dkim key %s: unsupported type %T", k.Selector, p)
}

// RecordName is the DNS name of a key's TXT record.
func RecordName(k store.DKIMKey, domain string) string {
	return k.Selector + "._domainkey." + domain
}

// Record returns the TXT record to publish for the key (RFC 6376 3.6.1;
// RFC 8463 for ed25519, whose p= is the bare 32-byte public key).
func Record(k store.DKIMKey) (string, error) {
	priv, err := parse(k)
	if err != nil {
		return "", err
	}
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(p.Public().(ed25519.PublicKey)), nil
	case *rsa.PrivateKey:
		der, err := x509.MarshalPKIXPublicKey(&p.PublicKey)
		if err != nil {
			return "", fmt.Errorf("encode dkim public key: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	}
	return "", fmt.Errorf("dkim key %s: unsupported type", k.Selector)
}

// Sign reads a whole message and returns the DKIM-Signature header field,
// CRLF-terminated, to put before it.
func Sign(k store.DKIMKey, domain string, msg io.Reader) (string, error) {
	priv, err := parse(k)
	if err != nil {
		return "", err
	}
	return sign(priv, k.Selector, domain, msg, nil)
}

// The bounds of a header section that is signed. go-msgauth's signer
// reads the header into memory and joins a field's continuation lines
// one at a time (h[len(h)-1] += l + crlf), in time that grows with the
// square of a field's lines: a 1 MiB header of folded lines took 4 s of
// CPU to sign, 256 KiB of the shortest such lines 14 s, ~50 MB hours,
// on every attempt and holding up shutdown. Within these bounds the
// worst takes a fraction of a second; a real header is a few KB (long
// Received chains and recipient lists, some tens) and a few dozen to a
// few hundred lines.
const (
	MaxHeaderBytes = 256 << 10
	MaxHeaderLines = 2000
)

// ErrHeaderTooLarge: a message's header section is past MaxHeaderBytes or
// MaxHeaderLines, and it is not signed.
var ErrHeaderTooLarge = fmt.Errorf("header section over %d KiB or %d lines: too large to sign", MaxHeaderBytes>>10, MaxHeaderLines)

// CheckHeader returns ErrHeaderTooLarge when msg's header section is
// past the bounds of what is signed, reading no further than them:
// submission refuses such a message rather than send it unsigned.
func CheckHeader(msg []byte) error {
	h := &headerBound{r: bytes.NewReader(msg)}
	var buf [4096]byte
	for !h.done {
		if _, err := h.Read(buf[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

// headerBound reads a message for the signer and fails with
// ErrHeaderTooLarge, before the signer is given what is past them, once
// its header section goes past the bounds. The header ends at the first
// empty line (LF or CRLF alone), where the signer's reader ends it.
type headerBound struct {
	r     io.Reader
	size  int  // octets of the header read
	lines int  // lines of the header read
	line  int  // octets of the current line
	cr    bool // the current line's last octet is CR
	done  bool // the header ended
}

func (h *headerBound) Read(b []byte) (int, error) {
	n, err := h.r.Read(b)
	if h.done {
		return n, err
	}
	for _, c := range b[:n] {
		h.size++
		if c == '\n' {
			if h.line == 0 || h.line == 1 && h.cr {
				h.done = true
				return n, err
			}
			h.lines++
			h.line = 0
		} else {
			h.line++
			h.cr = c == '\r'
		}
		if h.size > MaxHeaderBytes || h.lines > MaxHeaderLines {
			return 0, ErrHeaderTooLarge
		}
	}
	return n, err
}

// sign signs msg, copied through buf (nil: a buffer of its own). A
// message whose header section is too large (headerBound) is not signed:
// ErrHeaderTooLarge.
func sign(priv crypto.Signer, selector, domain string, msg io.Reader, buf []byte) (string, error) {
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 domain,
		Selector:               selector,
		Signer:                 priv,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             SignedHeaders,
	})
	if err != nil {
		return "", fmt.Errorf("dkim signer for %s: %w", domain, err)
	}
	if _, err := io.CopyBuffer(s, &headerBound{r: msg}, buf); err != nil {
		s.Close()
		return "", fmt.Errorf("dkim sign for %s: %w", domain, err)
	}
	if err := s.Close(); err != nil {
		return "", fmt.Errorf("dkim sign for %s: %w", domain, err)
	}
	sig := s.Signature()
	if !strings.HasSuffix(sig, "\r\n") {
		sig += "\r\n"
	}
	return sig, nil
}
