package service

import (
	"log/slog"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/clock"
	"github.com/xtramail/xtramail/internal/web"
	"github.com/xtramail/xtramail/internal/web/console"
)

// mountConsole mounts the administrators' console at /console/ on the web
// server, over the administrative operations, on the service's clock.
func mountConsole(w *web.Server, ops *admin.Service, clk clock.Clock, log *slog.Logger) {
	w.Mount("/console/", console.New(console.Options{Web: w, Admin: ops, Clock: clk, Logger: log.With("app", "console")}))
}
