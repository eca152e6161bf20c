// xtramail webmail: compose page behaviour (upload progress and size
// check, sending only after a save in flight, Ctrl+Enter to send) and
// the undo countdown. Without it, the page still works by plain form
// posts.
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

    // Refuse too large a selection before uploading it.
    files.addEventListener("change", function (e) {
      var total = 0;
      for (var i = 0; i < files.files.length; i++) total += files.files[i].size;
      hint.textContent = hintText;
      hint.classList.remove("files-error");
      chosen++;
      pending = files.files.length ? chosen : 0;
      if (limit && total > limit) {
        e.stopPropagation(); // no autosave of it
        files.value = "";
        pending = 0;
        hint.textContent = "Those files are too large together. " + hintText;
        hint.classList.add("files-error");
      }
    }, true);

    // The form's own saves only: the address fields' suggestions are
    // requests of their own, whose events bubble up to the form.
    var sendingNames = []; // what the progress names: the save's files
    form.addEventListener("htmx:configRequest", function (e) {
      if (e.detail.elt !== form) return;
      sending = pending;
      e.detail.filesSent = pending; // read back at the save's end
      sendingNames = [];
      if (!pending) {
        e.detail.formData.delete("files");
        return;
      }
      for (var i = 0; i < files.files.length; i++) sendingNames.push(files.files[i].name);
    });

    // Files refused (413: over the limit, the limit named; 503: the
    // server is busy) come back as the draft state with the reason:
    // show it, as htmx does not swap error answers by itself. Only the
    // draft state: a proxy's 503 page in its place would take the
    // draft's id (and every later save's target) with it.
    form.addEventListener("htmx:beforeSwap", function (e) {
      var st = e.detail.xhr.status;
      if ((st === 413 || st === 503) && /id="draft-state"/.test(e.detail.serverResponse || "")) {
        e.detail.shouldSwap = true;
        e.detail.isError = false;
      }
    });

    // What is uploading, by name, beside the bar: the file input only
    // says "3 files" (and may hold files chosen since).
    var status = document.getElementById("upload-status");
    form.addEventListener("htmx:xhr:progress", function (e) {
      if (e.target !== form || !sending || !e.detail.lengthComputable) return;
      bar.hidden = false;
      bar.value = Math.round(100 * e.detail.loaded / e.detail.total);
      if (status) {
        status.hidden = false;
        status.textContent = "Uploading " + sendingNames.join(", ") + ": " + bar.value + " %";
      }
    });
    // The end of every save, whatever its outcome: htmx fires
    // htmx:afterRequest after a network error (htmx:sendError), an
    // abort and a timeout (htmx:timeout) too, then without "successful".
    form.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail.elt !== form) return;
      var sent = e.detail.requestConfig && e.detail.requestConfig.filesSent;
      sending = 0;
      if (!sent) return;
      bar.hidden = true;
      bar.value = 0;
      if (status) { status.hidden = true; status.textContent = ""; }
      // Files chosen again meanwhile wait for a save of their own
      // (queued behind this one), whatever became of this one.
      if (sent !== pending) return;
      var failed = notStored(e.detail);
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
      files.value = "";
      hint.textContent = hintText;
      hint.classList.remove("files-error");
    });

    // Why a save that carried files did not store them, or "" if it did
    // or refused them for good. A 413 (over the size limit) is a refusal
    // the same files would meet again: the draft state names it, and the
    // files are cleared as for any answer. Every other answer but a 2xx
    // storing the draft leaves the draft without them: no answer (the
    // connection failed, the save timed out), a proxy's or the server's
    // error (5xx, 503 "busy" included: they would go if sent again), or a
    // draft state swapped in with a reason (an address the server cannot
    // read: the draft was not saved).
    function notStored(d) {
      var st = d.xhr ? d.xhr.status : 0;
      if (st === 413) return "";
      var later = " They go with the next save.";
      if (!st) return "Not attached yet: the connection failed." + later;
      if (!d.successful || st < 200 || st >= 300 || st === 503) {
        return "Not attached yet: the draft was not saved." + later;
      }
      // The answer was swapped in before htmx:afterRequest: the draft
      // state, without a reason it was not saved.
      var state = document.getElementById("draft-state");
      if (!state || state.querySelector(".alert-error")) {
        return "Not attached yet: the draft was not saved." + later;
      }
      return "";
    }

    // A send waits for a save in flight, whose answer carries the
    // draft's new version.
    var waiting = false;
    form.addEventListener("submit", function (e) {
      if (!form.classList.contains("htmx-request")) return;
      e.preventDefault();
      if (waiting) return;
      waiting = true;
      var submitter = e.submitter;
      form.addEventListener("htmx:afterSettle", function again() {
        form.removeEventListener("htmx:afterSettle", again);
        waiting = false;
        form.requestSubmit(submitter);
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
