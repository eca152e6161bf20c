package webmail

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webmail/compose"
)

// maxFields is what the compose form's fields other than files may
// come to: the text of a long message, the addresses, the subject.
const maxFields = 4 << 20

// newSpool is where a draft or an upload waits while it is written:
// memory up to 256 KiB, then an unlinked file in the spool directory,
// under the service's one in-flight budget (ComposeOptions.Inflight).
func (a *app) newSpool() *smtpserver.Spool {
	b := a.opt.Compose.Inflight
	if b == nil {
		// A webmail built without the service (unit tests): a budget
		// of its own, never spent.
		b = smtpserver.NewBudget(math.MaxInt64)
	}
	return smtpserver.NewSpool(a.opt.Compose.SpoolDir, b)
}

// readForm reads the compose form as it arrives. The text fields are
// kept (at most maxFields); each file is streamed into a spool, counted
// as it is read, and the read stops as soon as the files pass the
// attachment limit: the answer is then 413, naming the limit. The files
// count against acct's share of the in-flight budget. The caller closes
// the form (draftForm.close) when done with it.
func (c *composer) readForm(w http.ResponseWriter, r *http.Request, acct store.Account) (draftForm, error) {
	f := draftForm{Remove: map[int]bool{}}
	limit := c.maxAttachmentBytes()
	r.Body = http.MaxBytesReader(w, r.Body, limit+maxFields+(1<<20))
	vals := url.Values{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return f, &errForm{msg: "The form could not be read. Try again."}
		}
		vals = r.PostForm
	} else {
		mr, err := r.MultipartReader()
		if err != nil {
			return f, &errForm{msg: "The form could not be read. Try again."}
		}
		var fieldBytes, fileBytes int64
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return f, c.formReadErr(err)
			}
			name := p.FormName()
			if p.FileName() == "" && name != "files" {
				b, err := io.ReadAll(io.LimitReader(p, maxFields-fieldBytes+1))
				if err != nil {
					return f, c.formReadErr(err)
				}
				if fieldBytes += int64(len(b)); fieldBytes > maxFields {
					return f, &errForm{msg: "The message is too long to save.", status: http.StatusRequestEntityTooLarge}
				}
				vals.Add(name, string(b))
				continue
			}
			if name != "files" || p.FileName() == "" {
				continue // an empty file input, or a stray file: skipped
			}
			// Held by the account (smtpserver.Budget): its uploads, as
			// slow as its browser's link, take at most its share.
			sp := c.newSpool().For(acct.Address)
			f.spools = append(f.spools, sp)
			n, err := io.Copy(sp, io.LimitReader(p, limit-fileBytes+1))
			fileBytes += n
			if errors.Is(err, smtpserver.ErrBudget) {
				return f, busy(err)
			}
			if err != nil {
				return f, c.formReadErr(err)
			}
			if fileBytes > limit {
				return f, c.tooMuch(0)
			}
			f.Uploads = append(f.Uploads, compose.Attachment{Filename: p.FileName(),
				ContentType: uploadType(p.Header.Get("Content-Type"), p.FileName()), Body: sp.Reader(), Size: n})
		}
	}
	if v := vals.Get("draft"); v != "" && v != "0" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return f, fmt.Errorf("draft id %q: %w", v, store.ErrNotFound)
		}
		f.DraftID = id
	}
	if vals.Get("asnew") != "" {
		// "Save as a new draft": the draft named (or the page key's)
		// was sent or deleted. The new one takes a key of its own,
		// which the answer gives the page.
		f.DraftID, f.Key = 0, newDraftKey()
	} else if k := vals.Get("key"); validDraftKey(k) {
		f.Key = k
	}
	f.Source = vals.Get("source")
	f.To, f.Cc, f.Bcc = vals.Get("to"), vals.Get("cc"), vals.Get("bcc")
	// A browser strips line breaks from a one-line field (HTML's value
	// sanitization); a hand-made post gets the same, so that no reader
	// shows a Subject of several lines.
	f.Subject = strings.NewReplacer("\r", "", "\n", "").Replace(vals.Get("subject"))
	f.Text = vals.Get("text")
	for _, v := range vals["remove"] {
		if i, err := strconv.Atoi(v); err == nil {
			f.Remove[i] = true
		}
	}
	return f, nil
}

// formReadErr is the answer to a form whose body could not be read: too
// large (the request's own limit), or cut off.
func (c *composer) formReadErr(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return c.tooMuch(0)
	}
	return &errForm{msg: "The form could not be read. Try again."}
}

// busy is the answer when the service's in-flight budget is spent for
// now.
func busy(err error) *errForm {
	msg := "The server is busy receiving other mail. Your draft was not saved; try again in a moment."
	if errors.Is(err, smtpserver.ErrShare) {
		msg = "Your other uploads and messages are still arriving. Your draft was not saved; try again when they are done."
	}
	return &errForm{msg: msg, status: http.StatusServiceUnavailable}
}

// newDraftKey is a compose page's key: 128 random bits, base64url.
func newDraftKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validDraftKey: k is newDraftKey's form; another is not kept, as the
// store would keep whatever a form sent.
func validDraftKey(k string) bool {
	b, err := base64.RawURLEncoding.DecodeString(k)
	return err == nil && len(b) == 16
}
