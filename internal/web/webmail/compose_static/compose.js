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

    // Refuse too large a selection before uploading it.
    files.addEventListener("change", function (e) {
      var total = 0;
      for (var i = 0; i < files.files.length; i++) total += files.files[i].size;
      hint.textContent = hintText;
      hint.classList.remove("files-error");
      if (limit && total > limit) {
        e.stopPropagation(); // no autosave of it
        files.value = "";
        hint.textContent = "Those files are too large together. " + hintText;
        hint.classList.add("files-error");
      }
    }, true);

    // An autosave sends the text fields only: the files go once, with
    // the save their own "change" starts, and the server keeps them in
    // the draft from then on.
    form.addEventListener("htmx:configRequest", function (e) {
      var ev = e.detail.triggeringEvent;
      if (!ev || ev.target !== files) e.detail.formData.delete("files");
    });

    // Files refused (413: over the limit, the limit named; 503: the
    // server is busy) come back as the draft state with the reason:
    // show it, as htmx does not swap error answers by itself.
    form.addEventListener("htmx:beforeSwap", function (e) {
      var st = e.detail.xhr.status;
      if (st === 413 || st === 503) {
        e.detail.shouldSwap = true;
        e.detail.isError = false;
      }
    });

    // What is uploading, by name, beside the bar: the file input only
    // says "3 files".
    var status = document.getElementById("upload-status");
    form.addEventListener("htmx:xhr:progress", function (e) {
      if (!files.files.length || !e.detail.lengthComputable) return;
      bar.hidden = false;
      bar.value = Math.round(100 * e.detail.loaded / e.detail.total);
      if (status) {
        var names = [];
        for (var i = 0; i < files.files.length; i++) names.push(files.files[i].name);
        status.hidden = false;
        status.textContent = "Uploading " + names.join(", ") + ": " + bar.value + " %";
      }
    });
    form.addEventListener("htmx:afterRequest", function (e) {
      // The files went with their own save: never send them twice. A
      // save of the text that was in flight when they were chosen must
      // leave them to the save queued behind it ("queue last"), which
      // would otherwise go without them.
      var ev = e.detail.requestConfig && e.detail.requestConfig.triggeringEvent;
      if (!ev || ev.target !== files) return;
      files.value = "";
      bar.hidden = true;
      bar.value = 0;
      if (status) { status.hidden = true; status.textContent = ""; }
    });

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
