package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Sub-addresses (RFC 5233): alice+news@example.com is alice@example.com
// with a tag that its user gave out, as Postfix (recipient_delimiter),
// Exchange Online (plus addressing) and Gmail deliver it. The upstream
// filter journals a copy with the envelope recipient as the sender wrote
// it, so capture and submission find the protected address behind such a
// recipient here, with the delimiter its domain sets
// (Domain.RecipientDelimiter).

// DefaultRecipientDelimiter is a new domain's delimiter, as Postfix's
// usual setting and Exchange Online's.
const DefaultRecipientDelimiter = "+"

// RecipientDelimiterChars are the characters a domain may use as
// delimiters. Postfix takes any, but a character common in real local
// parts (".") would make first.last@ the mail of first@.
const RecipientDelimiterChars = "+-_="

// CheckRecipientDelimiter checks a domain's delimiter setting: "" (no
// sub-addresses) or one or more distinct characters of
// RecipientDelimiterChars, any of which separates a tag (Postfix's
// recipient_delimiter = +- takes either).
func CheckRecipientDelimiter(d string) error {
	for i, c := range d {
		if !strings.ContainsRune(RecipientDelimiterChars, c) || strings.ContainsRune(d[:i], c) {
			return fmt.Errorf("recipient delimiter %q: each character once, of %q: %w", d, RecipientDelimiterChars, ErrInvalid)
		}
	}
	return nil
}

// BaseAddress returns the address a sub-address stands for: the local
// part up to its first delimiter (any character of delims), at the same
// domain; addr itself when it has none. A local part that starts with a
// delimiter has no base (Postfix keeps "+x@" whole too). addr is
// normalised (NormalizeAddress).
func BaseAddress(addr, delims string) string {
	at := strings.LastIndexByte(addr, '@')
	if delims == "" || at < 0 {
		return addr
	}
	i := strings.IndexAny(addr[:at], delims)
	if i <= 0 {
		return addr
	}
	return addr[:i] + addr[at:]
}

// RecipientAccount returns the account that gets the mail of addr
// (normalised) at a domain whose delimiters are delims: addr's own
// account when it has one, whatever its state (someone really called
// a+b@ keeps their own mail, and one disabled stays refused), else that
// of its base address (BaseAddress). account is the look-up of one
// address (Store.Account, or a cache of it); its error wrapping
// ErrNotFound for addr and its base when neither has an account.
func RecipientAccount(ctx context.Context, account func(context.Context, string) (Account, error), delims, addr string) (Account, error) {
	a, err := account(ctx, addr)
	if !errors.Is(err, ErrNotFound) {
		return a, err
	}
	if base := BaseAddress(addr, delims); base != addr {
		return account(ctx, base)
	}
	return a, err
}
