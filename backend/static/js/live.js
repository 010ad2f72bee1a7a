/* Live updates for server-rendered pages (progressive enhancement).
 *
 * Mark a part of a page:
 *   <section data-live-refresh="/console/panel"        fragment URL (GET)
 *            data-live-kinds="ticket_called,window_state"   event kinds, comma-separated
 *            data-live-after="{{ live_cursor() }}">    the event the page already shows
 * live.js opens one EventSource on /live/events (the signed-in user's hall) for all
 * marked parts, and re-fetches a part's fragment when a matching event arrives.
 * A part may name its own stream with data-live-source (the phone pages do).
 *
 * A part whose content carries <span hidden data-live-seq="N"> (the event it already
 * includes, e.g. after an action re-rendered it) is not refreshed for events up to N,
 * and is never replaced by a response that shows an older event.
 *
 * A refresh that fails dispatches "live:failed" (detail.status, 0 for no answer).
 *
 * Scripts can also listen: HallLive.on("ticket_called", function (event) {...}),
 * and replace a part's content: HallLive.swap(element, html).
 * Fragment requests carry the X-Hallkit-Fragment header; the server answers
 * with the part's inner HTML.
 */
(function () {
  "use strict";
  var listeners = {};
  var FRAGMENT = { "X-Hallkit-Fragment": "1" };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  var SEQ = /data-live-seq="(\d+)"/;

  // Responses can arrive out of order (a refresh started before an action, answered
  // after it): never replace content with content that shows an older event.
  function shownSeq(element) {
    var marker = element.querySelector("[data-live-seq]");
    return marker ? parseInt(marker.dataset.liveSeq, 10) : NaN;
  }

  function swap(element, html) {
    var incoming = SEQ.exec(html);
    if (incoming && parseInt(incoming[1], 10) < shownSeq(element)) return;
    element.innerHTML = html;
    element.dispatchEvent(new CustomEvent("live:swapped", { bubbles: true }));
  }

  // A refresh that failed (status 0: no answer), for scripts that care (the console
  // goes to the hall hub's console when the centre is gone: hub_redirect.js).
  function failed(element, status) {
    element.dispatchEvent(new CustomEvent("live:failed", { bubbles: true, detail: { status: status } }));
  }

  function refresher(element) {
    var busy = false, again = false;
    return function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(element.dataset.liveRefresh, { headers: FRAGMENT, credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 401) { window.location.reload(); return null; }
          if (!response.ok) failed(element, response.status);
          return response.ok ? response.text() : null;
        })
        .then(function (html) { if (html !== null) swap(element, html); })
        // The next event or reconnect refreshes again; a page may also act on it.
        .catch(function () { failed(element, 0); })
        .then(function () { busy = false; if (again) { again = false; refresh(); } });
    };
  }

  function connect(url, kinds, onEvent) {
    var source = new EventSource(url, { withCredentials: true });
    kinds.forEach(function (kind) {
      source.addEventListener(kind, function (message) {
        var data = null;
        try { data = JSON.parse(message.data); } catch (e) { data = null; }
        onEvent(kind, data);
      });
    });
    return source;
  }

  function emit(kind, data) {
    (listeners[kind] || []).concat(listeners["*"] || []).forEach(function (fn) { fn(data, kind); });
  }

  function start() {
    var parts = Array.prototype.slice.call(document.querySelectorAll("[data-live-refresh]"));
    var hallParts = [], kinds = {}, after = null;
    parts.forEach(function (element) {
      var refresh = refresher(element);
      element.hallLiveRefresh = refresh;
      var own = (element.dataset.liveKinds || "").split(",").filter(Boolean);
      if (element.dataset.liveSource) {
        connect(element.dataset.liveSource, own, function () { refresh(); });
        return;
      }
      hallParts.push({ element: element, kinds: own, refresh: refresh });
      own.forEach(function (kind) { kinds[kind] = true; });
      var cursor = parseInt(element.dataset.liveAfter || "", 10);
      if (!isNaN(cursor)) after = after === null ? cursor : Math.min(after, cursor);
    });
    var wanted = Object.keys(kinds).concat(Object.keys(listeners).filter(function (k) { return k !== "*"; }));
    if (!hallParts.length && !wanted.length) return;
    var url = "/live/events?kinds=" + encodeURIComponent(wanted.join(",")) + (after === null ? "" : "&after=" + after);
    connect(url, wanted, function (kind, data) {
      hallParts.forEach(function (part) {
        if (part.kinds.indexOf(kind) < 0) return;
        // A part re-rendered by an action already shows the events up to its marker.
        var shown = shownSeq(part.element);
        if (data && typeof data.seq === "number" && !isNaN(shown) && data.seq <= shown) return;
        part.refresh();
      });
      emit(kind, data);
    });
  }

  window.HallLive = {
    on: function (kind, fn) { (listeners[kind] = listeners[kind] || []).push(fn); },
    swap: swap,
    csrfToken: csrfToken,
    fragmentHeaders: function () {
      return { "X-Hallkit-Fragment": "1", "X-CSRFToken": csrfToken() };
    },
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
