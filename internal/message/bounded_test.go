package message

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestInfoBounded: what Parse keeps of a message does not grow with the
// message. A 39 MB Subject used to be kept whole in the Envelope (the
// capture listener's RSS rose by 250 MB storing it), and a 34 MB message
// embedding 1,500 messages of 6,000 addresses each kept 9 million
// addresses (2 GB) in one Info; the store caches thousands of Infos.
func TestInfoBounded(t *testing.T) {
	t.Run("long values", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Subject: " + strings.Repeat("é", 1<<20) + "\r\n")
		b.WriteString("Message-ID: <" + strings.Repeat("m", 1<<20) + "@x>\r\n")
		b.WriteString("References:")
		for i := range 20000 {
			b.WriteString(" <ref" + itoa(i) + "@example.test>")
		}
		b.WriteString("\r\nContent-Type: text/plain; name=\"" + strings.Repeat("n", 1<<20) + "\"\r\n\r\nbody\r\n")
		raw := []byte(b.String())
		info := Parse(raw)
		checkInvariants(t, raw, info)
		env := info.Envelope
		for name, v := range map[string]string{"Subject": env.Subject, "Message-ID": env.MessageID, "filename": info.Part.Filename} {
			if len(v) > 2*maxFieldValue {
				t.Errorf("%s kept %d bytes", name, len(v))
			}
		}
		// Cut at a character, not inside one: read as UTF-8 still.
		if !utf8.ValidString(env.Subject) || !strings.HasPrefix(env.Subject, "éé") || strings.Contains(env.Subject, "Ã") {
			t.Errorf("Subject cut inside a character: %q...", env.Subject[:20])
		}
		if n := len(info.References); n == 0 || info.References[n-1] != "ref19999@example.test" {
			t.Errorf("References lost the newest id: %d ids, last %q", n, info.References[max(n-1, 0):])
		}
		if !hasProblem(info, "cut") {
			t.Errorf("no problem noted: %q", info.Problems)
		}
	})
	t.Run("embedded addresses", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Subject: bomb\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n")
		to := "To: " + strings.Repeat("a@b,", 3000) + "\r\n"
		for range 300 {
			b.WriteString("--bb\r\nContent-Type: message/rfc822\r\n\r\n" + to + strings.Replace(to, "To:", "Cc:", 1) + "\r\nx\r\n")
		}
		b.WriteString("--bb--\r\n")
		raw := []byte(b.String())
		info := Parse(raw)
		checkInvariants(t, raw, info)
		n := 0
		for _, p := range info.Part.Parts {
			if p.Message != nil {
				n += len(p.Message.Envelope.To) + len(p.Message.Envelope.Cc)
			}
		}
		if n > maxAddrs {
			t.Errorf("embedded envelopes keep %d addresses, want at most %d", n, maxAddrs)
		}
		js, err := json.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		if len(js) > 2<<20 {
			t.Errorf("Info of a %d-byte message is %d bytes of JSON", len(raw), len(js))
		}
		// The message's own addresses keep their own limit.
		raw = append([]byte("To: x@y, z@w\r\n"), raw...)
		if info := Parse(raw); len(info.Envelope.To) != 2 {
			t.Errorf("top-level To: %v", info.Envelope.To)
		}
	})
}

// TestPartFieldsBounded: the fields of parts and embedded messages share
// one budget; past it each keeps a little, Content-Type enough for its
// boundary. 7,000 embedded messages with 6 KB of fields each took 165
// MB to store.
func TestPartFieldsBounded(t *testing.T) {
	part := "--bb\r\nContent-Type: message/rfc822\r\nContent-Description: " + strings.Repeat("d", 1000) +
		"\r\n\r\nSubject: " + strings.Repeat("s", 4000) + "\r\nMessage-ID: <" + strings.Repeat("m", 1000) + "@x>\r\n\r\nx\r\n"
	last := "--bb\r\nContent-Type: multipart/alternative; x=\"" + strings.Repeat("x", 300) + "\"; boundary=cc\r\n\r\n" +
		"--cc\r\n\r\none\r\n--cc\r\n\r\ntwo\r\n--cc--\r\n"
	raw := []byte("Subject: " + strings.Repeat("top ", 1000) + "\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n" +
		strings.Repeat(part, 2000) + last + "--bb--\r\n")
	info := Parse(raw)
	checkInvariants(t, raw, info)
	js, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if len(js) > 2<<20 {
		t.Errorf("Info of a %d-byte message is %d bytes of JSON", len(raw), len(js))
	}
	if len(info.Envelope.Subject) != 4000-1 {
		t.Errorf("the message's own Subject cut: %d bytes", len(info.Envelope.Subject))
	}
	parts := info.Part.Parts
	if p := parts[len(parts)-1]; len(p.Parts) != 2 {
		t.Errorf("structure of the last part lost: %d children, Content-Type params %q", len(p.Parts), p.Params)
	}
	if first := parts[0].Message.Envelope.Subject; len(first) != 4000 {
		t.Errorf("first embedded Subject: %d bytes", len(first))
	}
}

func TestListsBounded(t *testing.T) {
	// 10,000 parts of 100 parameters twice and 100 languages: 300 MB of
	// Info for a 14 MB message before.
	raw := []byte(paramBomb(10000))
	info := Parse(raw)
	checkInvariants(t, raw, info)
	n := 0
	for _, p := range info.Part.Parts {
		n += len(p.Params) + len(p.DispositionParams) + len(p.Language)
	}
	if n > maxListItems+minListItems*3*len(info.Part.Parts) {
		t.Errorf("%d parameters and languages kept", n)
	}
	if last := info.Part.Parts[len(info.Part.Parts)-1]; len(last.Params) != minListItems || last.Param("p0") != "v" {
		t.Errorf("last part keeps %v", last.Params)
	}
	if !hasProblem(info, "parameters") {
		t.Errorf("no problem noted: %q", info.Problems)
	}
}

// paramBomb is a message of n parts, each with 100 Content-Type and 100
// Content-Disposition parameters and 100 languages.
func paramBomb(n int) string {
	var ps []string
	for i := range 100 {
		ps = append(ps, "p"+itoa(i)+"=v")
	}
	params := strings.Join(ps, ";")
	part := "--bb\r\nContent-Type: text/plain; " + params + "\r\nContent-Disposition: attachment; " + params +
		"\r\nContent-Language: " + strings.Repeat("en,", 100) + "\r\n\r\nx\r\n"
	return "Subject: parameters\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n" + strings.Repeat(part, n) + "--bb--\r\n"
}

func hasProblem(info *Info, word string) bool {
	for _, p := range info.Problems {
		if strings.Contains(p, word) {
			return true
		}
	}
	return false
}
