package api

import (
	"context"
	"net/http"

	"github.com/xtramail/xtramail/internal/admin"
)

// handler is an authenticated route's handler (see API.handle).
type handler = func(w http.ResponseWriter, r *http.Request, p admin.Principal) error

// The handlers below are the ones every resource has alike, built from
// the admin operation they call: the admin package checks the principal's
// rights, and a key outside its subtree is store.ErrNotFound (404).

// byName reads a resource's key from the path parameter name (a domain's
// name, an address).
func byName(name string) func(*http.Request) (string, error) {
	return func(r *http.Request) (string, error) { return r.PathValue(name), nil }
}

// getOne answers GET of one resource: key reads its key from the path
// (pathID for {id}, byName), get finds it, show is its representation.
func getOne[K, T, J any](key func(*http.Request) (K, error), get func(context.Context, admin.Principal, K) (T, error), show func(T) J) handler {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
		k, err := key(r)
		if err != nil {
			return err
		}
		v, err := get(r.Context(), p, k)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, show(v))
	}
}

// addOne answers POST of a new resource: the body is decoded into a B,
// add creates the resource from it, and the answer is 201 with show's
// representation and a Location of Prefix+at(created).
func addOne[B, T, J any](add func(context.Context, admin.Principal, B) (T, error), at func(T) string, show func(T) J) handler {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
		var b B
		if err := decode(r, &b); err != nil {
			return err
		}
		v, err := add(r.Context(), p, b)
		if err != nil {
			return err
		}
		w.Header().Set("Location", Prefix+at(v))
		return writeJSON(w, http.StatusCreated, show(v))
	}
}

// removeOne answers DELETE of one resource: 204 once remove has done it.
func removeOne[K any](key func(*http.Request) (K, error), remove func(context.Context, admin.Principal, K) error) handler {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
		k, err := key(r)
		if err != nil {
			return err
		}
		if err := remove(r.Context(), p, k); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// listAll answers GET of a short list that the admin package returns
// whole, paged by id (pageByID).
func listAll[T, J any](list func(context.Context, admin.Principal) ([]T, error), id func(T) int64, show func(T) J) handler {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
		items, err := list(r.Context(), p)
		if err != nil {
			return err
		}
		pg, err := pageByID(r, items, id, show)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, pg)
	}
}
