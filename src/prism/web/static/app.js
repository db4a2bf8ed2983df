// Prism dashboard: live arcs (Server-Sent Events, falling back to polling) and copy buttons.
// No library; everything else is server-rendered.
(function () {
  "use strict";

  // --- copy buttons ---------------------------------------------------------------------------
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(target.textContent).then(
        function () { button.textContent = "Copied"; },
        function () { button.textContent = "Select and copy"; }
      );
    });
  });

  // --- live arcs ------------------------------------------------------------------------------
  var body = document.querySelector("[data-live-arcs]");
  if (!body) { return; }
  var status = document.querySelector("[data-live-status]");
  var fragmentUrl = body.getAttribute("data-fragment");
  var streamUrl = body.getAttribute("data-stream");
  var pollUrl = body.getAttribute("data-poll");
  var POLL_MS = 10000;
  var busy = false;
  var again = false;
  var pollTimer = null;
  var lastSignature = null;

  function say(text) { if (status) { status.textContent = text; } }

  function known() {
    var ids = {};
    body.querySelectorAll("tr[data-arc-id]").forEach(function (row) {
      ids[row.getAttribute("data-arc-id") + "|" + row.getAttribute("data-status")] = true;
    });
    return ids;
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    var before = known();
    fetch(fragmentUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }
        body.innerHTML = html;
        var fresh = 0;
        body.querySelectorAll("tr[data-arc-id]").forEach(function (row) {
          var key = row.getAttribute("data-arc-id") + "|" + row.getAttribute("data-status");
          if (!before[key]) { row.classList.add("is-new"); fresh += 1; }
        });
        var time = new Date().toLocaleTimeString();
        say(fresh ? "Updated at " + time + ": " + fresh + (fresh === 1 ? " arc changed" : " arcs changed")
                  : "Updated at " + time);
      })
      .catch(function () { /* a dropped request: the next event or poll retries */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function poll() {
    fetch(pollUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (rows) {
        if (!rows) { return; }
        var signature = rows.map(function (r) { return r.id + ":" + r.status + ":" + r.updated_at; }).join("|");
        if (lastSignature !== null && signature !== lastSignature) { refresh(); }
        lastSignature = signature;
      })
      .catch(function () { /* try again at the next tick */ });
  }

  function startPolling() {
    if (pollTimer !== null) { return; }
    body.setAttribute("data-live", "poll");
    say("Live updates: checking every " + POLL_MS / 1000 + " s");
    poll();
    pollTimer = window.setInterval(poll, POLL_MS);
  }

  if (!("EventSource" in window) || !streamUrl) { startPolling(); return; }
  var source = new EventSource(streamUrl, { withCredentials: true });
  ["prism.score_v3.sub_session.created", "prism.score_v3.sub_session.updated",
   "prism.score_v3.sub_session.scored"].forEach(function (type) {
    source.addEventListener(type, refresh);
  });
  source.addEventListener("open", function () { say("Live updates on"); body.setAttribute("data-live", "stream"); });
  source.addEventListener("error", function () {
    // CONNECTING: the browser retries by itself. CLOSED: the stream was refused; poll instead.
    if (source.readyState === EventSource.CLOSED) {
      startPolling();
    } else {
      say("Live updates: reconnecting…");
    }
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
