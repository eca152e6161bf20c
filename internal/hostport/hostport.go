// Package hostport reads the address of a mail server as an operator or
// a tenant's administrator writes it: a host name or IP address, and
// where the setting takes one, a port. It is the one reader of relay
// hosts, for what is accepted (the domain setting relay_host, the
// configuration's [queue] relay_host) and for what the queue connects
// to, so that nothing accepted is later read as another host or port.
package hostport

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Parse reads s as a host, optionally followed by ':' and a port: a host
// name, an IPv4 address or an IPv6 address in brackets
// ("[2001:db8::25]:2525"; without them its last group would read as a
// port), and a port of 1 to 65535 in decimal digits. It returns the host
// as Host does (without brackets) and the port, 0 when s names none.
func Parse(s string) (host string, port int, err error) {
	h, p, hasPort := s, "", false
	if rest, ok := strings.CutPrefix(s, "["); ok {
		inside, after, ok := strings.Cut(rest, "]")
		if !ok {
			return "", 0, errors.New("a '[' without its ']'")
		}
		a, err := netip.ParseAddr(inside)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", 0, fmt.Errorf("%q in brackets is not an IPv6 address", inside)
		}
		h = a.String()
		if after != "" {
			p, hasPort = strings.CutPrefix(after, ":")
			if !hasPort {
				return "", 0, fmt.Errorf("%q after the address: a port follows a ':'", after)
			}
		}
	} else {
		h, p, hasPort = strings.Cut(s, ":")
		if hasPort && strings.Contains(p, ":") {
			return "", 0, errors.New("an IPv6 address goes in brackets, as [2001:db8::1] or [2001:db8::1]:25")
		}
		if h, err = Host(h); err != nil {
			return "", 0, err
		}
	}
	if !hasPort {
		return h, 0, nil
	}
	if port, err = Port(p); err != nil {
		return "", 0, err
	}
	return h, port, nil
}

// Port reads a TCP port: 1 to 65535 in decimal digits, nothing else (no
// sign, no space, no service name).
func Port(s string) (int, error) {
	if s == "" {
		return 0, errors.New("no port after the ':'")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return n, nil
}

// Host reads s as a host alone: an IP address (an IPv6 one without
// brackets, as nothing follows it) or a host name, its labels letters,
// digits and inner hyphens. It returns the address in its canonical
// form or the name in lower case, an internationalised one in its
// A-labels, the form DNS looks up.
func Host(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("%q: an address with a zone names no host elsewhere", s)
		}
		return a.String(), nil
	}
	name := strings.TrimSuffix(strings.ToLower(s), ".")
	if name != "" && !isASCII(name) {
		a, err := idna.Lookup.ToASCII(name)
		if err != nil {
			return "", fmt.Errorf("%q is not a host name: %v", s, err)
		}
		name = a
	}
	if name == "" || len(name) > 253 {
		return "", fmt.Errorf("%q is not a host name or IP address", s)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("%q is not a host name or IP address", s)
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("%q is not a host name or IP address", s)
			}
		}
	}
	// An all-digit last label is no top-level domain (RFC 3696 2): an
	// IPv4 address mistyped ("192.0.2.300"), never a name.
	if last := name[strings.LastIndexByte(name, '.')+1:]; strings.Trim(last, "0123456789") == "" {
		return "", fmt.Errorf("%q is not a host name or IP address", s)
	}
	return name, nil
}

// String writes host and port (0: none) as Parse reads them back: an
// IPv6 address in brackets.
func String(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
