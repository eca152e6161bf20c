package webmail

import "net/http"

// ComposeOptions is what the compose side needs beyond Options (owned by
// the compose side).
type ComposeOptions struct{}

// composeRoutes registers compose, reply, forward, drafts, sending and
// settings (owned by the compose side).
func (a *app) composeRoutes(mux *http.ServeMux) {}
