// xtramail webmail: compose page behaviour (upload progress and size
// check, saying when a save failed and trying again, keeping the text
// through a sign-out, sending only after a save in flight, Ctrl+Enter to
// send) and the undo countdown. Without it, the page still works by
// plain form posts.
(function () {
  "use strict";

  function composeForm() {
    var form = document.getElementById("compose-form");
    if (!form) return;
    var files = document.getElementById("files");
    var bar = document.getElementById("upload-progress");
    var hint = document.getElementById("files-hint");
    var limit = parseInt(form.getAttribute("data-limit"), 10) || 0;
    var hintText = hint ? hint.textContent : "";

    // Files chosen go once, with the next save of the form that is sent,
    // and the server keeps them in the draft from then on. That save is
    // usually the one their own "change" starts, but not always: while
    // another save is in flight, theirs is queued, and hx-sync "queue
    // last" keeps only the latest, so text typed meanwhile puts its
    // autosave in their save's place. So a selection is pending from its
    // "change" until the end of the save that carried it; every save sent
    // meanwhile carries it, whatever started that save, and no other
    // save's end may clear it (one in flight when the files were chosen
    // went without them).
    var chosen = 0; // selections made: a save's end clears only its own
    var pending = 0; // the selection not yet sent (its number), 0: none
    var sending = 0; // the selection the save in flight carries, 0: none

    // Files chosen again add to those chosen before that no save has
    // stored yet: a file input's new selection replaces its old one, so
    // the page puts both back in it (DataTransfer). Those of a save in
    // flight are not added: it may store them; if it fails, its end puts
    // them back beside the new ones.
    var pendingFiles = []; // the pending selection's files, as in the input
    var sendingFiles = []; // those the save in flight carries

    // Refuse too large a selection before uploading it.
    files.addEventListener("change", function (e) {
      var earlier = pending && pending !== sending ? pendingFiles : [];
      var all = earlier.concat(toArray(files.files));
      var total = 0;
      for (var i = 0; i < all.length; i++) total += all[i].size;
      hint.textContent = hintText;
      hint.classList.remove("files-error");
      if (limit && total > limit) {
        e.stopPropagation(); // no autosave of it
        if (!earlier.length || !setFiles(earlier)) {
          files.value = "";
          pending = 0;
          pendingFiles = [];
        }
        hint.textContent = "Those files are too large together. " + hintText;
        hint.classList.add("files-error");
        return;
      }
      if (earlier.length && !setFiles(all)) all = toArray(files.files);
      chosen++;
      pending = all.length ? chosen : 0;
      pendingFiles = all;
    }, true);

    // setFiles puts list in the file input, where the browser lets a
    // page do so (DataTransfer); it reports whether it did.
    function setFiles(list) {
      try {
        var dt = new DataTransfer();
        for (var i = 0; i < list.length; i++) dt.items.add(list[i]);
        files.files = dt.files;
        return true;
      } catch (err) {
        return false;
      }
    }

    // The form's own saves only: the address fields' suggestions are
    // requests of their own, whose events bubble up to the form.
    form.addEventListener("htmx:configRequest", function (e) {
      if (e.detail.elt !== form) return;
      clearTimeout(retry); // this save is the retry
      retry = 0;
      sending = pending;
      sendingFiles = pending ? pendingFiles : [];
      e.detail.filesSent = pending; // read back at the save's end
      e.detail.filesList = sendingFiles;
      if (!pending) e.detail.formData.delete("files");
      // An autosave is never a press: htmx adds the name and value of
      // the form's button last clicked or focused (its tracking of
      // submit buttons) to every request of the form while that button
      // is on the page, so a save started with "Remove" or "Save as a
      // new draft" focused (tabbed to, or being pressed) did what the
      // button does, unasked. Those buttons go by plain form posts.
      var buttons = form.querySelectorAll("button[name], input[type=submit][name]");
      for (var i = 0; i < buttons.length; i++) e.detail.formData.delete(buttons[i].name);
    });

    // Files refused (413: over the limit, the limit named; 503: the
    // server is busy) come back as the draft state with the reason:
    // show it, as htmx does not swap error answers by itself. Only the
    // draft state: a proxy's 503 page in its place would take the
    // draft's id (and every later save's target) with it, and so would
    // any other page answered 200 (a proxy's, a sign-in page).
    form.addEventListener("htmx:beforeSwap", function (e) {
      // (Fired on the target, the draft state: its elt is that.)
      if (!e.detail.requestConfig || e.detail.requestConfig.elt !== form) return;
      var st = e.detail.xhr.status;
      var isState = isDraftState(e.detail.serverResponse);
      if ((st === 409 || st === 413 || st === 503) && isState) {
        e.detail.shouldSwap = true;
        e.detail.isError = false;
      } else if (!isState) {
        e.detail.shouldSwap = false;
      }
      if (e.detail.shouldSwap && updateState(e.detail.serverResponse)) e.detail.shouldSwap = false;
    });

    // A session that ended (expired, signed out in another tab): the
    // server answers a request of the page 401 with HX-Redirect to the
    // sign-in page, which htmx would follow at once, and the text typed
    // would go with the page. Here it stays: no redirect and no swap
    // (htmx:afterRequest still comes), the page says so, and the save
    // goes as soon as the user has signed in again in another tab (the
    // same cookies), with the new session's token.
    var signedOut = false;
    var signIn = "/login";
    var sessionTimer = 0;
    var sessionDelay = 0;
    var account = form.getAttribute("data-account") || "";
    form.addEventListener("htmx:beforeOnLoad", function (e) {
      // Any request of the form: its saves and the address fields'
      // suggestions alike.
      var xhr = e.detail.xhr;
      if (!xhr || xhr.status !== 401) return;
      e.preventDefault();
      signIn = xhr.getResponseHeader("HX-Redirect") || signIn;
      if (e.detail.requestConfig && e.detail.requestConfig.elt !== form) noteSignedOut();
    });

    // noteSignedOut says the session ended and asks the server, until
    // it answers with a session of this page's account, whether one is
    // back.
    function noteSignedOut() {
      signedOut = true;
      unsaved = true;
      clearTimeout(retry); // the session check saves when it is back
      retry = 0;
      showSignedOut("");
      if (!sessionTimer) sessionTimer = setTimeout(checkSession, 0);
    }

    function showSignedOut(other) {
      var line = document.querySelector("#draft-state .draft-saved");
      if (!line) return;
      line.textContent = "";
      line.classList.add("save-failed", "signed-out");
      line.appendChild(document.createTextNode(other ?
        "This browser is now signed in as " + other + ", not " + account + ". " :
        "You were signed out. "));
      var a = document.createElement("a");
      a.href = signIn;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = other ? "Sign in as " + account : "Sign in again";
      line.appendChild(a);
      line.appendChild(document.createTextNode(" (opens in a new tab). Your text stays here, " +
        "and is saved once you have."));
    }

    // checkSession asks for the session's token (JSON: a browser signed
    // out gets 401, not the sign-in page). Signed in again as this
    // page's account, the page takes the new token, for htmx's header
    // (app.js reads the meta) and the form posts, and saves.
    function checkSession() {
      sessionTimer = 0;
      var again = function (other) {
        showSignedOut(other);
        sessionDelay = Math.min(sessionDelay ? sessionDelay + 1000 : 2000, 10000);
        sessionTimer = setTimeout(checkSession, sessionDelay);
      };
      fetch("/compose/session", {headers: {Accept: "application/json"}, credentials: "same-origin", cache: "no-store"})
        .then(function (res) {
          if (res.status !== 200) return null;
          return res.json();
        })
        .then(function (ses) {
          if (!ses || !ses.csrf) return again("");
          if (account && ses.account !== account) return again(ses.account);
          var meta = document.querySelector('meta[name="csrf-token"]');
          signedOut = false;
          sessionDelay = 0;
          var line = document.querySelector("#draft-state .draft-saved");
          if (line) line.classList.remove("signed-out");
          if (meta && meta.getAttribute("content") === ses.csrf) {
            // The page's own session: the refusal (a 403) was not
            // about it, and saving again would meet it again.
            if (line) line.textContent = "Not saved: the server refused it. Your text is still here.";
            return;
          }
          if (meta) meta.setAttribute("content", ses.csrf);
          var fields = document.querySelectorAll('input[name="csrf"]');
          for (var i = 0; i < fields.length; i++) fields[i].value = ses.csrf;
          if (line) line.textContent = "Signed in again: saving\u2026";
          form.dispatchEvent(new Event("change")); // an autosave
        }, function () { again(""); });
    }

    // What is uploading, by name, beside the bar: the file input only
    // says "3 files" (and may hold files chosen since).
    var status = document.getElementById("upload-status");
    form.addEventListener("htmx:xhr:progress", function (e) {
      if (e.target !== form || !sending || !e.detail.lengthComputable) return;
      bar.hidden = false;
      bar.value = Math.round(100 * e.detail.loaded / e.detail.total);
      if (status) {
        status.hidden = false;
        status.textContent = "Uploading " + names(sendingFiles) + ": " + bar.value + " %";
      }
    });
    // The end of every save, whatever its outcome: htmx fires
    // htmx:afterRequest after a network error (htmx:sendError), an
    // abort and a timeout (htmx:timeout) too, then without "successful".
    form.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail.elt !== form) return;
      var out = outcome(e.detail);
      showSaveState(out);
      var cfg = e.detail.requestConfig || {};
      var sent = cfg.filesSent;
      var sentFiles = cfg.filesList || [];
      sending = 0;
      if (!sent) return;
      bar.hidden = true;
      bar.value = 0;
      if (status) { status.hidden = true; status.textContent = ""; }
      var failed = filesNotStored(out);
      if (sent !== pending) {
        // Files chosen again meanwhile wait for a save of their own
        // (queued behind this one). If this one failed, its files go
        // with them, back in the input beside them.
        if (!failed) return;
        var all = sentFiles.concat(pending ? pendingFiles : []);
        if (setFiles(all)) {
          pendingFiles = all;
          if (!pending) pending = sent;
          hint.textContent = failed;
        } else {
          hint.textContent = "Not attached: " + names(sentFiles) + ". Choose them again.";
        }
        hint.classList.add("files-error");
        return;
      }
      if (failed) {
        // The draft does not have them: they stay in the input and
        // pending, so the next save (autosave, "Save draft", Send) sends
        // them again; say so until one stores them.
        hint.textContent = failed;
        hint.classList.add("files-error");
        return;
      }
      // They went (or were refused for good, 413, the reason shown):
      // never send them twice.
      pending = 0;
      pendingFiles = [];
      files.value = "";
      hint.textContent = hintText;
      hint.classList.remove("files-error");
    });

    // outcome says whether a save stored the draft: null if it did,
    // else why not (reason, to follow "Not saved: "), whether trying
    // again may help (again), whether no answer came (conn), and whether
    // the files it carried were refused for good (413, over the limit:
    // the same files would meet it again). Every answer but a 2xx with
    // the draft state leaves the draft as it was.
    function outcome(d) {
      var xhr = d.xhr;
      var st = xhr ? xhr.status : 0;
      if (!st) return {reason: "the connection failed.", again: true, conn: true};
      if (st === 401) return {reason: "you were signed out.", signedOut: true};
      var body = xhr.responseText || "";
      if (isDraftState(body)) {
        // The answer was swapped in before htmx:afterRequest: the draft
        // state, with the reason it was not saved, if it was not.
        var state = document.getElementById("draft-state");
        if (st >= 200 && st < 300 && state && !state.querySelector(".alert-error")) return null;
        if (st === 503) return {reason: "the server is busy.", again: true};
        return {reason: "see the message above.", again: false, forGood: st === 413};
      }
      // The server's own error line (web.Error), not a proxy's page: to
      // a save, its 503 is a full disk (a busy server answers the draft
      // state).
      var own = /^\s*<p class="error" role="alert">/.test(body);
      if (st === 503 && own) return {reason: "the server is out of space.", again: true};
      if (st >= 500) {
        return {reason: own ? "something went wrong on the server." : "the server could not be reached.", again: true};
      }
      // A proxy's limit on the way: the same files would meet it again.
      if (st === 413) return {reason: "the files are too large.", again: false, forGood: true};
      // The server's refusal of the token: a session other than the
      // page's (signed in again elsewhere before a save told the page
      // it was signed out). The session check takes the new one.
      if (st === 403 && own) return {reason: "the form's session has ended.", signedOut: true};
      return {reason: "the server refused it (" + st + ").", again: false};
    }

    // Why the files a save carried are not in the draft, for the line
    // beside them, or "" if they are or were refused for good (413: the
    // draft state names it, and the files are cleared as for any
    // answer).
    function filesNotStored(out) {
      if (!out || out.forGood) return "";
      var later = " They go with the next save.";
      if (out.conn) return "Not attached yet: the connection failed." + later;
      if (out.signedOut) return "Not attached yet: you were signed out." + later;
      return "Not attached yet: the draft was not saved." + later;
    }

    // The draft state's line says how the last save went: the server
    // writes "Draft saved at …" into each draft state it answers, so a
    // save that stores the draft clears a failure; one that did not
    // store it says why here, and is tried again, sooner, then less
    // often, while the answer may change (no answer, 5xx). Until a save
    // stores the draft, leaving the page asks first.
    var unsaved = false;
    var retry = 0;
    var retryDelay = 0;
    function showSaveState(out) {
      unsaved = !!out;
      if (!out) {
        retryDelay = 0;
        return;
      }
      if (out.signedOut) {
        noteSignedOut();
        return;
      }
      var line = document.querySelector("#draft-state .draft-saved");
      if (line) {
        line.textContent = "Not saved: " + out.reason + " Your text is still here" +
          (out.again ? "; trying again\u2026" : ".");
        line.classList.add("save-failed");
      }
      if (!out.again) return;
      clearTimeout(retry);
      retryDelay = Math.min(retryDelay ? 2 * retryDelay : 10000, 60000);
      retry = setTimeout(function () {
        retry = 0;
        form.dispatchEvent(new Event("change")); // an autosave
      }, retryDelay);
    }
    var leaving = false; // the form is sent: the page goes with its data
    window.addEventListener("beforeunload", function (e) {
      if (!unsaved || leaving) return;
      e.preventDefault();
      e.returnValue = "Your changes are not saved yet.";
    });

    // A send waits for the end of a save in flight, whose answer carries
    // the draft's new version (swapped in before htmx:afterRequest);
    // whatever its outcome: a failed save is never settled
    // (htmx:afterSettle), and the send carries the form itself.
    var waiting = false;
    form.addEventListener("submit", function (e) {
      if (signedOut) {
        // The post would meet the sign-in wall, and the page would go
        // with the text: the line says what to do.
        e.preventDefault();
        showSignedOut("");
        return;
      }
      if (!form.classList.contains("htmx-request")) {
        leaving = true;
        return;
      }
      e.preventDefault();
      if (waiting) return;
      waiting = true;
      var submitter = e.submitter;
      form.addEventListener("htmx:afterRequest", function again(e) {
        if (e.detail.elt !== form) return;
        form.removeEventListener("htmx:afterRequest", again);
        // Once htmx has started the save queued behind this one, if
        // any (right after this event): the send waits for it too, as
        // it replaces the draft the send would name.
        setTimeout(function () {
          waiting = false;
          // A button of the draft state ("Remove", "Save as a new
          // draft") stays through the save's answer (updateState)
          // unless the new state no longer has it: then the press is
          // for what is no longer there (requestSubmit refuses a
          // button no longer in the form).
          if (submitter && !form.contains(submitter)) return;
          form.requestSubmit(submitter);
        }, 0);
      });
    });

    // Ctrl+Enter (Cmd+Enter) sends.
    form.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        form.requestSubmit(document.getElementById("send-button"));
      }
    });
  }

  // updateState puts the draft state a save answered (html) into the
  // page's in place, instead of swapping the whole for it: each element
  // that is the same in both stays the very node. A button replaced
  // under a press lost it: leaving the message field for the button
  // starts a save (its "change"), whose answer came between the
  // button's mousedown and mouseup, and a click needs both on one node.
  // A user who had tabbed to it lost the focus too. It reports whether
  // it did (an answer without the draft state is left to htmx).
  function updateState(html) {
    var cur = document.getElementById("draft-state");
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var next = tpl.content.getElementById("draft-state");
    if (!cur || !next) return false;
    patch(cur, next);
    return true;
  }

  // patch makes cur like next: its attributes, then its children pair
  // by pair, keeping each old child that is the same node (sameNode) and
  // patching it in turn, taking the new one in place of any other.
  function patch(cur, next) {
    var i;
    var attrs = toArray(cur.attributes);
    for (i = 0; i < attrs.length; i++) {
      if (!next.hasAttribute(attrs[i].name)) cur.removeAttribute(attrs[i].name);
    }
    attrs = toArray(next.attributes);
    for (i = 0; i < attrs.length; i++) {
      if (cur.getAttribute(attrs[i].name) !== attrs[i].value) cur.setAttribute(attrs[i].name, attrs[i].value);
    }
    if (cur.tagName === "INPUT") cur.value = next.value;
    var olds = toArray(cur.childNodes);
    var news = toArray(next.childNodes);
    for (i = 0; i < news.length; i++) {
      var o = olds[i];
      var n = news[i];
      if (!o) cur.appendChild(n);
      else if (!sameNode(o, n)) cur.replaceChild(n, o);
      else if (n.nodeType === 1) patch(o, n);
      else if (o.nodeValue !== n.nodeValue) o.nodeValue = n.nodeValue;
    }
    for (; i < olds.length; i++) cur.removeChild(olds[i]);
  }

  // sameNode: a and b may be one node, patched: the same kind, and for
  // a control the same one (controlKey), never a Remove of another file
  // in its place.
  function sameNode(a, b) {
    if (a.nodeType !== b.nodeType) return false;
    return a.nodeType !== 1 || (a.tagName === b.tagName && controlKey(a) === controlKey(b));
  }

  // controlKey says what an element does: a button by its name, value
  // and label (a Remove names its file by both), a field by its name, a
  // link by its address; "" for the rest.
  function controlKey(el) {
    switch (el.tagName) {
    case "BUTTON":
      return el.name + "=" + el.value + " " + (el.getAttribute("aria-label") || el.textContent);
    case "INPUT":
      return el.type + " " + el.name;
    case "A":
      return el.getAttribute("href") || "";
    }
    return "";
  }

  // isDraftState tells a save's answer that is the draft state (what the
  // page swaps in) from any other page: a proxy's, a sign-in page.
  function isDraftState(body) { return /id="draft-state"/.test(body || ""); }

  function toArray(list) { return Array.prototype.slice.call(list || []); }

  function names(list) {
    return list.map(function (f) { return f.name; }).join(", ");
  }

  function countdown() {
    var el = document.getElementById("undo-seconds");
    if (!el) return;
    var at = parseInt(el.getAttribute("data-send-at"), 10);
    // Due already when the page came: the sender is catching up, so
    // look again less often than right after a countdown.
    var due = at <= Date.now();
    var tick = function () {
      var left = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      el.textContent = String(left);
      if (left === 0) {
        clearInterval(timer);
        setTimeout(function () { location.reload(); }, due ? 5000 : 1500);
      }
    };
    var timer = setInterval(tick, 250);
    tick();
  }

  function start() { composeForm(); countdown(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
