// xtramail: runs the page's scripts after its first paint. The layout
// lists them as <link rel="preload" as="script" data-late> (fetched while
// the page parses, run by nobody yet); this file, loaded async, adds them
// as scripts in document order once the browser has painted, so that
// compiling and running htmx and our scripts never delays the first
// contentful paint. Every page works without them: links and forms are
// plain HTML, the scripts only make them quicker.
//
// A late script can miss DOMContentLoaded (htmx waits for it while the
// document is not yet "complete"): when one ran before that, the event is
// sent again after the last one, for the listeners they added. <html>
// says data-scripts="starting" once this file runs and "ready" when they
// have all run (tests wait for it).
(function () {
  "use strict";
  // "starting" tells "not run yet" from "never runs" (script off): a
  // page complete while still "loading" has no scripts to wait for.
  document.documentElement.setAttribute("data-scripts", "starting");
  var started = false;
  function run() {
    if (started) { return; }
    started = true;
    var links = document.querySelectorAll("link[data-late]");
    var left = links.length, early = false;
    function done() {
      if (document.readyState !== "complete") { early = true; }
      if (--left > 0) { return; }
      if (early) { document.dispatchEvent(new Event("DOMContentLoaded")); }
      document.documentElement.setAttribute("data-scripts", "ready");
    }
    if (left === 0) { left = 1; done(); return; }
    links.forEach(function (link) {
      var s = document.createElement("script");
      s.src = link.href;
      s.async = false; // in order: htmx before what uses it
      s.onload = s.onerror = done;
      document.head.appendChild(s);
    });
  }
  function afterPaint() {
    // A hidden tab does not paint (nor run animation frames).
    if (document.hidden) { run(); return; }
    // The frame's callbacks run before it paints; a task queued from
    // one runs after.
    requestAnimationFrame(function () { setTimeout(run, 0); });
    document.addEventListener("visibilitychange", run, { once: true });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", afterPaint, { once: true });
  } else {
    afterPaint();
  }
})();
