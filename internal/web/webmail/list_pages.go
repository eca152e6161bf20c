package webmail

import "github.com/xtramail/xtramail/internal/web"

// readPages are the read side's pages, parsed once into the web layout.
type readPages struct {
	list    *web.Page // a folder, search results, Deleted
	message *web.Page
}

func parseReadPages(l *web.Layout) readPages {
	return readPages{
		list:    l.MustParse(assets, "templates/list.html", "templates/partials/*.html"),
		message: l.MustParse(assets, "templates/message.html", "templates/partials/*.html"),
	}
}
