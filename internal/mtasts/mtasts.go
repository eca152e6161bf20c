// Package mtasts implements the sending side of SMTP MTA Strict Transport
// Security (RFC 8461): it finds a recipient domain's policy (the
// _mta-sts TXT record, then the policy file over HTTPS), parses it,
// caches it for its max_age, and tells the queue which MX hosts the
// policy allows and whether it must be enforced.
package mtasts

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// Mode is a policy's mode (RFC 8461 3.2).
type Mode string

const (
	// Enforce: deliver only to a matching MX over TLS with a valid
	// certificate, else defer.
	Enforce Mode = "enforce"
	// Testing: deliver anyway, but report (we log) what enforce would
	// have refused.
	Testing Mode = "testing"
	// None: the domain withdrew its policy.
	None Mode = "none"
)

// maxMaxAge is the largest max_age a policy may give (RFC 8461 3.2: about
// one year).
const maxMaxAge = 31557600

// maxPolicySize bounds the policy file we read (RFC 8461 3.3 says
// senders may limit it; 64 KiB as recommended).
const maxPolicySize = 64 << 10

// Policy is a parsed policy file.
type Policy struct {
	Mode   Mode
	MX     []string // patterns: host names, or "*." and a domain
	MaxAge time.Duration
}

// ErrSyntax reports a policy file that is not a valid policy.
var ErrSyntax = errors.New("mta-sts policy syntax")

// Parse parses a policy file (RFC 8461 3.2). Lines are "key: value"
// ending in CRLF or LF; unknown keys are ignored; version, mode and
// max_age are required, and mx too unless the mode is none.
func Parse(b []byte) (*Policy, error) {
	p := &Policy{}
	var version bool
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1024), maxPolicySize)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: line %q has no colon", ErrSyntax, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		// Only mx may repeat (3.2); the first of the others counts.
		if k != "mx" && seen[k] {
			continue
		}
		seen[k] = true
		switch k {
		case "version":
			if v != "STSv1" {
				return nil, fmt.Errorf("%w: version %q", ErrSyntax, v)
			}
			version = true
		case "mode":
			switch Mode(v) {
			case Enforce, Testing, None:
				p.Mode = Mode(v)
			default:
				return nil, fmt.Errorf("%w: mode %q", ErrSyntax, v)
			}
		case "max_age":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || len(v) > 10 {
				return nil, fmt.Errorf("%w: max_age %q", ErrSyntax, v)
			}
			p.MaxAge = time.Duration(min(n, maxMaxAge)) * time.Second
		case "mx":
			pat := strings.ToLower(strings.TrimSuffix(v, "."))
			if !validPattern(pat) {
				return nil, fmt.Errorf("%w: mx %q", ErrSyntax, v)
			}
			p.MX = append(p.MX, pat)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	switch {
	case !version:
		return nil, fmt.Errorf("%w: no version", ErrSyntax)
	case p.Mode == "":
		return nil, fmt.Errorf("%w: no mode", ErrSyntax)
	case !seen["max_age"]:
		return nil, fmt.Errorf("%w: no max_age", ErrSyntax)
	case len(p.MX) == 0 && p.Mode != None:
		return nil, fmt.Errorf("%w: no mx", ErrSyntax)
	}
	return p, nil
}

