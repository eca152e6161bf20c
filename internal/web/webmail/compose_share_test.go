package webmail_test

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/testserver"
)

// TestUploadsHeldToTheAccountsShare: the files a user uploads count
// against their account's share of the service's in-flight budget, as
// their submissions and APPENDs do. One user whose browser stalls in a
// large upload, and who starts another, gets "your other uploads are
// still arriving" once they hold their share, while another user's
// upload is saved. Before, the uploads were no one's: one user's
// stalled uploads could take the whole budget, and everyone's mail
// with it.
func TestUploadsHeldToTheAccountsShare(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{
		Users: map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) {
			// The share is what the largest message needs, 51.6 MiB
			// (IMAP's 50 MiB APPEND): bob's two uploads pass it, and
			// without the share they leave eve too little for her
			// upload and the draft it is written into (base64).
			c.Capture.MaxInflightBytes = 112 * mib
			c.Submission.MaxMessageBytes = 50 * mib
		},
	})
	const size = 34 * mib
	bobc := signIn(t, srv, bob, bobPw)

	// Bob's first upload sends its file and stalls before the end of
	// the form: the server holds what it read of it.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	sent := make(chan error, 1)
	go func() {
		fw, err := mw.CreateFormFile("files", "first.bin")
		if err == nil {
			_, err = fileOf(fw, size, 1)
		}
		sent <- err
	}()
	req, err := http.NewRequest("POST", srv.Web+"/compose/save", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-CSRF-Token", bobc.csrf)
	req.Header.Set("HX-Request", "true")
	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		if resp, err := bobc.c.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	defer func() {
		pw.CloseWithError(errors.New("the test ends the stalled upload"))
		<-stalled
	}()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("bob's first file was not read")
	}

	resp, body, _ := bobc.postStream("/compose/save", map[string]string{"to": "carol@example.org", "subject": "second"}, "second.bin", size, 2)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Your other uploads and messages are still arriving") {
		t.Fatalf("bob's second upload while the first stalls: %s\n%.500s", resp.Status, body)
	}
	evec := signIn(t, srv, eve, evePw)
	resp, body, _ = evec.postStream("/compose/save", map[string]string{"to": "carol@example.org", "subject": "eve's"}, "eve.bin", 20*mib, 3)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "eve.bin") {
		t.Fatalf("eve's upload while bob's stalls: %s\n%.500s", resp.Status, body)
	}
}
