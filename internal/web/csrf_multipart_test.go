package web_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/xtramail/xtramail/internal/web"
)

// TestCSRFMultipartTokenFirstStreamsTheRest: a multipart form posted
// without the header carries its token as its first field, as every
// form here does; the check reads only up to it, and the handler still
// reads the whole body, its file byte for byte (it streams uploads to
// storage: ParseMultipartForm before it would hold up to 32 MiB in
// memory). A token later than 64 KiB into the body, a wrong one or none
// is refused before the handler runs.
func TestCSRFMultipartTokenFirstStreamsTheRest(t *testing.T) {
	var got string
	e := newEnv(t, envOptions{mount: func(w *web.Server) {
		w.Handle("POST /test/upload", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			mr, err := r.MultipartReader()
			if err != nil {
				http.Error(rw, err.Error(), 500)
				return
			}
			got = ""
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					http.Error(rw, err.Error(), 500)
					return
				}
				h := sha256.New()
				n, _ := io.Copy(h, p)
				got += fmt.Sprintf("%s:%d:%x;", p.FormName(), n, h.Sum(nil)[:4])
			}
			fmt.Fprint(rw, "ok")
		}))
	}})
	e.addUser(alice, alicePwd)
	b := e.browser()
	token := b.signIn(alice, alicePwd)
	file := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	sum := sha256.Sum256(file)
	post := func(fields ...[2]string) (int, string) {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, f := range fields {
			if f[0] == "files" {
				fw, _ := mw.CreateFormFile("files", "f.bin")
				fw.Write([]byte(f[1]))
				continue
			}
			mw.WriteField(f[0], f[1])
		}
		mw.Close()
		req, _ := http.NewRequest("POST", e.URL+"/test/upload", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, got
	}
	got = ""
	status, seen := post([2]string{"csrf", token}, [2]string{"to", "x"}, [2]string{"files", string(file)})
	if status != http.StatusOK {
		t.Fatalf("token first: %d", status)
	}
	wantFile := fmt.Sprintf("files:%d:%x;", len(file), sum[:4])
	if !bytes.HasPrefix([]byte(seen), []byte("csrf:")) || !bytes.HasSuffix([]byte(seen), []byte(wantFile)) {
		t.Fatalf("the handler read %q, want the csrf field first and the file whole (%s)", seen, wantFile)
	}
	for name, fields := range map[string][][2]string{
		"token after 64 KiB": {{"files", string(file[:100<<10])}, {"csrf", token}},
		"wrong token":        {{"csrf", token + "x"}, {"files", "x"}},
		"no token":           {{"to", "x"}, {"files", "x"}},
	} {
		got = "not run"
		if status, seen := post(fields...); status != http.StatusForbidden || seen != "not run" {
			t.Errorf("%s: %d, handler %q; want 403 and not run", name, status, seen)
		}
	}
}