// validPattern accepts a host name, optionally with a leading "*." (RFC
// 8461 3.2: the wildcard stands for exactly one label).
func validPattern(p string) bool {
	p = strings.TrimPrefix(p, "*.")
	if p == "" || len(p) > 253 {
		return false
	}
	for _, l := range strings.Split(p, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Match reports whether an MX host name is allowed by the policy (RFC
// 8461 4.1): equal to a pattern, or one label more than a "*." pattern.
func (p *Policy) Match(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			label, parent, ok := strings.Cut(host, ".")
			if ok && label != "" && parent == rest {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

// Resolver looks up TXT records; *net.Resolver is one.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Cache keeps fetched policies across restarts and nodes (RFC 8461 5.1: a
// cached policy is used until it expires); store.Store is one.
type Cache interface {
	MTASTSPolicy(ctx context.Context, domain string) (store.MTASTSPolicy, error)
	SetMTASTSPolicy(ctx context.Context, p store.MTASTSPolicy) error
}

// ErrCache reports that the policy cache could not be read: the caller
// cannot know whether a policy applies, and should wait rather than
// deliver without one.
var ErrCache = errors.New("mta-sts policy cache")

// Client finds policies and keeps them in its Cache. Its HTTP client must
// verify certificates (RFC 8461 3.3); tests give it their own roots and
// dialer.
type Client struct {
	Resolver Resolver
	HTTP     *http.Client
	Cache    Cache
	Now      func() time.Time
	// Log hears of policies that could not be cached.
	Log *slog.Logger
}

// NewClient returns a Client with a 60-second fetch timeout and no
// redirects (RFC 8461 3.3: "HTTP 3xx redirects MUST NOT be followed").
func NewClient(r Resolver, transport http.RoundTripper, cache Cache, now func() time.Time) *Client {
	return &Client{
		Resolver: r,
		Cache:    cache,
		Now:      now,
		Log:      slog.New(slog.DiscardHandler),
		HTTP: &http.Client{
			Transport: transport,
			Timeout:   60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// Lookup returns the policy of a recipient domain, nil when it has none.
// A cached, unexpired policy is used when the TXT record's id did not
// change, and also when the TXT lookup or the fetch fails (RFC 8461 3.3,
// 5.1): an attacker who blocks them must not turn enforcement off, nor
// may a restart.
func (c *Client) Lookup(ctx context.Context, domain string) (*Policy, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	now := c.Now()
	old, err := c.cached(ctx, domain, now)
	if err != nil {
		return nil, err
	}
	id, err := c.lookupID(ctx, domain)
	if err != nil {
		if old != nil {
			return old.policy, nil
		}
		return nil, err
	}
	if id == "" {
		// No record: no policy, unless one is still cached (5.1).
		if old != nil {
			return old.policy, nil
		}
		return nil, nil
	}
	if old != nil && old.id == id {
		return old.policy, nil
	}
	raw, p, err := c.fetch(ctx, domain)
	if err != nil {
		if old != nil {
			return old.policy, nil
		}
		return nil, err
	}
	err = c.Cache.SetMTASTSPolicy(ctx, store.MTASTSPolicy{Domain: domain, ID: id, Policy: raw, Fetched: now, Expires: now.Add(p.MaxAge)})
	if err != nil {
		// The policy applies all the same; the next lookup fetches it
		// again.
		c.Log.Warn("mta-sts: cache policy", "domain", domain, "err", err)
	}
	return p, nil
}

// cached is a policy read back from the cache.
type cached struct {
	id     string
	policy *Policy
}

// cached returns the domain's unexpired cached policy, nil without one.
func (c *Client) cached(ctx context.Context, domain string, now time.Time) (*cached, error) {
	sp, err := c.Cache.MTASTSPolicy(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read policy of %s: %w", ErrCache, domain, err)
	}
	if !now.Before(sp.Expires) {
		return nil, nil
	}
	p, err := Parse(sp.Policy)
	if err != nil {
		// Only parsed policies are stored; one that no longer parses
		// (an older version's rules) is as good as none.
		c.Log.Warn("mta-sts: cached policy does not parse", "domain", domain, "err", err)
		return nil, nil
	}
	return &cached{id: sp.ID, policy: p}, nil
}

// lookupID returns the id of the domain's STSv1 TXT record, "" without
// exactly one (RFC 8461 3.1: more than one means none).
func (c *Client) lookupID(ctx context.Context, domain string) (string, error) {
	txts, err := c.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	if err != nil {
		if isNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("mta-sts record of %s: %w", domain, err)
	}
	var ids []string
	for _, t := range txts {
		if !strings.HasPrefix(t, "v=STSv1") {
			continue
		}
		id := ""
		for _, f := range strings.Split(t, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if k == "id" {
				id = v
			}
		}
		ids = append(ids, id)
	}
	if len(ids) != 1 || ids[0] == "" {
		return "", nil
	}
	return ids[0], nil
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// fetch gets and parses the policy file; raw is the file as served.
func (c *Client) fetch(ctx context.Context, domain string) (raw []byte, p *Policy, err error) {
	url := "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("mta-sts policy of %s: %w", domain, err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch mta-sts policy of %s: %w", domain, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("fetch mta-sts policy of %s: HTTP %s", domain, resp.Status)
	}
	// RFC 8461 3.3: the media type is text/plain.
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "text/plain") {
		return nil, nil, fmt.Errorf("fetch mta-sts policy of %s: content type %q", domain, ct)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicySize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read mta-sts policy of %s: %w", domain, err)
	}
	if len(b) > maxPolicySize {
		return nil, nil, fmt.Errorf("mta-sts policy of %s: larger than %d bytes", domain, maxPolicySize)
	}
	if p, err = Parse(b); err != nil {
		return nil, nil, fmt.Errorf("mta-sts policy of %s: %w", domain, err)
	}
	return b, p, nil
}
