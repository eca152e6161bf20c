package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestCLITenancy drives the tenant, administrator, token and usage
// commands of the built binary (issue 15 part 6): exit codes and what an
// operator reads.
func TestCLITenancy(t *testing.T) {
	data := t.TempDir()
	d := func(args ...string) []string { return append(args, "--data", "$DATA") }
	const pw = "correct horse battery\n"
	runCases(t, data, []cliCase{
		// The tree.
		{args: d("reseller", "add", "Acme Partners"), stdout: []string{`reseller 1 "Acme Partners" added`}},
		{args: d("reseller", "add", "acme partners"), code: 1, stderr: []string{"already exists"}},
		{args: d("reseller", "add", " "), code: 1, stderr: []string{"name: a name is required"}},
		{args: d("customer", "add", "Globex", "--reseller", "Acme Partners"), stdout: []string{`customer 2 "Globex" added under reseller 1`}},
		{args: d("customer", "add", "Direct Co"), stdout: []string{`customer 3 "Direct Co" added under the provider`}},
		{args: d("customer", "add", "X", "--reseller", "nope"), code: 1, stderr: []string{`reseller "nope"`, "not found"}},
		{args: d("domain", "add", "globex.test", "--customer", "Globex"), stdout: []string{"domain globex.test added"}},
		{args: d("domain", "add", "legacy.test"), stdout: []string{"domain legacy.test added"}},
		{args: d("domain", "add", "other.test", "--customer", "99"), code: 1, stderr: []string{`customer "99"`, "not found"}},
		{args: d("customer", "list"), stdout: []string{"CUSTOMER", "Globex     1         globex.test", "default", "legacy.test", "Direct Co"}},
		{args: d("customer", "list", "--reseller", "1", "--json"), stdout: []string{`"name": "Globex"`, `"domains": [`}, notOut: []string{"Direct Co"}},
		{args: d("reseller", "list"), stdout: []string{"Acme Partners  1 "}},
		{args: d("domain", "list", "--json"), stdout: []string{`"customer_id": 2`, `"whole_domain": false`}},
		{args: d("domain", "set", "globex.test", "--whole-domain", "on", "--relay", "MX.globex.test:2525", "--allow-ips", "192.0.2.7, 198.51.100.0/24"),
			stdout: []string{"whole domain on, relay mx.globex.test:2525, allowed upstream IPs 192.0.2.7, 198.51.100.0/24"}},
		{args: d("domain", "set", "globex.test", "--allow-ips", "nonsense"), code: 1, stderr: []string{"allowed_ips", `"nonsense"`}},
		{args: d("domain", "set", "globex.test", "--relay", "mx.globex.test:notaport"), code: 1, stderr: []string{"relay_host", `"notaport" is not a number`}},
		{args: d("domain", "set", "globex.test", "--whole-domain", "maybe"), code: 2, stderr: []string{"on or off"}},
		{args: d("domain", "set", "globex.test"), code: 2, stderr: []string{"needs --whole-domain"}},
		{args: d("domain", "set", "globex.test", "--relay", "none"), stdout: []string{"relay -"}},
		{args: d("domain", "set", "globex.test", "--continuity-only=true"), stdout: []string{"whole domain on", "continuity only true"}},
		{args: d("domain", "list", "--json"), stdout: []string{`"continuity_only": true`, `"whole_domain": true`}},
		{args: d("domain", "set", "globex.test", "--continuity-only=false", "--relay", "mx.globex.test"), stdout: []string{"whole domain on", "continuity only false"}},
		{args: d("domain", "set", "globex.test", "--continuity-only=maybe"), code: 2, stderr: []string{"--continuity-only takes true or false"}},
		{args: d("domain", "set", "globex.test", "--recipient-delimiter", "+-"), stdout: []string{"continuity only false", "recipient delimiter +-"}},
		{args: d("domain", "list", "--json"), stdout: []string{`"recipient_delimiter": "+-"`}},
		{args: d("domain", "set", "globex.test", "--recipient-delimiter", "none"), stdout: []string{"recipient delimiter none"}},
		{args: d("domain", "set", "globex.test", "--recipient-delimiter", "."), code: 1, stderr: []string{"recipient_delimiter", "+ - _ ="}},
		{args: d("domain", "set", "globex.test", "--recipient-delimiter", "-"), stdout: []string{"recipient delimiter -\n"}},
		{args: d("user", "add", "ann@globex.test", "--password-stdin"), stdin: pw, stdout: []string{"ann@globex.test protected (password set)"}},
		{args: d("user", "add", "bea@globex.test", "--password-stdin"), stdin: "bea@globex.test\n", code: 1, stderr: []string{"password: must not be the address"}},

		// Administrators.
		{args: d("admin", "create", "Boss@Provider.test"), code: 2, stderr: []string{"needs --password-stdin"}},
		{args: d("admin", "create", "boss@provider.test", "--password-stdin"), stdin: "short\n", code: 1, stderr: []string{"password: at least 8 characters"}},
		{args: d("admin", "create", "Boss@Provider.test", "--password-stdin"), stdin: pw, stdout: []string{"provider administrator boss@provider.test created"}},
		{args: d("admin", "create", "boss@provider.test", "--password-stdin"), stdin: pw, code: 1, stderr: []string{"already exists"}},
		{args: d("admin", "add", "ops@globex.test", "--customer", "Globex", "--password-stdin"), stdin: pw, stdout: []string{"customer administrator ops@globex.test added (customer 2)"}},
		{args: d("admin", "add", "sales@acme.test", "--reseller", "1", "--password-stdin"), stdin: pw, stdout: []string{"reseller administrator sales@acme.test added (reseller 1)"}},
		{args: d("admin", "add", "x@acme.test", "--reseller", "1", "--customer", "2", "--password-stdin"), stdin: pw, code: 2, stderr: []string{"exactly one of"}},
		{args: d("admin", "add", "x@acme.test", "--customer", "Nobody", "--password-stdin"), stdin: pw, code: 1, stderr: []string{"not found"}},
		{args: d("admin", "add", "x@acme.test", "--customer", "Globex"), code: 2, stderr: []string{"admin add needs --password-stdin"}},
		{args: d("admin", "add", "cto@provider.test", "--provider", "--password-stdin"), stdin: pw, stdout: []string{"provider administrator cto@provider.test added\n"}},
		{args: d("admin", "list"), stdout: []string{"boss@provider.test  provider", "ops@globex.test", "customer  2 ", "4 administrators"}},
		{args: d("admin", "list", "--json"), stdout: []string{`"role": "reseller"`, `"totp": false`}},
		{args: d("admin", "passwd", "ops@globex.test", "--password-stdin"), stdin: "another good one\n", stdout: []string{"password of administrator ops@globex.test changed"}},
		{args: d("admin", "disable", "ops@globex.test"), stdout: []string{"administrator ops@globex.test disabled"}},
		{args: d("admin", "list"), stdout: []string{"disabled"}},
		{args: d("admin", "enable", "ops@globex.test"), stdout: []string{"administrator ops@globex.test enabled"}},
		{args: d("admin", "totp-reset", "ops@globex.test"), stdout: []string{"second factors of ops@globex.test removed"}},
		{args: d("admin", "remove", "nobody@x.test"), code: 1, stderr: []string{"not found"}},

		// API tokens.
		{args: d("token", "create", "ci"), code: 2, stderr: []string{"needs --admin EMAIL"}},
		{args: d("token", "create", "ci", "--admin", "ops@globex.test", "--expires", "soon"), code: 2, stderr: []string{`--expires "soon"`}},
		{args: d("token", "create", "ci", "--admin", "ops@globex.test", "--expires", "30d"), stdout: []string{"xtm_"},
			stderr: []string{`token 1 "ci" for ops@globex.test (customer role), expires`, "shown only now"}},
		{args: d("token", "create", "forever", "--admin", "boss@provider.test", "--expires", "never"), stderr: []string{"never expires"}},
		{args: d("token", "list"), stdout: []string{"ci       ops@globex.test", "never", "active"}, notOut: []string{"xtm_"}},
		{args: d("token", "revoke", "1"), stdout: []string{"token 1 revoked"}},
		{args: d("token", "revoke", "99"), code: 1, stderr: []string{"not found"}},
		{args: d("token", "revoke", "abc"), code: 2, stderr: []string{"not a token id"}},
		{args: d("token", "list", "--json"), stdout: []string{`"revoked": true`, `"admin": "boss@provider.test"`}},
		{args: d("admin", "remove", "ops@globex.test"), stdout: []string{"administrator ops@globex.test removed with their API tokens"}},
		{args: d("admin", "list"), notOut: []string{"ops@globex.test"}},

		// Usage for billing.
		{args: d("usage", "--snapshot", "--monthly"), stdout: []string{"month,customer_id,customer,reseller_id,protected_addresses", ",2,Globex,1,1"}},
		{args: d("usage", "--json"), stdout: []string{`"customer": "Globex"`, `"protected_addresses": 1`}},
		{args: d("usage", "--from", "2026-13-01"), code: 2, stderr: []string{"--from"}},
		{args: d("usage", "--from", "2026-12-05", "--to", "2026-12-01"), code: 2, stderr: []string{"before --from"}},

		// Removing in order.
		{args: d("customer", "list"), stdout: []string{"Globex"}},
		{args: d("domain", "remove", "globex.test"), code: 1, stderr: []string{"has 1 address"}},
	})
	// The printed token has the documented form.
	code, out, _ := xtBin(t, "", "token", "create", "again", "--admin", "boss@provider.test", "--data", data)
	if code != 0 || !regexp.MustCompile(`^xtm_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Errorf("token create printed %q (exit %d)", out, code)
	}
	// Every change above is in the audit log, as the command line.
	code, out, errOut := xtBin(t, "", "audit", "search", "--actor", "cli", "--data", data)
	if code != 0 || !strings.Contains(out, "admin.add") || !strings.Contains(out, "token.revoke") || !strings.Contains(out, "domain.settings") {
		t.Errorf("audit search: exit %d\n%s\n%s", code, out, errOut)
	}
}
