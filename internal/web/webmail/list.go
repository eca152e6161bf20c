package webmail

import "net/http"

// readRoutes registers the read side: folders, lists, reading,
// attachments, search, Deleted and live updates.
func (a *app) readRoutes(mux *http.ServeMux) {}
