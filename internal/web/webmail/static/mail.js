// xtramail webmail: live updates. The server streams "change" events
// (Server-Sent Events) when mail arrives, flags change or messages are
// deleted, here, over IMAP or by capture. Whatever list is shown (a
// folder at any page or scroll depth, search results, Deleted), its rows
// are read again down to the last one shown (the list's data-refresh URL
// with upto=), keeping the selection; the tab title and the Mail badge
// show the INBOX's unread count, and a polite live region says what
// changed.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) { return; }
  var baseTitle = document.title.replace(/^\(\d+\) /, "");
  function setUnread(n) {
    document.title = (n > 0 ? "(" + n + ") " : "") + baseTitle;
    // The Mail link (wide and in the phone's menu) and the Menu button.
    document.querySelectorAll('.topnav a[href="/"], .topmenu-button').forEach(function (link) {
      var badge = link.querySelector(".badge");
      if (n > 0) {
        if (!badge) { badge = document.createElement("span"); badge.className = "badge"; link.appendChild(document.createTextNode(" ")); link.appendChild(badge); }
        badge.textContent = String(n);
      } else if (badge) {
        badge.remove();
      }
    });
  }
  var busy = false, again = false, timer = 0;
  function refresh() {
    var rows = document.getElementById("rows");
    var url = rows && rows.getAttribute("data-refresh");
    if (!url) { return; }
    if (busy) { again = true; return; }
    var shown = rows.querySelectorAll(".mail-row[data-cursor]");
    if (shown.length > 0) {
      url += (url.indexOf("?") < 0 ? "?" : "&") + "upto=" + encodeURIComponent(shown[shown.length - 1].getAttribute("data-cursor"));
    }
    var before = {};
    shown.forEach(function (r) { before[r.getAttribute("data-id")] = true; });
    var checked = {};
    rows.querySelectorAll("input[type=checkbox]:checked").forEach(function (c) { checked[c.value] = true; });
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } }).then(function (resp) {
      return resp.ok ? resp.text() : null;
    }).then(function (html) {
      if (html === null) { return; }
      rows.innerHTML = html;
      if (window.htmx) { window.htmx.process(rows); }
      var fresh = 0, now = rows.querySelectorAll(".mail-row[data-id]");
      now.forEach(function (r) {
        var id = r.getAttribute("data-id");
        if (!before[id]) { fresh++; }
        var c = r.querySelector("input[type=checkbox]");
        if (c && checked[id]) { c.checked = true; }
      });
      rows.hidden = now.length === 0;
      var empty = document.getElementById("rows-empty");
      if (empty) { empty.hidden = now.length > 0; }
      var status = document.getElementById("rows-status");
      if (status) {
        status.textContent = fresh > 0 ? (fresh === 1 ? "1 new message in the list." : fresh + " new messages in the list.") : "The list was updated.";
      }
    }).catch(function () {}).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }
  var es = new EventSource("/events");
  // The stream is open (the server subscribed before answering): tests
  // wait for this instead of a fixed time.
  es.addEventListener("open", function () { document.documentElement.setAttribute("data-live", "open"); });
  es.addEventListener("change", function (e) {
    var d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    setUnread(d.unread);
    var main = document.querySelector(".mail");
    if (!main) { return; }
    // A folder follows its own changes; search results and Deleted
    // follow every folder's.
    if (main.getAttribute("data-kind") === "mailbox" && String(d.mailbox) !== main.getAttribute("data-mailbox")) { return; }
    // Changes come in bursts (a delete of many, a sync): read once.
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  window.addEventListener("pagehide", function () { es.close(); });
})();
