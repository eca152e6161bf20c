package admin

// This file was added by the console helper (issue 15 part 3 needed the
// bulk import the console's page drives); it builds only on the
// package's existing operations and store calls.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// importChunk is how many lines are hashed and stored together: one
// store batch (each line still whole or not at all) and one round of
// hashing through the shared Hasher's slots.
const importChunk = 200

// ImportResult counts what an import did.
type ImportResult struct {
	Lines    int // data lines read (not the header)
	Imported int
	Failed   int
	// Generated counts the imported lines given a generated password
	// (ImportOptions.GeneratePasswords).
	Generated int
	// Deferred counts the imported lines whose password waits to be
	// hashed, sealed (pendinghash.go): every password the file brings.
	Deferred int
	// Batch names the import's pending passwords, for
	// PendingPasswordCount.
	Batch string
}

// ImportOptions says how ImportWith treats a file.
type ImportOptions struct {
	// GeneratePasswords gives each line without a password a generated
	// one (GeneratePassword), stored with the line in the same write, so
	// that one import leaves every address it adds ready to sign in.
	// Such hashes use auth.GeneratedParams (see there why that is sound).
	GeneratePasswords bool
	// Progress is told each line's outcome (nil: nobody is).
	Progress ImportProgress
	// Generated is told each generated password of a line that was
	// imported, once, before Progress hears of the line: the only time
	// it can be read (nothing keeps it in clear).
	Generated func(line int, address, password string)
	// Batch names the import for PendingPasswordCount; empty: ImportWith
	// names it (ImportResult.Batch).
	Batch string
}

// ImportProgress is told the outcome of each data line, in file order:
// its line number in the file (1 is the first line, the header), the
// address as written, and nil or why the line was not imported (a
// *FieldError, store.ErrExists, store.ErrNotFound for a domain outside
// the principal's scope).
type ImportProgress func(line int, address string, err error)

// ImportAddresses reads a CSV file of addresses and protects each one in
// p's scope. The first line names the columns: "address" (required),
// "password" (optional: empty leaves the address without one) and
// "enabled" (optional: yes/no, true/false, 1/0; default yes). A file
// whose first line is an address has no header: its columns are
// address, password, enabled in that order.
//
// Each line is imported whole or not at all (address, password and
// state in one store write), and a bad line does not stop the others.
// The passwords the file brings are not hashed on the import's path:
// each is stored sealed, the address enabled and able to sign in at
// once, and hashed after it by RunPendingPasswords (pendinghash.go), so
// that an import takes store time, not one full argon2id per line, and
// sign-ins keep their hash slots. The console, the API and the CLI all
// import this way. The returned error is for
// the file as a whole (no address column, ctx ended, the store failing);
// the lines reported before it stay imported. One audit record sums the
// import up.
func (s *Service) ImportAddresses(ctx context.Context, p Principal, r io.Reader, progress ImportProgress) (ImportResult, error) {
	return s.ImportWith(ctx, p, r, ImportOptions{Progress: progress})
}

