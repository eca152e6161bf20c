package composebrowser_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// savesProxy is an HTTPS reverse proxy in front of the web listener (the
// browser goes through it, one origin) that records every draft save
// (POST /compose/save): the files and text it carried, and when the
// server had answered it. Armed, it holds the next save of a kind (with
// files or without) before the server sees it, until the test releases
// it: that save stays in flight for as long as the test needs, whatever
// the machine's speed. Told to fail saves with files (or every save), it
// answers them itself, never forwarding them, until told to stop: 502
// as a proxy whose upstream failed, 503, or a connection dropped before
// any answer. A save both held and failed fails once released.
type savesProxy struct {
	URL string

	mu      sync.Mutex
	armed   bool
	files   bool // what is armed for: a save with files, or one without
	release chan struct{}
	once    sync.Once
	fail    failure // how saves with files fail, "": they go through
	failAll bool    // saves without files fail as fail too
	// lose armed: the next save with files (loseFiles) or without is
	// forwarded, and the server's answer dropped (LoseNext).
	lose, loseFiles bool
	saves           []save
}

// failure is how the proxy fails a save: failBadGateway or failDrop.
type failure string

const (
	failBadGateway failure = "502"     // answered 502 Bad Gateway
	failBusy       failure = "503"     // answered 503 by the proxy: not the draft state
	failDrop       failure = "dropped" // the stream reset, no answer
)

// save is one POST /compose/save as the proxy forwarded it.
type save struct {
	files []string // names of the file parts with a file
	text  string
	held  bool
	done  bool    // the server (or the proxy, failing it) has answered it
	fail  failure // how the proxy failed it instead of forwarding it
	lost  bool    // the server answered it; the proxy dropped the answer
	draft string  // the draft id it named
}

func newSavesProxy(t *testing.T, srv *testserver.Server) *savesProxy {
	t.Helper()
	target, err := url.Parse(srv.Web)
	if err != nil {
		t.Fatal(err)
	}
	p := &savesProxy{release: make(chan struct{})}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// The server sees the browser's origin: its same-origin
			// checks and redirects stay those of a direct visit.
			r.Out.Host = r.In.Host
		},
		Transport: srv.HTTPClient().Transport,
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/compose/save" {
			rp.ServeHTTP(w, r)
			return
		}
		i, held, ok := p.record(t, r)
		if !ok {
			http.Error(w, "unreadable save", http.StatusBadRequest)
			return
		}
		if held {
			select {
			case <-p.release:
			case <-r.Context().Done():
			}
		}
		if p.Saves()[i].lost {
			// Stored, and the answer lost on its way back (a
			// connection dropped after the commit, a proxy's
			// timeout): the browser gets no answer.
			rp.ServeHTTP(httptest.NewRecorder(), r)
			p.mu.Lock()
			p.saves[i].done = true
			p.mu.Unlock()
			panic(http.ErrAbortHandler)
		}
		if f := p.Saves()[i].fail; f != "" {
			p.mu.Lock()
			p.saves[i].done = true
			p.mu.Unlock()
			switch f {
			case failDrop:
				// HTTP/2: the stream is reset, the browser gets no
				// answer (XHR's "error").
				panic(http.ErrAbortHandler)
			case failBusy:
				http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			default:
				http.Error(w, "upstream unreachable", http.StatusBadGateway)
			}
			return
		}
		rp.ServeHTTP(w, r)
		p.mu.Lock()
		p.saves[i].done = true
		p.mu.Unlock()
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{webtest.Cert(t)}}
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	t.Cleanup(p.Release) // before Close: no handler stays blocked
	p.URL = ts.URL
	return p
}

