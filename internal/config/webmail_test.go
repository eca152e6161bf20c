package config

import (
	"strings"
	"testing"
	"time"
)

// TestWebmailUndoSend: the undo window defaults to 10 s, is read from
// [webmail], and a value past 2 minutes or negative is refused by name.
func TestWebmailUndoSend(t *testing.T) {
	if d := Default().Webmail.UndoSend.Duration; d != 10*time.Second {
		t.Fatalf("default undo_send %s", d)
	}
	c := Default()
	if err := Load(write(t, "[webmail]\nundo_send = \"30s\"\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Webmail.UndoSend.Duration != 30*time.Second {
		t.Fatalf("loaded %s", c.Webmail.UndoSend.Duration)
	}
	for _, v := range []string{"5m", "-1s"} {
		c := Default()
		err := Load(write(t, "[webmail]\nundo_send = \""+v+"\"\n"), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "webmail.undo_send") {
			t.Errorf("undo_send %s: %v", v, err)
		}
	}
}
