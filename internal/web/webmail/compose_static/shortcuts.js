// xtramail webmail: keyboard shortcuts. A page marks what a key does with
// data-shortcut="KEY" on a link or button (r reply, a reply all, f
// forward, e archive, # delete, u back to the list); list rows are
// .list-row (j/k move, o or Enter opens; e and # act on the ticked rows,
// or on the row moved to when none is ticked). c composes, / goes to the
// search box, ? shows this help. Keys are ignored while typing.
(function () {
  "use strict";
  var help = [
    ["j / k", "Next / previous message"],
    ["o or Enter", "Open the message"],
    ["u", "Back to the list"],
    ["r", "Reply"],
    ["a", "Reply to all"],
    ["f", "Forward"],
    ["c", "Compose a new message"],
    ["e", "Archive"],
    ["#", "Delete"],
    ["/", "Search"],
    ["Ctrl+Enter", "Send (while writing)"],
    ["?", "Show these shortcuts"]
  ];

  function typing(el) {
    if (!el) return false;
    var t = el.tagName;
    return t === "INPUT" || t === "TEXTAREA" || t === "SELECT" || el.isContentEditable;
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll(".list-row")); }

  function move(step) {
    var list = rows();
    if (!list.length) return;
    var cur = list.findIndex(function (r) { return r.classList.contains("is-selected") || r.contains(document.activeElement); });
    var next = cur < 0 ? 0 : Math.min(list.length - 1, Math.max(0, cur + step));
    list.forEach(function (r) { r.classList.remove("is-selected"); });
    var row = list[next];
    row.classList.add("is-selected");
    var link = row.querySelector("a[href]") || row;
    if (link === row && !row.hasAttribute("tabindex")) row.setAttribute("tabindex", "-1");
    link.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function open() {
    var row = selectedRow();
    if (!row) return false;
    var link = row.querySelector("a[href]");
    if (link) { link.click(); return true; }
    return false;
  }

  function selectedRow() {
    return document.querySelector(".list-row.is-selected") || (document.activeElement && document.activeElement.closest && document.activeElement.closest(".list-row"));
  }

  function trigger(key) {
    var el = document.querySelector('[data-shortcut="' + key + '"]');
    if (!el) return false;
    var form = el.form;
    if (form && form.classList.contains("list-form") && !form.querySelector("input[name=id]:checked")) {
      // On a list with nothing ticked, e and # act on the row that j/k
      // moved to.
      var row = selectedRow();
      var box = row && row.querySelector("input[name=id]");
      if (!box) return false;
      box.checked = true;
    }
    el.click();
    return true;
  }

  var dialog = null;
  function showHelp() {
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.className = "shortcut-help";
      dialog.setAttribute("aria-labelledby", "shortcut-help-title");
      var h = document.createElement("h2");
      h.id = "shortcut-help-title";
      h.textContent = "Keyboard shortcuts";
      dialog.appendChild(h);
      var dl = document.createElement("dl");
      dl.className = "kbd-list";
      help.forEach(function (row) {
        var dt = document.createElement("dt");
        var k = document.createElement("kbd");
        k.textContent = row[0];
        dt.appendChild(k);
        var dd = document.createElement("dd");
        dd.textContent = row[1];
        dl.appendChild(dt);
        dl.appendChild(dd);
      });
      dialog.appendChild(dl);
      var form = document.createElement("form");
      form.method = "dialog";
      var b = document.createElement("button");
      b.className = "btn";
      b.textContent = "Close";
      form.appendChild(b);
      dialog.appendChild(form);
      document.body.appendChild(dialog);
    }
    if (!dialog.open) dialog.showModal();
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (dialog && dialog.open) return;
    var done = true;
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o": done = open(); break;
      case "Enter": done = document.activeElement === document.body ? open() : false; break;
      case "c": location.href = "/compose"; break;
      case "/": {
        var s = document.querySelector('input[type="search"]');
        if (s) s.focus(); else location.href = "/search";
        break;
      }
      case "?": showHelp(); break;
      case "u": if (!trigger("u")) location.href = "/"; break;
      case "r": case "a": case "f": case "e": case "#":
        done = trigger(e.key); break;
      default: done = false;
    }
    if (done) e.preventDefault();
  });
})();
