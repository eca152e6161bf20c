// xtramail webmail: live updates. The server streams "change" events
// (Server-Sent Events) when mail arrives, flags change or messages are
// deleted; the folder shown re-reads its first page (when the user has
// not paged on or selected messages), and the tab title and the Mail
// badge show the INBOX's unread count.
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var baseTitle = document.title.replace(/^\(\d+\) /, "");
  function setUnread(n) {
    document.title = (n > 0 ? "(" + n + ") " : "") + baseTitle;
    var link = document.querySelector('.topnav a[href="/"]');
    if (!link) { return; }
    var badge = link.querySelector(".badge");
    if (n > 0) {
      if (!badge) { badge = document.createElement("span"); badge.className = "badge"; link.appendChild(document.createTextNode(" ")); link.appendChild(badge); }
      badge.textContent = String(n);
    } else if (badge) {
      badge.remove();
    }
  }
  function refresh(mailbox) {
    var main = document.querySelector(".mail[data-mailbox]");
    var rows = document.getElementById("rows");
    if (!main || !rows || !window.htmx) { return; }
    if (String(mailbox) !== main.getAttribute("data-mailbox")) { return; }
    if (document.querySelector('.mail-list input[type=checkbox]:checked')) { return; }
    var url = rows.getAttribute("data-refresh");
    if (!url) { return; }
    if (rows.tagName === "UL") {
      window.htmx.ajax("GET", url, { target: "#rows", swap: "innerHTML" });
    } else {
      window.location.reload();
    }
  }
  var es = new EventSource("/events");
  es.addEventListener("change", function (e) {
    var d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    setUnread(d.unread);
    refresh(d.mailbox);
  });
})();
