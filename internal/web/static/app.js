// xtramail: the little script every page loads after htmx.
// Every state-changing request made with the session cookie must carry the
// session's CSRF token (internal/web/csrf.go): htmx requests send it in a
// header, read from the page's <meta name="csrf-token">.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) {
      e.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
    }
  });
})();