// ImportWith is ImportAddresses with options: the console, the API and
// the CLI offer opts.GeneratePasswords.
func (s *Service) ImportWith(ctx context.Context, p Principal, r io.Reader, opts ImportOptions) (ImportResult, error) {
	var res ImportResult
	if err := s.allow(ctx, p, OpAddressImport); err != nil {
		return res, err
	}
	if opts.Batch == "" {
		opts.Batch = "import-" + rand.Text()
	}
	res.Batch = opts.Batch
	progress := opts.Progress
	if progress == nil {
		progress = func(int, string, error) {}
	}
	lr := newLineReader(r)
	cols, first, err := importColumns(lr)
	if err != nil {
		return res, err
	}
	defer func() {
		if res.Lines > 0 {
			s.audit(ctx, p, p.actorTenant(), OpAddressImport, "addresses",
				fmt.Sprintf("%d lines: %d imported, %d refused, %d passwords generated", res.Lines, res.Imported, res.Failed, res.Generated))
		}
	}()
	var chunk []importLine
	denied := map[string]bool{} // foreign domains audited once per import
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := s.importChunk(ctx, p, chunk, opts, denied)
		for _, l := range chunk {
			if l.err == nil && err != nil {
				break // the batch failed as a whole: not reported as done
			}
			res.Lines++
			if l.err != nil {
				res.Failed++
			} else {
				res.Imported++
				if l.sealed {
					res.Deferred++
				}
				if l.generated {
					res.Generated++
					if opts.Generated != nil {
						opts.Generated(l.line, l.address, l.password)
					}
				}
			}
			progress(l.line, l.address, l.err)
		}
		chunk = chunk[:0]
		return err
	}
	next := func() ([]string, int, error) {
		if first != nil {
			rec := first
			first = nil
			return rec, 1, nil
		}
		return lr.read()
	}
	for {
		if err := ctx.Err(); err != nil {
			flush()
			return res, err
		}
		rec, line, err := next()
		if err == io.EOF {
			break
		}
		var le *lineError
		if errors.As(err, &le) {
			chunk = append(chunk, importLine{line: line, err: fieldErr("line", "%s", le.msg)})
		} else if err != nil {
			flush()
			return res, fmt.Errorf("read CSV: %w", err)
		} else if !blank(rec) {
			chunk = append(chunk, cols.parse(rec, line))
		}
		if len(chunk) >= importChunk {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}

// importLine is one data line on its way.
type importLine struct {
	line      int
	address   string
	password  string
	generated bool // password made here (GeneratePasswords)
	sealed    bool // password kept sealed to hash later
	enabled   bool
	err       error
}

type importCols struct{ address, password, enabled int }

// importColumns reads the header. A first line that is an address is
// data (returned as first) in the default columns.
func importColumns(lr *lineReader) (importCols, []string, error) {
	rec, _, err := lr.read()
	if err == io.EOF {
		return importCols{}, nil, fieldErr("file", "the file is empty")
	}
	var le *lineError
	if errors.As(err, &le) {
		return importCols{}, nil, fieldErr("file", "the first line is not CSV: %s", le.msg)
	}
	if err != nil {
		return importCols{}, nil, fmt.Errorf("read CSV: %w", err)
	}
	if len(rec) > 0 {
		rec[0] = strings.TrimPrefix(rec[0], "\ufeff") // a spreadsheet's byte order mark
	}
	if len(rec) > 0 && strings.Contains(rec[0], "@") {
		return importCols{address: 0, password: 1, enabled: 2}, rec, nil
	}
	c := importCols{address: -1, password: -1, enabled: -1}
	for i, name := range rec {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "address", "email", "e-mail":
			c.address = i
		case "password":
			c.password = i
		case "enabled", "continuity":
			c.enabled = i
		}
	}
	if c.address < 0 {
		return c, nil, fieldErr("file", "the first line names no address column")
	}
	return c, nil, nil
}