// record reads a save's form (and gives the request its body back),
// notes it, and decides whether to hold it; it returns its index and
// whether to hold it.
func (p *savesProxy) record(t *testing.T, r *http.Request) (i int, held, ok bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("proxy: read a save: %v", err)
		return 0, false, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var s save
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		t.Errorf("proxy: a save that is not multipart: %q", r.Header.Get("Content-Type"))
		return 0, false, false
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("proxy: a save's form: %v", err)
			return 0, false, false
		}
		switch {
		case part.FormName() == "files" && part.FileName() != "":
			s.files = append(s.files, part.FileName())
		case part.FormName() == "text":
			b, _ := io.ReadAll(part)
			s.text = strings.TrimSpace(strings.ReplaceAll(string(b), "\r\n", "\n"))
		case part.FormName() == "draft":
			b, _ := io.ReadAll(part)
			s.draft = string(b)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(s.files) > 0 || p.failAll {
		s.fail = p.fail
	}
	if p.armed && p.files == (len(s.files) > 0) {
		p.armed, s.held = false, true
	}
	if p.lose && p.loseFiles == (len(s.files) > 0) {
		p.lose, s.lost = false, true
	}
	p.saves = append(p.saves, s)
	return len(p.saves) - 1, s.held, true
}

// Hold arms the proxy: the next save with files (withFiles) or without
// is held.
func (p *savesProxy) Hold(withFiles bool) {
	p.mu.Lock()
	p.armed, p.files = true, withFiles
	p.mu.Unlock()
}

// LoseNext arms the proxy: the next save with files (withFiles) or
// without reaches the server, which stores it, and its answer is lost.
func (p *savesProxy) LoseNext(withFiles bool) {
	p.mu.Lock()
	p.lose, p.loseFiles = true, withFiles
	p.mu.Unlock()
}

// Fail makes every save with files fail as f, without reaching the
// server, until Fail(""): the page's retries fail too, for as long as
// the test looks at the failure.
func (p *savesProxy) Fail(f failure) {
	p.mu.Lock()
	p.fail, p.failAll = f, false
	p.mu.Unlock()
}

// FailAll makes every save fail as f, with files or without, until
// FailAll("") or Fail("").
func (p *savesProxy) FailAll(f failure) {
	p.mu.Lock()
	p.fail, p.failAll = f, true
	p.mu.Unlock()
}

// WaitHeld waits until a save is held and returns it.
func (p *savesProxy) WaitHeld(t *testing.T) save {
	t.Helper()
	var held save
	waitFor(t, "a save to be held", func() bool {
		for _, s := range p.Saves() {
			if s.held {
				held = s
				return true
			}
		}
		return false
	})
	return held
}

// Release lets the held save through (once).
func (p *savesProxy) Release() { p.once.Do(func() { close(p.release) }) }

// Saves returns the saves so far.
func (p *savesProxy) Saves() []save {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.saves)
}

// watchSaves adds listeners that count, on the page, the saves handed
// to htmx (htmx:confirm, before its hx-sync queue) by what triggered
// them, and the saves that ended (htmx:afterRequest): what the test waits
// on, since a save queued behind one in flight sends nothing yet.
const watchSaves = `(() => {
	const form = document.getElementById("compose-form");
	window.saves = {filesTriggered: 0, textTriggered: 0, ended: 0};
	form.addEventListener("htmx:confirm", e => {
		const ev = e.detail.triggeringEvent;
		if (ev && ev.target === document.getElementById("files")) window.saves.filesTriggered++;
		else if (ev && ev.target === document.getElementById("text")) window.saves.textTriggered++;
	});
	form.addEventListener("htmx:afterRequest", () => window.saves.ended++);
	return true;
})()`

// typeText inserts text at the end of the message field as one input
// event (Input.insertText, as an input method does): one autosave,
// 1.5 s later, whatever the machine's speed, where key by key typing
// on a loaded machine may start one per pause.
func typeText(tab *webtest.Tab, text string) {
	tab.Do(chromedp.Focus(chromedp.CSS("#text")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := chromedp.Evaluate[bool](`(t => { t.setSelectionRange(t.value.length, t.value.length); return true })(document.getElementById("text"))`)(ctx, tg); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}))
}

// draftFiles returns the attachments of the account's one draft, name →
// content, read from the store, and the draft's text.
func draftFiles(t *testing.T, srv *testserver.Server, addr string) (map[string][]byte, string) {
	t.Helper()
	bodies := srv.Bodies(t, addr, store.Drafts)
	if len(bodies) != 1 {
		t.Fatalf("%d drafts in Drafts, want 1", len(bodies))
	}
	for _, raw := range bodies {
		return partsOf(t, raw) // the one
	}
	return nil, ""
}

