// xtramail webmail: live updates. The server streams "change" events
// (Server-Sent Events) when mail arrives, flags change or messages are
// deleted, here, over IMAP or by capture. A folder's list applies the
// folder's changes since it was read (applyChanges); search results and
// Deleted, which follow every folder, are read again down to the last
// row shown (the list's data-refresh URL with upto=). Both keep the
// selection; the tab title and the Mail badge show the INBOX's unread
// count, the folder list each folder's, and a polite live region says
// what changed.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) { return; }
  // The lists' re-reads follow the stream, not the user: they do not keep
  // the session from going idle (web.Background).
  var background = { "HX-Request": "true", "X-Xtramail-Background": "1" };
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
  // A folder's badge in the folder list (as the server writes it).
  function setFolderUnread(id, n) {
    var link = document.querySelector('.folders a[data-folder="' + id + '"]');
    if (!link) { return; }
    var badge = link.querySelector(".badge");
    if (n > 0) {
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "badge";
        badge.setAttribute("data-unread-for", id);
        link.appendChild(document.createTextNode(" "));
        link.appendChild(badge);
      }
      badge.textContent = String(n);
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " unread";
      badge.appendChild(hidden);
    } else if (badge) {
      if (badge.previousSibling && badge.previousSibling.nodeType === 3) { badge.previousSibling.remove(); }
      badge.remove();
    }
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
    fetch(url, { credentials: "same-origin", headers: background }).then(function (resp) {
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
  // A folder's list follows its changes row by row: the server sends
  // what changed since the modseq the page last saw (new and changed
  // rows, rows gone), and each row goes in its place by its cursor, so an
  // update costs what changed, not what the folder holds. A row older
  // than the last one shown is left for "More messages" to bring, unless
  // the list is whole.
  function newer(a, b) {
    var x = a.split("."), y = b.split(".");
    var dx = Number(x[0]) - Number(y[0]);
    return dx !== 0 ? dx > 0 : Number(x[1]) > Number(y[1]);
  }
  function applyChanges() {
    var rows = document.getElementById("rows");
    var url = rows && rows.getAttribute("data-changes");
    if (!url) { refresh(); return; }
    if (busy) { again = true; return; }
    busy = true;
    var handedOff = false;
    url += "?since=" + encodeURIComponent(rows.getAttribute("data-modseq") || "0");
    fetch(url, { credentials: "same-origin", headers: background }).then(function (resp) {
      return resp.ok ? resp.text() : null;
    }).then(function (html) {
      if (html === null) { return; }
      var holder = document.createElement("template");
      holder.innerHTML = html;
      var tpl = holder.content.querySelector("template[data-modseq]");
      if (!tpl) { return; }
      if (tpl.hasAttribute("data-reload")) {
        rows.setAttribute("data-modseq", tpl.getAttribute("data-modseq"));
        handedOff = true;
        busy = false;
        refresh();
        return;
      }
      var gone = function (sel) { rows.querySelectorAll(sel).forEach(function (r) { r.remove(); }); };
      tpl.content.querySelectorAll("[data-gone-id]").forEach(function (g) { gone('.mail-row[data-id="' + g.getAttribute("data-gone-id") + '"]'); });
      tpl.content.querySelectorAll("[data-gone-uid]").forEach(function (g) { gone('.mail-row[data-uid="' + g.getAttribute("data-gone-uid") + '"]'); });
      tpl.content.querySelectorAll("[data-gone-conv]").forEach(function (g) { gone('.mail-row[data-conv="' + g.getAttribute("data-gone-conv") + '"]'); });
      var fresh = 0;
      tpl.content.querySelectorAll(".mail-row[data-cursor]").forEach(function (row) {
        var id = row.getAttribute("data-id"), conv = row.getAttribute("data-conv");
        // By conversation, a row is its conversation's: a merge of two
        // gives the row of one the other's newest message, and the row
        // that showed it goes (the server sends its conversation too).
        var old = conv ? rows.querySelector('.mail-row[data-conv="' + conv + '"]') : rows.querySelector('.mail-row[data-id="' + id + '"]');
        var stale = conv && rows.querySelector('.mail-row[data-id="' + id + '"]');
        if (stale && stale !== old) { stale.remove(); }
        var box = old && old.querySelector("input[type=checkbox]");
        if (box && box.checked && old.getAttribute("data-id") === id) { row.querySelector("input[type=checkbox]").checked = true; }
        if (old) { old.remove(); } else { fresh++; }
        var cur = row.getAttribute("data-cursor"), before = null;
        var shown = rows.querySelectorAll(".mail-row[data-cursor]");
        for (var i = 0; i < shown.length; i++) {
          if (newer(cur, shown[i].getAttribute("data-cursor"))) { before = shown[i]; break; }
        }
        var more = rows.querySelector(".more");
        if (!before && more) { return; } // beyond what is shown
        rows.insertBefore(row, before || more);
      });
      rows.setAttribute("data-modseq", tpl.getAttribute("data-modseq"));
      var now = rows.querySelectorAll(".mail-row[data-id]").length;
      rows.hidden = now === 0;
      var empty = document.getElementById("rows-empty");
      if (empty) { empty.hidden = now > 0; }
      var status = document.getElementById("rows-status");
      if (status) {
        status.textContent = fresh > 0 ? (fresh === 1 ? "1 new message in the list." : fresh + " new messages in the list.") : "The list was updated.";
      }
    }).catch(function () {}).then(function () {
      if (handedOff) { return; }
      busy = false;
      if (again) { again = false; applyChanges(); }
    });
  }
  // The stream starts from what the page was read at: each folder's
  // modseq (the folder list's data-modseq), so that a change made
  // between the page's render and the stream's start is sent too.
  var seen = [];
  document.querySelectorAll(".folders a[data-folder][data-modseq]").forEach(function (a) {
    seen.push(a.getAttribute("data-folder") + "." + a.getAttribute("data-modseq"));
  });
  var es = new EventSource("/events" + (seen.length ? "?seen=" + seen.join(",") : ""));
  // The stream is open (the server subscribed before answering): tests
  // wait for this instead of a fixed time.
  es.addEventListener("open", function () { document.documentElement.setAttribute("data-live", "open"); });
  es.addEventListener("change", function (e) {
    var d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    setUnread(d.unread);
    if (typeof d.folderUnread === "number") { setFolderUnread(d.mailbox, d.folderUnread); }
    var main = document.querySelector(".mail");
    if (!main) { return; }
    // A folder follows its own changes; search results and Deleted
    // follow every folder's.
    if (main.getAttribute("data-kind") === "mailbox" && String(d.mailbox) !== main.getAttribute("data-mailbox")) { return; }
    // Changes come in bursts (a delete of many, a sync): read once.
    clearTimeout(timer);
    timer = setTimeout(applyChanges, 250);
  });
  window.addEventListener("pagehide", function () { es.close(); });
})();
