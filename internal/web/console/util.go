package console

import (
	"errors"

	"github.com/xtramail/xtramail/internal/store"
	"net/http"
	"net/url"
	"strconv"

	"github.com/xtramail/xtramail/internal/web"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func urlQuery(s string) string { return url.QueryEscape(s) }

// parseID reads a positive decimal id.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// pathID reads the {id} of the path; a malformed one is the 404 page, as
// an id that names nothing.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		web.NotFound(w, r)
	}
	return id, ok
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// signInLinkPath is where the webmail takes a one-time sign-in link's
// token.
const signInLinkPath = "/login/link?token="

// web400 answers a malformed form.
func web400(w http.ResponseWriter, r *http.Request, msg string) {
	web.Error(w, r, http.StatusBadRequest, msg)
}