// partsOf returns a message's files by name (each must be there once)
// and its text.
func partsOf(t *testing.T, raw []byte) (map[string][]byte, string) {
	t.Helper()
	files := map[string][]byte{}
	var text string
	for _, p := range message.Parse(raw).Part.Leaves() {
		b, err := message.Decode(raw, p)
		if err != nil {
			t.Fatalf("the message's part %s/%s: %v", p.Type, p.Subtype, err)
		}
		if p.Filename == "" {
			text += string(b)
			continue
		}
		if _, dup := files[p.Filename]; dup {
			t.Errorf("the message has %s twice", p.Filename)
		}
		files[p.Filename] = b
	}
	return files, text
}

// chooseFiles writes random files named names to a directory of the
// test's and returns their paths and contents by name.
func chooseFiles(t *testing.T, sizes map[string]int, names ...string) ([]string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	want := map[string][]byte{}
	for _, name := range names {
		p := randomFile(t, dir, name, sizes[name])
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		want[name] = b
	}
	return paths, want
}

var fileSizes = map[string]int{
	"floor-plan.pdf":   90 << 10,
	"site photo 2.jpg": 70 << 10,
	"site photo 3.jpg": 80 << 10,
	"lease.pdf":        60 << 10,
}

// openCompose signs bob in through a savesProxy and opens compose with
// To, Subject and text filled without events (chromedp.SetValue sends
// input and change: saves of their own), so that no save has started;
// the page counts its saves (watchSaves).
func openCompose(t *testing.T, text string) (*testserver.Server, *savesProxy, *webtest.Tab) {
	t.Helper()
	return openComposeIn(t, "", text)
}

// openComposeIn is openCompose with the server's data directory data
// ("": a new one).
func openComposeIn(t *testing.T, data, text string) (*testserver.Server, *savesProxy, *webtest.Tab) {
	t.Helper()
	tlsCfg := webtest.ServerTLS(t)
	srv := testserver.Start(t, testserver.Options{
		Users:     map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) { tlsCfg(c) },
		Data:      data,
	})
	px := newSavesProxy(t, srv)
	tab := webtest.NewTab(t)
	tab.SignIn(px.URL, bob, bobPw)
	tab.Navigate(px.URL + "/compose")
	fill := fmt.Sprintf(`(() => {
		document.getElementById("to").value = "carol@far.test";
		document.getElementById("subject").value = "Floor plan";
		document.getElementById("text").value = %q;
		return true;
	})()`, text)
	webtest.Run(tab, chromedp.Evaluate[bool](fill))
	webtest.Run(tab, chromedp.Evaluate[bool](watchSaves))
	return srv, px, tab
}

// heldCompose opens compose, types the text, holds its autosave at the
// proxy and chooses two files while it is held: their save is queued
// behind it. It returns the files' names in the order chosen, and their
// contents.
func heldCompose(t *testing.T) (*testserver.Server, *savesProxy, *webtest.Tab, []string, map[string][]byte) {
	t.Helper()
	srv, px, tab := openCompose(t, "")
	names := []string{"floor-plan.pdf", "site photo 2.jpg"}
	paths, want := chooseFiles(t, fileSizes, names...)
	// The text's one input event starts the one autosave.
	px.Hold(false)
	typeText(tab, "The plan and a photo, as promised.")
	held := px.WaitHeld(t)
	if held.text != "The plan and a photo, as promised." || len(px.Saves()) != 1 {
		t.Fatalf("the held autosave carries the text %q, want all of it, and is the first save of %+v", held.text, px.Saves())
	}

	// Chosen while the autosave is in flight: their save is queued.
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), paths))
	tab.WaitFor(`window.saves.filesTriggered === 1`)
	if n := len(px.Saves()); n != 1 {
		t.Fatalf("%d saves reached the proxy while one was held, want the held one only: %+v", n, px.Saves())
	}
	return srv, px, tab, names, want
}

