package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/clock"
	"github.com/xtramail/xtramail/internal/web"
)

// Bulk import runs in the background: the upload is read whole (bounded),
// admin.ImportAddresses works through it line by line (each line whole or
// not at all), and the page polls its progress with htmx every second
// (or a reload without script). A job lives in memory only, with its
// administrator: another administrator's job id is a 404, and a finished
// job is forgotten after importKeep.
const (
	importMaxBytes = 32 << 20 // about 300,000 lines of address,password,enabled
	importKeep     = time.Hour
	importRunning  = 4 // jobs running at once, all administrators together
	importTimeout  = 30 * time.Minute
	// generatedKeep is how long an import's generated passwords wait in
	// memory for their one download: the administrator is on the job
	// page when it ends, and a secret nobody fetched should not stay in
	// the process for the hour the job is kept.
	generatedKeep = 15 * time.Minute
)

type lineError struct {
	Line    int
	Address string
	Err     string
}

// importJob is one import; its fields are guarded by mu.
type importJob struct {
	id      string
	adminID int64

	mu        sync.Mutex
	name      string
	total     int
	processed int
	imported  int
	errors    []lineError
	done      bool
	fatal     string
	finished  time.Time
	// generate: the import gives lines without a password a generated
	// one. passwords holds them (address, password) until the one
	// download that hands them out (importPasswords), which drops them;
	// handedOut says that happened.
	generate  bool
	passwords []generated
	nGen      int
	handedOut bool
	// dropped: the generated passwords were dropped unread, after
	// generatedKeep.
	dropped bool
	// deferred counts the passwords the file brought, stored sealed and
	// hashed after the import (admin.ImportWith, pendinghash.go).
	deferred int
}

// importView is a snapshot of a job for the page.
type importView struct {
	base
	ID, Name                   string
	Total, Processed, Imported int
	Errors                     []lineError
	Done                       bool
	Fatal                      string
	// Generate: passwords were asked for; Generated counts them;
	// Download: they can still be downloaded (once).
	Generate, Download bool
	Generated          int
	// Dropped: the generated passwords were not downloaded in time and
	// are gone.
	Dropped bool
	// Deferred counts the file's own passwords, hashed in the
	// background after the import; Hashed how many of them are done.
	// The addresses can sign in meanwhile (hashed at their first
	// sign-in).
	Deferred, Hashed int
}

func (j *importJob) view() importView {
	j.mu.Lock()
	defer j.mu.Unlock()
	return importView{ID: j.id, Name: j.name, Total: j.total, Processed: j.processed, Imported: j.imported,
		Errors: append([]lineError(nil), j.errors...), Done: j.done, Fatal: j.fatal,
		Generate: j.generate, Generated: j.nGen, Download: j.done && !j.handedOut && !j.dropped && j.nGen > 0,
		Deferred: j.deferred, Dropped: j.dropped}
}

// Hashing reports whether the job page should keep polling for the
// background hashing of the file's passwords.
func (v importView) Hashing() bool { return v.Done && v.Hashed < v.Deferred }

type importJobs struct {
	clock clock.Clock
	keep  time.Duration // generatedKeep
	// dropRan, when set (tests), is called once a job's keep time has
	// ended and its drop has looked at it.
	dropRan func(*importJob)
	mu      sync.Mutex
	jobs    map[string]*importJob
}

func newImportJobs(clk clock.Clock) *importJobs {
	return &importJobs{clock: clk, keep: generatedKeep, jobs: map[string]*importJob{}}
}

var errBusy = errors.New("too many imports running")

// add registers a new job for adminID, unless importRunning are running.
func (js *importJobs) add(adminID int64, name string, total int) (*importJob, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	running := 0
	for id, j := range js.jobs {
		j.mu.Lock()
		if j.done && js.clock.Now().Sub(j.finished) > importKeep {
			delete(js.jobs, id)
		} else if !j.done {
			running++
		}
		j.mu.Unlock()
	}
	if running >= importRunning {
		return nil, errBusy
	}
	b := make([]byte, 18)
	rand.Read(b)
	j := &importJob{id: base64.RawURLEncoding.EncodeToString(b), adminID: adminID, name: name, total: total}
	js.jobs[j.id] = j
	return j, nil
}

// get returns adminID's job id; another administrator's is not found.
func (js *importJobs) get(adminID int64, id string) (*importJob, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.jobs[id]
	if !ok || j.adminID != adminID {
		return nil, false
	}
	return j, true
}

func (a *app) importForm(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.render(w, r, p, http.StatusOK, "import", "Import addresses", "/console/addresses", base{})
}

func (a *app) importStart(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if !p.Can(admin.OpAddressImport) {
		a.fail(w, r, p, "import", admin.ErrForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, importMaxBytes+1<<20)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		a.importFormError(w, r, p, "Choose a CSV file of at most 32 MiB.")
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, importMaxBytes+1))
	if err != nil || len(data) > importMaxBytes {
		a.importFormError(w, r, p, "Choose a CSV file of at most 32 MiB.")
		return
	}
	total := countRows(data)
	j, err := a.jobs.add(p.AdminID, hdr.Filename, total)
	if err != nil {
		a.importFormError(w, r, p, "Other imports are running; try again in a few minutes.")
		return
	}
	j.generate = r.PostFormValue("generate") == "yes"
	a.wg.Add(1)
	go a.runImport(context.WithoutCancel(r.Context()), p, j, data)
	http.Redirect(w, r, "/console/import/"+j.id, http.StatusSeeOther)
}