func field(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// parse checks one data line's values.
func (c importCols) parse(rec []string, line int) importLine {
	l := importLine{line: line, address: field(rec, c.address), password: field(rec, c.password), enabled: true}
	switch strings.ToLower(field(rec, c.enabled)) {
	case "", "yes", "y", "true", "1", "on":
	case "no", "n", "false", "0", "off":
		l.enabled = false
	default:
		l.err = fieldErr("enabled", "%q is not yes or no", field(rec, c.enabled))
		return l
	}
	addr, err := store.NormalizeAddress(l.address)
	if err != nil {
		l.err = fieldErr("address", "%q is not an email address", l.address)
		return l
	}
	if l.password != "" {
		if err := CheckPassword(addr, l.password); err != nil {
			l.err = err
			return l
		}
	}
	l.address = addr
	return l
}

// importChunk seals (or, for a generated one, hashes) and stores the good
// lines of a chunk, setting each line's err; with opts.GeneratePasswords,
// a good line without a password first gets a generated one. The
// returned error is the batch's as a whole.
func (s *Service) importChunk(ctx context.Context, p Principal, chunk []importLine, opts ImportOptions, denied map[string]bool) error {
	var todo []int
	var jobs []hashJob
	for i, l := range chunk {
		if l.err != nil {
			continue
		}
		if l.password == "" && opts.GeneratePasswords {
			chunk[i].password, chunk[i].generated = GeneratePassword(), true
		}
		todo = append(todo, i)
		// A generated password is a high-entropy secret: the cheap
		// parameters (auth.GeneratedParams), hashed here. One a person
		// chose waits sealed.
		switch {
		case chunk[i].generated:
			jobs = append(jobs, hashJob{password: chunk[i].password, params: auth.GeneratedParams()})
		case chunk[i].password != "":
			chunk[i].sealed = true
			jobs = append(jobs, hashJob{})
		default:
			jobs = append(jobs, hashJob{})
		}
	}
	if len(todo) == 0 {
		return nil
	}
	s.hashJobs(ctx, jobs)
	var rows []store.NewAccount
	var idx []int
	for k, i := range todo {
		if jobs[k].err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			chunk[i].err = fmt.Errorf("hash password of %s: %w", chunk[i].address, jobs[k].err)
			continue
		}
		row := store.NewAccount{Address: chunk[i].address, PasswordHash: jobs[k].hash, Enabled: chunk[i].enabled}
		if chunk[i].sealed {
			row.PasswordHash, row.Batch = store.PendingPasswordHash, opts.Batch
			row.Sealed = s.seal.seal(chunk[i].address, chunk[i].password)
		}
		rows = append(rows, row)
		idx = append(idx, i)
	}
	if len(rows) == 0 {
		return nil
	}
	_, errs, err := s.st.AddAccounts(ctx, p.Scope(), rows)
	if err != nil {
		return fmt.Errorf("import %d addresses: %w", len(rows), err)
	}
	for k, i := range idx {
		if errs[k] == nil && chunk[i].sealed {
			s.wakePending()
		}
		if errs[k] != nil {
			chunk[i].err = errs[k]
			if dom := store.DomainOf(chunk[i].address); errors.Is(errs[k], store.ErrNotFound) && !denied[dom] {
				denied[dom] = true
				s.denied(ctx, p, OpAddressImport, "domain "+dom, s.domainExists(dom), errs[k])
			}
		}
	}
	return nil
}

// maxImportLine bounds one line of an import file (an address, a
// password of at most auth.MaxPasswordLength bytes and a state fit well
// within it).
const maxImportLine = 8 << 10

// lineError is one line that cannot be read as CSV; the lines after it
// are read on their own.
type lineError struct{ msg string }

func (e *lineError) Error() string { return e.msg }

// lineReader reads an import file one physical line at a time and parses
// each line as one CSV record. A field of an address import never holds
// a line break (the password policy refuses control characters), so a
// quote left open is that line's error instead of swallowing the rest of
// the file into one field, as encoding/csv would (RFC 4180 2.6 lets a
// quoted field span lines). Lines are numbered from 1.
type lineReader struct {
	br   *bufio.Reader
	line int
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// read returns the next non-empty line's fields and number; a bad line
// is a *lineError with its number; io.EOF at the end.
func (lr *lineReader) read() ([]string, int, error) {
	for {
		raw, tooLong, err := lr.next()
		if err != nil {
			return nil, lr.line, err
		}
		if tooLong {
			return nil, lr.line, &lineError{fmt.Sprintf("longer than %d bytes", maxImportLine)}
		}
		text := strings.TrimRight(raw, "\r\n")
		if strings.TrimSpace(text) == "" {
			continue
		}
		cr := csv.NewReader(strings.NewReader(text))
		cr.FieldsPerRecord = -1
		cr.TrimLeadingSpace = true
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, lr.line, &lineError{"not valid CSV: " + err.Error()}
		}
		return rec, lr.line, nil
	}
}

// next reads one physical line, at most maxImportLine bytes of it kept
// (tooLong reports the rest was dropped).
func (lr *lineReader) next() (line string, tooLong bool, err error) {
	var b []byte
	for {
		chunk, isPrefix, err := lr.br.ReadLine()
		if err != nil {
			if err == io.EOF && (b != nil || tooLong) {
				break
			}
			return "", false, err
		}
		if len(b)+len(chunk) > maxImportLine {
			tooLong = true
		} else {
			b = append(b, chunk...)
		}
		if b == nil {
			b = []byte{}
		}
		if !isPrefix {
			break
		}
	}
	lr.line++
	return string(b), tooLong, nil
}
