// envdash's pages are complete without this script: Jenkins serves archived files
// under a Content-Security-Policy with `sandbox`, where no script runs at all, and
// some readers turn script off. Where it runs, it adds:
// - the reader's local time on hover of every UTC time;
// - a warning when the page has not been renewed in time (a stopped dashboard job
//   must be visible from the browser);
// - the page's reload every `data-refresh` seconds, and the footer line saying so
//   (a page that cannot reload itself never claims to);
// - on environment pages, the filter box (hidden without script).
(function () {
  "use strict";
  var b = document.body;

  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) return;
    t.title = d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short" }) + " (your time)";
  });

  var at = Date.parse(b.dataset.time), limit = Number(b.dataset.staleAfter) * 1000;
  function check() {
    var age = Date.now() - at, w = document.getElementById("page-stale");
    if (!w || !limit || isNaN(at) || age <= limit) return;
    w.hidden = false;
    w.textContent = "This page is " + Math.round(age / 60000) + " minutes old: the dashboard job may have stopped, so what it shows may no longer be true.";
  }
  check();
  setInterval(check, 60000);

  // What <meta http-equiv="refresh"> did, which a sandboxed page refuses. A reload
  // keeps the address, and with it what was typed in the filter (?q=).
  var every = Number(b.dataset.refresh);
  if (every > 0) {
    var said = document.getElementById("reloads");
    if (said) said.hidden = false;
    setTimeout(function () { location.reload(); }, every * 1000);
  }

  // The filter narrows the tables to rows that contain what is typed (a host's name
  // keeps all of its rows). What is typed is kept in the address (?q=) so that the
  // page's own reload, a bookmark or a shared link keep the filter.
  var box = document.getElementById("filter");
  if (!box) return;
  box.parentNode.parentNode.hidden = false;
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.host"));
  var total = document.querySelectorAll("section.host tbody tr:not(.logs)").length;
  var count = document.getElementById("filter-count");
  function apply() {
    var q = box.value.trim().toLowerCase(), shown = 0;
    sections.forEach(function (s) {
      var hostHit = Boolean(q) && s.querySelector("h2").textContent.toLowerCase().indexOf(q) >= 0, any = false;
      s.querySelectorAll("tbody tr:not(.logs)").forEach(function (r) {
        var hit = !q || hostHit || r.textContent.toLowerCase().indexOf(q) >= 0;
        r.hidden = !hit;
        // A container's log lines come and go with its row.
        var next = r.nextElementSibling;
        if (next && next.classList.contains("logs")) next.hidden = !hit;
        shown += hit;
        any = any || hit;
      });
      s.hidden = Boolean(q) && !any && !hostHit;
    });
    count.textContent = q ? shown + " of " + total + " containers" : "";
  }
  function remember() {
    try {
      var u = new URL(location.href);
      if (box.value) u.searchParams.set("q", box.value); else u.searchParams.delete("q");
      history.replaceState(null, "", u.href);
    } catch (e) { /* some file:// settings refuse; the filter still works */ }
  }
  box.addEventListener("input", function () { apply(); remember(); });
  var q = new URLSearchParams(location.search).get("q");
  if (q) { box.value = q; apply(); }
})();
