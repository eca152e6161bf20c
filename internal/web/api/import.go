package api

import (
	"errors"
	"net/http"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

func (a *API) registerImport() {
	a.handleBody("POST /addresses/import", maxImport, a.importAddresses, "generate_passwords")
}

// maxImport bounds an import's body: 10,000 lines with passwords are
// well under a megabyte.
const maxImport = 64 << 20

type importErrorJSON struct {
	Line    int    `json:"line"`
	Address string `json:"address"`
	Field   string `json:"field"`
	Detail  string `json:"detail"`
}

type generatedJSON struct {
	Line     int    `json:"line"`
	Address  string `json:"address"`
	Password string `json:"password"`
}

type importJSON struct {
	Lines     int               `json:"lines"`
	Imported  int               `json:"imported"`
	Failed    int               `json:"failed"`
	Generated int               `json:"generated"`
	Deferred  int               `json:"deferred"`
	Errors    []importErrorJSON `json:"errors"`
	Passwords []generatedJSON   `json:"passwords,omitempty"`
}

// importAddresses imports a CSV file of addresses (the console's format:
// columns address, password, enabled) and answers what became of it, with
// each refused line by its line number in the file. Each line is
// imported whole or not at all; bad lines do not stop the others. With
// ?generate_passwords=true a line without a password gets a generated
// one, in the answer only. The passwords the file brings are hashed
// after the answer, as the console's and the CLI's imports do
// (admin.ImportWith): each address signs in at once.
func (a *API) importAddresses(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	if err := needType(r, "text/csv"); err != nil {
		return err
	}
	generate, err := queryBool(r, "generate_passwords")
	if err != nil {
		return err
	}
	out := importJSON{Errors: []importErrorJSON{}}
	progress := func(line int, address string, err error) {
		if err == nil {
			return
		}
		e := importErrorJSON{Line: line, Address: address, Field: "address"}
		var fe *admin.FieldError
		switch {
		case errors.As(err, &fe):
			e.Field, e.Detail = fe.Field, fe.Msg
		case errors.Is(err, store.ErrExists):
			e.Detail = "exists already"
		case errors.Is(err, store.ErrNotFound):
			e.Detail = "no such domain"
		default:
			e.Detail = "not imported"
		}
		out.Errors = append(out.Errors, e)
	}
	res, err := a.adm.ImportWith(r.Context(), p, r.Body, admin.ImportOptions{
		GeneratePasswords: generate,
		Progress:          progress,
		Generated: func(line int, address, password string) {
			out.Passwords = append(out.Passwords, generatedJSON{line, address, password})
		},
	})
	if err != nil {
		return err
	}
	out.Lines, out.Imported, out.Failed, out.Generated, out.Deferred = res.Lines, res.Imported, res.Failed, res.Generated, res.Deferred
	return writeJSON(w, http.StatusOK, out)
}