// TestBrowserComposeFilesChosenDuringAutosave guards 5640f62: files
// chosen while an autosave of the text is in flight go with the save
// queued behind it ("queue last"), and that save must still carry them.
// Before, the autosave's end cleared the file input, so the queued save
// went without the files and the upload was silently lost (seen once as
// a flaky TestBrowserComposeThreeUploadsAndLimit). The proxy holds the
// autosave on its way to the server, so the files are always chosen
// while it is in flight; then the files must be listed on the page and
// be in the stored draft, sent once, by one save, and the next autosave
// must send none. Screenshots at 390 and 1280 px, light and dark.
func TestBrowserComposeFilesChosenDuringAutosave(t *testing.T) {
	srv, px, tab, names, want := heldCompose(t)
	tab.Screenshot("compose-files-queued")
	px.Release()
	filesArrived(t, srv, px, tab, nil, names, want, "The plan and a photo, as promised.")
	tab.EachLook(func(int, bool) {
		tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
		tab.Screenshot("compose-files-after-autosave")
	})
}

// TestBrowserComposeTextTypedAfterFilesDuringAutosave: files chosen
// while an autosave is in flight, then more text typed before it ends.
// The text's autosave takes the files' place in the queue ("queue last"
// keeps only the latest), so it is the save that must carry them.
func TestBrowserComposeTextTypedAfterFilesDuringAutosave(t *testing.T) {
	srv, px, tab, names, want := heldCompose(t)
	typeText(tab, " The key is at reception.")
	tab.WaitFor(`window.saves.textTriggered === 2`)
	if n := len(px.Saves()); n != 1 {
		t.Fatalf("%d saves reached the proxy while one was held, want the held one only: %+v", n, px.Saves())
	}
	px.Release()
	filesArrived(t, srv, px, tab, nil, names, want, "The plan and a photo, as promised. The key is at reception.")
	tab.Screenshot("compose-files-after-autosave")
}

// TestBrowserComposeFilesChosenAgainDuringTheirUpload: files chosen
// while the save carrying the files chosen before is in flight go with
// the save queued behind it: the first save's end must not clear them.
// The draft keeps both selections.
func TestBrowserComposeFilesChosenAgainDuringTheirUpload(t *testing.T) {
	srv, px, tab := openCompose(t, "The plan and photos, as promised.")
	first, firstPaths, again, againPaths, want := twoSelections(t)
	px.Hold(true)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), firstPaths))
	if held := px.WaitHeld(t); !slices.Equal(held.files, first) {
		t.Fatalf("the held save carries %v, want %v", held.files, first)
	}
	tab.WaitFor(`!document.getElementById("upload-status").hidden`)
	if got := tab.Text("#upload-status"); !strings.Contains(got, "Uploading floor-plan.pdf, lease.pdf") {
		t.Errorf("during the first upload the status says %q, want its two names", got)
	}
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), againPaths))
	tab.WaitFor(`window.saves.filesTriggered === 2`)
	if got := tab.Text("#upload-status"); !strings.Contains(got, "Uploading floor-plan.pdf, lease.pdf") {
		t.Errorf("with more files chosen the status of the upload in flight says %q, want its own two names", got)
	}
	if n := len(px.Saves()); n != 1 {
		t.Fatalf("%d saves reached the proxy while one was held, want the held one only: %+v", n, px.Saves())
	}
	tab.Screenshot("compose-files-chosen-again")
	px.Release()
	filesArrived(t, srv, px, tab, first, again, want, "The plan and photos, as promised.")
	tab.SetWidth(webtest.PhoneWidth)
	tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
	tab.Screenshot("compose-files-chosen-again-after")
}

// twoSelections writes the files of two selections, first and again,
// and returns their names and paths, and the contents of all by name.
func twoSelections(t *testing.T) (first, firstPaths, again, againPaths []string, want map[string][]byte) {
	t.Helper()
	first = []string{"floor-plan.pdf", "lease.pdf"}
	firstPaths, want = chooseFiles(t, fileSizes, first...)
	again = []string{"site photo 2.jpg", "site photo 3.jpg"}
	againPaths, wantAgain := chooseFiles(t, fileSizes, again...)
	maps.Copy(want, wantAgain)
	return first, firstPaths, again, againPaths, want
}

