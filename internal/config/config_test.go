package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "x.toml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	c := Default()
	err := Load(write(t, `
data = "/var/lib/xtramail"
[capture]
listen = ":2525"
allow = ["10.0.0.0/8", "192.0.2.7"]
read_timeout = "90s"
[retention]
log_days = 30
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "/var/lib/xtramail" || c.Capture.Listen != ":2525" || c.Capture.ReadTimeout.Duration != 90*time.Second || c.Retention.LogDays != 30 {
		t.Fatalf("loaded %+v", c)
	}
	if c.Capture.MaxMessageBytes != 50<<20 || c.Capture.MaxInflightBytes != 1<<30 || c.Retention.Batch != 500 {
		t.Fatal("defaults lost")
	}
	nets, err := c.Capture.AllowNets()
	if err != nil || len(nets) != 2 || nets[1].Bits() != 32 {
		t.Fatalf("nets %v %v", nets, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{`datta = "x"`, `unknown key "datta"`},
		{"[capture]\nlisten = 25", "incompatible types"},
		{"[capture]\nread_timeout = \"soon\"", "invalid duration"},
		{"data = ", "expected value"},
	} {
		c := Default()
		err := Load(write(t, tc.toml), &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q) = %v, want %q", tc.toml, err, tc.want)
		}
	}
}

// TestCaptureAllowRequired guards issue 12 part 3: outside dev mode an
// empty capture.allow is refused by name, while an explicit list, an
// explicit "anyone", dev mode or a disabled listener pass.
func TestCaptureAllowRequired(t *testing.T) {
	c := Default()
	err := c.Validate()
	if !errors.Is(err, ErrCaptureOpen) || !strings.Contains(err.Error(), "capture.allow") {
		t.Fatalf("default config with empty allow: %v, want ErrCaptureOpen naming capture.allow", err)
	}
	for name, mod := range map[string]func(*Config){
		"explicit list":   func(c *Config) { c.Capture.Allow = []string{"192.0.2.0/24"} },
		"explicit anyone": func(c *Config) { c.Capture.Allow = []string{"0.0.0.0/0", "::/0"} },
		"dev mode":        func(c *Config) { c.ApplyDev() },
		"listener off":    func(c *Config) { c.Capture.Listen = "" },
	} {
		c := Default()
		mod(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// From a file, as an operator writes it.
	c = Default()
	if err := Load(write(t, "[capture]\nallow = [\"0.0.0.0/0\", \"::/0\"]\n"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("explicit anyone from a file: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Capture.Allow = nil },
		func(c *Config) { c.Log.Format = "xml" },
		func(c *Config) { c.Log.Level = "loud" },
		func(c *Config) { c.TLS.CertFile = "x.pem" },
		func(c *Config) { c.Capture.Allow = []string{"10.0.0.0/33"} },
		func(c *Config) { c.Retention.Batch = 0 },
		func(c *Config) { c.Capture.MaxInflightBytes = c.Capture.MaxMessageBytes - 1 },
		func(c *Config) { c.Web.SessionIdle.Duration = 0 },
		func(c *Config) { c.Web.SessionMax.Duration = c.Web.SessionIdle.Duration - 1 },
		func(c *Config) { c.Web.ReadHeaderTimeout.Duration = 0 },
		func(c *Config) { c.Web.Listen, c.Web.RedirectListen = "", ":80" },
		func(c *Config) { c.Queue.RouteNetworks = []string{"10.0.0.0/8", "internal.example"} },
	} {
		c := Default()
		c.Capture.Allow = []string{"192.0.2.1"}
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("Validate accepted %+v", c)
		}
	}
}

func TestQueue(t *testing.T) {
	c := Default()
	err := Load(write(t, `
[capture]
allow = ["192.0.2.1"]
[queue]
mode = "relay"
relay_host = "smarthost.example.org"
relay_tls = "implicit"
relay_port = 465
relay_username = "u"
relay_password = "p"
lifetime = "72h"
route_networks = ["10.1.0.0/16", "192.168.7.25"]
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	q := c.Queue
	if q.Mode != "relay" || q.RelayHost != "smarthost.example.org" || q.RelayPort != 465 || q.RelayTLS != "implicit" ||
		q.Lifetime.Duration != 72*time.Hour || q.DelayNotice.Duration != 4*time.Hour || !q.MTASTS {
		t.Fatalf("queue %+v", q)
	}
	if ps, err := q.RoutePrefixes(); err != nil || fmt.Sprint(ps) != "[10.1.0.0/16 192.168.7.25/32]" {
		t.Fatalf("route networks %v, %v", ps, err)
	}
	// Issue 13: through the relay, or with none configured straight to
	// each recipient domain's MX; hold only when asked for.
	for _, tc := range []struct {
		mode, host, want string
	}{{"", "", "mx"}, {"", "smarthost.example.org", "relay"}, {"hold", "", "hold"}, {"mx", "smarthost.example.org", "mx"}} {
		q := Default().Queue
		q.Mode, q.RelayHost = tc.mode, tc.host
		if got := q.EffectiveMode(); got != tc.want {
			t.Errorf("mode %q, relay_host %q: %q, want %q", tc.mode, tc.host, got, tc.want)
		}
		if err := q.validate(); err != nil {
			t.Errorf("mode %q, relay_host %q: %v", tc.mode, tc.host, err)
		}
	}
	if len(Default().Queue.RouteNetworks) != 0 {
		t.Fatal("routes reach special addresses by default")
	}
	dev := Default()
	dev.ApplyDev()
	if ps, _ := dev.Queue.RoutePrefixes(); fmt.Sprint(ps) != "[127.0.0.0/8 ::1/128]" {
		t.Fatalf("dev route networks %v", ps)
	}
	for _, mod := range []func(*Queue){
		func(q *Queue) { q.Mode = "smtp" },
		func(q *Queue) { q.RelayHost = "" },
		func(q *Queue) { q.RelayTLS = "ssl" },
		func(q *Queue) { q.RelayPassword = "" },
		func(q *Queue) { q.MaxBackoff = Duration{time.Second} },
		func(q *Queue) { q.Concurrency = 0 },
	} {
		c2 := c
		mod(&c2.Queue)
		if err := c2.Validate(); err == nil {
			t.Errorf("Validate accepted queue %+v", c2.Queue)
		}
	}
}

// TestIMAPQuota guards the IMAP storage quota keys: a default, a
// per-domain table, and a refused domain name.
func TestIMAPQuota(t *testing.T) {
	c := Default()
	if err := Load(write(t, "[capture]\nallow = [\"192.0.2.0/24\"]\n[imap]\nquota_bytes = 1048576\n[imap.quota_domains]\n\"big.example\" = 5368709120\n\"free.example\" = -1\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.IMAP.QuotaBytes != 1<<20 || c.IMAP.QuotaDomains["big.example"] != 5<<30 || c.IMAP.QuotaDomains["free.example"] != -1 {
		t.Fatalf("quota %d, domains %v", c.IMAP.QuotaBytes, c.IMAP.QuotaDomains)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.IMAP.QuotaDomains = map[string]int64{"Big.Example": 1}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "imap.quota_domains") {
		t.Fatalf("upper-case domain: %v", err)
	}
}

// TestSubmissionListenAuto: submission is on by default on 587 and 465 in
// production once real certificates are configured, off with only the
// self-signed fallback; an address written in the file always wins, "" is
// off, and dev mode uses its loopback ports.
func TestSubmissionListenAuto(t *testing.T) {
	for _, c := range []struct {
		name     string
		toml     string
		dev      bool
		plain, s string
	}{
		{"self-signed only", ``, false, "", ""},
		{"cert files", "[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n", false, ":587", ":465"},
		{"acme", "[tls]\nacme_hosts = [\"mail.example.org\"]\n", false, ":587", ":465"},
		{"explicit without certs", "[submission]\nlisten = \":2587\"\n", false, ":2587", ""},
		{"explicitly off", "[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n[submission]\nlisten_tls = \"\"\n", false, ":587", ""},
		{"dev", ``, true, "127.0.0.1:5587", "127.0.0.1:5465"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			if err := Load(write(t, c.toml), &cfg); err != nil {
				t.Fatal(err)
			}
			if c.dev {
				cfg.ApplyDev()
			}
			if p, s := cfg.SubmissionListen(); p != c.plain || s != c.s {
				t.Errorf("SubmissionListen() = %q, %q; want %q, %q", p, s, c.plain, c.s)
			}
		})
	}
}

func TestFromAliasesValidated(t *testing.T) {
	c := Default()
	if err := Load(write(t, "[capture]\nallow = [\"10.0.0.0/8\"]\n[submission.from_aliases]\n\"a@x.test\" = [\"sales\"]\n"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `submission.from_aliases: "sales" is not an address`) {
		t.Errorf("Validate: %v", err)
	}
}

// TestSMTPKeysInBothSections guards the shared SMTP settings: embedded in
// capture and submission, their keys stand in each section itself (not
// under a "smtp" table), and each section keeps its own values.
func TestSMTPKeysInBothSections(t *testing.T) {
	c := Default()
	err := Load(write(t, `
[capture]
max_message_bytes = 2048
max_recipients = 7
max_conns = 11
max_conns_per_ip = 3
read_timeout = "7s"
write_timeout = "8s"
[submission]
max_message_bytes = 4096
max_recipients = 9
max_conns = 13
max_conns_per_ip = 5
read_timeout = "9s"
write_timeout = "10s"
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]SMTP{
		"capture":    {2048, 7, 11, 3, Duration{7 * time.Second}, Duration{8 * time.Second}},
		"submission": {4096, 9, 13, 5, Duration{9 * time.Second}, Duration{10 * time.Second}},
	}
	if c.Capture.SMTP != want["capture"] || c.Submission.SMTP != want["submission"] {
		t.Fatalf("capture %+v, submission %+v; want %+v", c.Capture.SMTP, c.Submission.SMTP, want)
	}
	if d := Default(); d.Capture.MaxRecipients != 1000 || d.Submission.MaxRecipients != 100 {
		t.Fatalf("default recipient bounds %d, %d; want 1000, 100", d.Capture.MaxRecipients, d.Submission.MaxRecipients)
	}
	c = Default()
	if err := Load(write(t, "[capture.smtp]\nmax_conns = 1\n"), &c); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("[capture.smtp] loaded: %v", err)
	}
}
