package submission

import (
	"errors"
	"testing"
)

func TestStripUnsent(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"From: a\r\nTo: b\r\n\r\nBcc: body line\r\n", "From: a\r\nTo: b\r\n\r\nBcc: body line\r\n"},
		{"From: a\r\nBcc: x@y,\r\n z@y\r\nTo: b\r\n\r\nbody\r\n", "From: a\r\nTo: b\r\n\r\nbody\r\n"},
		{"BCC: x\r\nSubject: s\r\n folded\r\n\r\nb\r\n", "Subject: s\r\n folded\r\n\r\nb\r\n"},
		{"Subject: s\r\n bcc: not a field\r\nbcc : x\r\n\r\n", "Subject: s\r\n bcc: not a field\r\n\r\n"},
		{"Subject: only a header\r\nBcc: x\r\n", "Subject: only a header\r\n"},
		{"X-Bcc-Note: kept\r\n\r\n", "X-Bcc-Note: kept\r\n\r\n"},
		{"Return-Path: <f@x>\r\nFrom: a\r\nreturn-path : <g@x>\r\n\r\nReturn-Path: body\r\n", "From: a\r\n\r\nReturn-Path: body\r\n"},
		{"X-Return-Path: kept\r\nReceived: kept\r\n\r\n", "X-Return-Path: kept\r\nReceived: kept\r\n\r\n"},
	} {
		got, stripped := stripUnsent([]byte(c.in))
		if string(got) != c.want || stripped != (c.in != c.want) {
			t.Errorf("stripUnsent(%q) = %q, %v; want %q", c.in, got, stripped, c.want)
		}
	}
}

func TestLoginServer(t *testing.T) {
	var gotUser, gotPass string
	check := func(u, p string) error {
		gotUser, gotPass = u, p
		if p != "pw" {
			return errors.New("bad")
		}
		return nil
	}
	s := newLoginServer(check)
	if ch, done, err := s.Next(nil); string(ch) != "Username:" || done || err != nil {
		t.Fatalf("first: %q %v %v", ch, done, err)
	}
	if ch, done, err := s.Next([]byte("u@x")); string(ch) != "Password:" || done || err != nil {
		t.Fatalf("second: %q %v %v", ch, done, err)
	}
	if _, done, err := s.Next([]byte("pw")); !done || err != nil || gotUser != "u@x" || gotPass != "pw" {
		t.Fatalf("third: %v %v %q %q", done, err, gotUser, gotPass)
	}
	if _, _, err := s.Next([]byte("more")); err == nil {
		t.Errorf("a fourth response was accepted")
	}
	// Initial response is the username; a wrong password fails.
	s = newLoginServer(check)
	if ch, _, _ := s.Next([]byte("v@x")); string(ch) != "Password:" {
		t.Fatalf("initial response: challenge %q", ch)
	}
	if _, _, err := s.Next([]byte("wrong")); err == nil || gotUser != "v@x" {
		t.Errorf("wrong password accepted (%v) or user %q", err, gotUser)
	}
}