func (a *app) importFormError(w http.ResponseWriter, r *http.Request, p admin.Principal, msg string) {
	a.render(w, r, p, http.StatusBadRequest, "import", "Import addresses", "/console/addresses", base{Error: msg})
}

// countRows counts the data lines of a CSV file (not the header), for the
// progress bar; the import itself reports the true line numbers.
func countRows(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return max(n-1, 0)
}

// runImport works through one upload, updating the job as lines finish.
func (a *app) runImport(ctx context.Context, p admin.Principal, j *importJob, data []byte) {
	defer a.wg.Done()
	ctx, cancel := context.WithTimeout(ctx, importTimeout)
	defer cancel()
	progress := func(line int, address string, err error) {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.processed++
		if err != nil {
			msg, ok := formError(err)
			switch {
			case ok:
			case isNotFound(err):
				msg = "its domain is not one of the protected domains you manage"
			default:
				msg = "could not be imported"
			}
			j.errors = append(j.errors, lineError{Line: line, Address: address, Err: msg})
		} else {
			j.imported++
		}
	}
	res, err := a.ops.ImportWith(ctx, p, bytes.NewReader(data), admin.ImportOptions{
		GeneratePasswords: j.generate,
		Batch:             importBatch(j.id),
		Progress:          progress,
		Generated: func(_ int, address, password string) {
			j.mu.Lock()
			defer j.mu.Unlock()
			j.passwords = append(j.passwords, generated{address, password})
			j.nGen++
		},
	})
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		if msg, ok := formError(err); ok {
			j.fatal = msg
		} else {
			a.log.Error("console: import addresses", "admin", p.String(), "err", err)
			j.fatal = "The import stopped on an error; it has been logged. Lines listed as imported are in."
		}
	}
	j.done, j.finished = true, a.now()
	j.total = max(j.total, j.processed)
	j.deferred = res.Deferred
	a.jobs.dropLater(j)
}

// dropLater drops j's generated passwords once js.keep has passed on the
// console's clock, unless they were downloaded first (which drops them
// at once).
func (js *importJobs) dropLater(j *importJob) {
	if len(j.passwords) == 0 {
		return
	}
	due := js.clock.At(js.clock.Now().Add(js.keep))
	ran := js.dropRan
	go func() {
		<-due
		j.mu.Lock()
		if !j.handedOut {
			j.passwords, j.dropped = nil, true
		}
		j.mu.Unlock()
		if ran != nil {
			ran(j)
		}
	}()
}

// importBatch names a job's pending passwords in the store.
func importBatch(jobID string) string { return "console-import:" + jobID }

// jobView is j's view with how many of its passwords are hashed.
func (a *app) jobView(ctx context.Context, j *importJob) importView {
	v := j.view()
	if v.Done && v.Deferred > 0 {
		v.Hashed = v.Deferred
		if n, err := a.ops.PendingPasswordCount(ctx, importBatch(v.ID)); err == nil {
			v.Hashed = max(0, v.Deferred-n)
		} else {
			a.log.Error("console: count pending passwords", "err", err)
		}
	}
	return v
}

func (a *app) importJob(w http.ResponseWriter, r *http.Request, p admin.Principal) (*importJob, bool) {
	j, ok := a.jobs.get(p.AdminID, r.PathValue("id"))
	if !ok {
		web.NotFound(w, r)
	}
	return j, ok
}

func (a *app) importProgress(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	j, ok := a.importJob(w, r, p)
	if !ok {
		return
	}
	a.render(w, r, p, http.StatusOK, "importjob", "Import addresses", "/console/addresses", a.jobView(r.Context(), j))
}

func (a *app) importErrors(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	j, ok := a.importJob(w, r, p)
	if !ok {
		return
	}
	v := j.view()
	csvHeaders(w, "import-errors.csv")
	cw := admin.NewCSVWriter(w)
	cw.Write([]string{"line", "address", "error"})
	for _, e := range v.Errors {
		cw.Write([]string{strconv.Itoa(e.Line), e.Address, e.Err})
	}
	cw.Flush()
}

// importPasswords hands out the passwords an import generated as a CSV
// file, once: they are dropped from memory as they are written, so no
// later request (a second click, another tab, someone with the page's
// URL and the session) can read them again. It is a POST (the CSRF
// check applies, and no link prefetch spends the one download).
func (a *app) importPasswords(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	j, ok := a.importJob(w, r, p)
	if !ok {
		return
	}
	j.mu.Lock()
	rows := j.passwords
	gone := !j.done || j.handedOut || j.dropped
	if !gone {
		j.passwords, j.handedOut = nil, true
	}
	j.mu.Unlock()
	if gone {
		msg := "The generated passwords were downloaded already: they are handed out once. Generate new ones from the addresses page if that copy is lost."
		if j.view().Dropped {
			msg = "The generated passwords were not downloaded within 15 minutes and have been dropped. Generate new ones from the addresses page."
		}
		a.render(w, r, p, http.StatusGone, "importjob", "Import addresses", "/console/addresses", withError(j.view(), msg))
		return
	}
	csvHeaders(w, "passwords.csv")
	cw := admin.NewCSVWriter(w)
	cw.Write([]string{"address", "password"})
	for _, g := range rows {
		cw.Write([]string{g.Address, g.Password})
	}
	cw.Flush()
}

func withError(v importView, msg string) importView {
	v.Error = msg
	return v
}

func csvHeaders(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
}