// filesArrived checks, once the held save (which carried the files
// heldFiles) is released, that the one save queued behind it carried the
// files chosen while it was held (names, in order) and the text (the
// queued save's), that the page lists every file of want and the file
// input is empty; then that the next autosave sends no file, and that
// the stored draft has each file of want once, byte for byte.
func filesArrived(t *testing.T, srv *testserver.Server, px *savesProxy, tab *webtest.Tab, heldFiles, names []string, want map[string][]byte, text string) {
	t.Helper()
	tab.WaitFor(`window.saves.ended === 2`)
	waitFor(t, "the proxy to see both saves answered", func() bool {
		s := px.Saves()
		return len(s) == 2 && s[0].done && s[1].done
	})
	state := tab.Text("#draft-state")
	for _, name := range keys(want) {
		if !strings.Contains(state, name) {
			t.Errorf("after the held save ended and the queued save ran, the page lists %q, want %s in it", state, name)
		}
	}
	saves := px.Saves()
	if !slices.Equal(saves[0].files, heldFiles) {
		t.Errorf("the held save sent files %v, want %v", saves[0].files, heldFiles)
	}
	if got := saves[1].files; !slices.Equal(got, names) {
		t.Errorf("the queued save sent files %v, want %v", got, names)
	}
	if saves[1].text != text {
		t.Errorf("the queued save sent the text %q, want %q", saves[1].text, text)
	}
	if n := webtest.Run(tab, chromedp.Evaluate[int](`document.getElementById("files").files.length`)); n != 0 {
		t.Errorf("the file input still holds %d files after their save", n)
	}

	// Another autosave sends no file again, and the draft keeps them.
	typeText(tab, " See you Monday.")
	tab.WaitFor(`window.saves.ended === 3`)
	saves = px.Saves()
	if len(saves) != 3 || len(saves[2].files) != 0 || saves[2].text != text+" See you Monday." {
		t.Errorf("the saves were %+v, want a third with the new text and no file", saves)
	}
	files, stored := draftFiles(t, srv, bob)
	if len(files) != len(want) {
		t.Errorf("the stored draft has %d attachments, want %d", len(files), len(want))
	}
	for name, b := range want {
		if got, ok := files[name]; !ok {
			t.Errorf("the stored draft lacks %s (it has %v)", name, keys(files))
		} else if !bytes.Equal(got, b) {
			t.Errorf("the stored draft's %s differs from the file chosen (%d bytes, want %d)", name, len(got), len(b))
		}
	}
	if !strings.Contains(stored, text+" See you Monday.") {
		t.Errorf("the stored draft's text is %q, want the last autosave's", stored)
	}
	listedOnce(t, tab, "after the next autosave", keys(want))
}

func keys(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }

