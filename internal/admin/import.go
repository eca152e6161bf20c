package admin

// This file was added by the console helper (issue 15 part 3 needed the
// bulk import the console's page drives); it builds only on the
// package's existing operations and store calls.

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

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
// Passwords are hashed through the shared Hasher, so sign-ins keep their
// share of hash slots while an import runs. The returned error is for
// the file as a whole (no address column, ctx ended, the store failing);
// the lines reported before it stay imported. One audit record sums the
// import up.
func (s *Service) ImportAddresses(ctx context.Context, p Principal, r io.Reader, progress ImportProgress) (ImportResult, error) {
	var res ImportResult
	if err := s.allow(ctx, p, OpAddressImport); err != nil {
		return res, err
	}
	if progress == nil {
		progress = func(int, string, error) {}
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cols, first, err := importColumns(cr)
	if err != nil {
		return res, err
	}
	defer func() {
		if res.Lines > 0 {
			s.audit(ctx, p, p.actorTenant(), OpAddressImport, "addresses",
				fmt.Sprintf("%d lines: %d imported, %d refused", res.Lines, res.Imported, res.Failed))
		}
	}()
	var chunk []importLine
	denied := map[string]bool{} // foreign domains audited once per import
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := s.importChunk(ctx, p, chunk, denied)
		for _, l := range chunk {
			if l.err == nil && err != nil {
				break // the batch failed as a whole: not reported as done
			}
			res.Lines++
			if l.err != nil {
				res.Failed++
			} else {
				res.Imported++
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
		rec, err := cr.Read()
		line, _ := cr.FieldPos(0)
		return rec, line, err
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
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			chunk = append(chunk, importLine{line: pe.StartLine, err: fieldErr("line", "not valid CSV: %v", pe.Err)})
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
	line     int
	address  string
	password string
	enabled  bool
	err      error
}

type importCols struct{ address, password, enabled int }

// importColumns reads the header. A first line that is an address is
// data (returned as first) in the default columns.
func importColumns(cr *csv.Reader) (importCols, []string, error) {
	rec, err := cr.Read()
	if err == io.EOF {
		return importCols{}, nil, fieldErr("file", "the file is empty")
	}
	if err != nil {
		return importCols{}, nil, fieldErr("file", "the first line is not CSV: %v", err)
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

// importChunk hashes and stores the good lines of a chunk, setting each
// line's err. The returned error is the batch's as a whole.
func (s *Service) importChunk(ctx context.Context, p Principal, chunk []importLine, denied map[string]bool) error {
	var todo []int
	var pws []string
	for i, l := range chunk {
		if l.err == nil {
			todo = append(todo, i)
			pws = append(pws, l.password)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	hashes, herrs := s.hashAll(ctx, pws)
	var rows []store.NewAccount
	var idx []int
	for k, i := range todo {
		if herrs[k] != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			chunk[i].err = fmt.Errorf("hash password of %s: %w", chunk[i].address, herrs[k])
			continue
		}
		rows = append(rows, store.NewAccount{Address: chunk[i].address, PasswordHash: hashes[k], Enabled: chunk[i].enabled})
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