// TestBrowserComposeFilesKeptWhenTheirSaveFails guards the files of a
// save that failed: its end cleared the file input whatever the outcome,
// so files whose save never reached the draft (the connection dropped, a
// proxy answered 502) were silently lost. The proxy fails the save that
// carries them (or the server refuses the draft for an unreadable
// address, answering 200 with the reason: the draft, files included, is
// not saved either); the input must still hold them, a line beside them
// must say they go with the next save, the draft state must stay (a
// proxy's 503 page was swapped in its place, taking the draft's id and
// every later save's target), and the next save (an autosave of text
// typed) must carry them, store each once, byte for byte, and only then
// clear the input. Screenshots of the line at 390 and 1280 px, light and
// dark.
func TestBrowserComposeFilesKeptWhenTheirSaveFails(t *testing.T) {
	const notSaved = "Not attached yet: the draft was not saved. They go with the next save."
	for _, tc := range []struct {
		name string
		fail failure // how the proxy fails the save, "": it goes through
		to   string  // the To field for that save
		line string  // the line beside the files after the failure
	}{
		{"502", failBadGateway, "carol@far.test", notSaved},
		{"503-not-draft-state", failBusy, "carol@far.test", notSaved},
		{"dropped", failDrop, "carol@far.test", "Not attached yet: the connection failed. They go with the next save."},
		{"address-refused", "", "carol@", notSaved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, px, tab := openCompose(t, "The plan and a photo, as promised.")
			names := []string{"floor-plan.pdf", "site photo 2.jpg"}
			paths, want := chooseFiles(t, fileSizes, names...)
			setTo := func(to string) {
				webtest.Run(tab, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { document.getElementById("to").value = %q; return true })()`, to)))
			}

			setTo(tc.to)
			px.Fail(tc.fail)
			tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), paths))
			tab.WaitFor(`window.saves.ended === 1`)
			saves := px.Saves()
			if len(saves) == 0 || saves[0].fail != tc.fail || !slices.Equal(saves[0].files, names) {
				t.Fatalf("the saves were %+v, want the first with %v, failed (%q)", saves, names, tc.fail)
			}
			if tc.fail == "" {
				if got := tab.Text("#draft-state .alert-error"); !strings.Contains(got, tc.to) {
					t.Errorf("the refused save's draft state says %q, want the address %q named", got, tc.to)
				}
			}
			if ok := webtest.Run(tab, chromedp.Evaluate[bool](`!!document.querySelector("#draft-state input[name=draft]")`)); !ok {
				t.Errorf("after the failed save the draft state is gone from the page")
			}
			if n := webtest.Run(tab, chromedp.Evaluate[int](`document.getElementById("files").files.length`)); n != len(names) {
				t.Errorf("after their save failed the file input holds %d files, want the %d chosen", n, len(names))
			}
			if got := tab.Text("#files-hint"); got != tc.line {
				t.Errorf("after their save failed the line beside the files says %q, want %q", got, tc.line)
			}
			if shown := webtest.Run(tab, chromedp.Evaluate[bool](`!document.getElementById("upload-progress").hidden || !document.getElementById("upload-status").hidden`)); shown {
				t.Errorf("after the failed save the upload progress is still shown")
			}
			tab.EachLook(func(int, bool) {
				tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
				tab.Screenshot("compose-files-save-failed")
			})

			// The next save that gets through carries them: an autosave
			// of text typed, or the page's retry of the failed save
			// (the proxy failed those until now), whichever comes first.
			px.Fail("")
			setTo("carol@far.test")
			typeText(tab, " The key is at reception.")
			const final = "The plan and a photo, as promised. The key is at reception."
			waitFor(t, "a save of the text typed to get through", func() bool {
				return slices.ContainsFunc(px.Saves(), func(s save) bool { return s.done && s.fail == "" && s.text == final })
			})
			tab.WaitFor(`document.getElementById("files").files.length === 0 && window.saves.ended >= ` +
				fmt.Sprint(len(px.Saves())))
			saves = px.Saves()
			through := 0
			for i, s := range saves[1:] {
				switch {
				case len(s.files) == 0:
				case s.fail != "":
					if through > 0 {
						t.Errorf("save %d sent files %v after the save that stored them", i+1, s.files)
					}
				case !slices.Equal(s.files, names):
					t.Errorf("save %d, after the failed one, sent files %v, want %v", i+1, s.files, names)
				default:
					through++
				}
			}
			if through != 1 {
				t.Errorf("%d saves after the failed one carried the files through, want 1: %+v", through, saves)
			}
			if n := webtest.Run(tab, chromedp.Evaluate[int](`document.getElementById("files").files.length`)); n != 0 {
				t.Errorf("the file input still holds %d files after the save that stored them", n)
			}
			if got := tab.Text("#files-hint"); strings.Contains(got, "Not attached") {
				t.Errorf("after the save that stored them the line beside the files still says %q", got)
			}
			files, text := draftFiles(t, srv, bob)
			if len(files) != len(want) {
				t.Errorf("the stored draft has %d attachments (%v), want %d", len(files), keys(files), len(want))
			}
			for name, b := range want {
				if got, ok := files[name]; !ok {
					t.Errorf("the stored draft lacks %s (it has %v)", name, keys(files))
				} else if !bytes.Equal(got, b) {
					t.Errorf("the stored draft's %s differs from the file chosen (%d bytes, want %d)", name, len(got), len(b))
				}
			}
			if !strings.Contains(text, "The plan and a photo, as promised. The key is at reception.") {
				t.Errorf("the stored draft's text is %q, want the autosave's", text)
			}
			listedOnce(t, tab, "after the save that stored them", names)
		})
	}
}
