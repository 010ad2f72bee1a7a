/* 转到大厅控制器: take the clerk to the hall hub's console when the centre cannot
 * decide for the hall (issue 15; docs/web.md, "The console through an outage").
 *
 * Exactly one side decides a hall's queue at a time: the centre while the hall hub is
 * online, the hub while it is offline or replaying what it did offline. A clerk should
 * not need to know which one answers, so this page moves itself to the hub's console
 * (the address the hub reports, halls.hub_console_url, in #hub-redirect) when:
 *  - the hub's own <console>/mode, asked from this browser every POLL_MS (the hub
 *    answers it with Access-Control-Allow-Origin: *), says offline or replaying: the
 *    centre may answer this browser, but the hub cannot reach it (a partition), so the
 *    hub decides;
 *  - the centre answers an action with 409 hall_replaying;
 *  - the centre cannot be reached: an action, a live refresh or the small probe of
 *    /healthz (every POLL_MS) fails with a network error, a timeout or 502/503/504
 *    (503 is also what it answers when its database is gone). Then the hub is asked
 *    at once: if it does not answer, or says offline, the page goes; if it still says
 *    online (it has not noticed yet, or only this browser's link is broken) the page
 *    stays with a banner and a link, because the hub console, online, sends the clerk
 *    straight back here and a dead page would show only the browser's error.
 * A banner says why before the page changes. With no hub console known nothing here
 * changes the page (console.js keeps its plain-form fallback).
 * console.js reports its answers through HallHub.answered() and HallHub.unreachable().
 */
(function () {
  "use strict";
  var config = document.getElementById("hub-redirect");
  if (!config) return;
  var hubConsole = config.dataset.hubConsole || "";
  var modeUrl = config.dataset.hubModeUrl || "";
  var probeUrl = config.dataset.backendProbe || "";
  var text = {
    unreachable: config.dataset.textUnreachable,
    waiting: config.dataset.textWaiting,
    offline: config.dataset.textOffline,
    replaying: config.dataset.textReplaying,
    link: config.dataset.textLink,
  };
  // A hall uses the default; the browser tests shorten it (window.hallkitHubPollMs).
  var POLL_MS = window.hallkitHubPollMs || 5000;
  var SHOW_BANNER_MS = 1500; // long enough to read why the page changes
  var REQUEST_TIMEOUT_MS = 4000; // a link that times out counts as down
  var UNAVAILABLE = [0, 502, 503, 504]; // 0: no answer at all
  var leaving = false;
  var banner = null;

  function unavailable(status) { return UNAVAILABLE.indexOf(status) >= 0; }

  function showBanner(message, kind) {
    if (!banner) {
      banner = document.createElement("div");
      banner.setAttribute("role", "alert");
      banner.setAttribute("data-hub-banner", "");
      var flash = document.getElementById("flash") || document.body;
      flash.insertBefore(banner, flash.firstChild);
    }
    banner.className = "flash flash-warning hub-banner";
    banner.dataset.hubBanner = kind;
    banner.textContent = message + " ";
    var link = document.createElement("a");
    link.href = hubConsole;
    link.textContent = text.link;
    banner.appendChild(link);
  }

  function go(message, kind) {
    if (leaving) return;
    leaving = true;
    showBanner(message, kind);
    window.setTimeout(function () { window.location.assign(hubConsole); }, SHOW_BANNER_MS);
  }

  function timedFetch(url, options) {
    var controller = new AbortController();
    var timer = window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    options.signal = controller.signal;
    return fetch(url, options).finally(function () { window.clearTimeout(timer); });
  }

  // The hub's mode ("online" | "offline" | "replaying"), or null when it does not answer.
  function askHub() {
    if (!modeUrl) return Promise.resolve(null);
    return timedFetch(modeUrl, { cache: "no-store", credentials: "omit", mode: "cors" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) { return answer && typeof answer.mode === "string" ? answer.mode : null; })
      .catch(function () { return null; });
  }

  // Whether the centre answers (its /healthz reads the database).
  function probeCentre() {
    return timedFetch(probeUrl, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) { return !unavailable(response.status); })
      .catch(function () { return false; });
  }

  function decide(mode, centreUp) {
    if (leaving) return;
    if (mode === "offline") return go(centreUp ? text.offline : text.unreachable, "offline");
    if (mode === "replaying") return go(text.replaying, "replaying");
    if (centreUp) {
      if (banner) { banner.remove(); banner = null; } // it answers again
      return;
    }
    if (mode === "online") return showBanner(text.waiting, "waiting");
    go(text.unreachable, "unreachable"); // the hub does not say: it is the only way on
  }

  function unreachable() {
    if (!hubConsole) return false;
    if (leaving) return true;
    askHub().then(function (mode) { decide(mode, false); });
    return true;
  }

  function tick() {
    if (leaving) return;
    Promise.all([askHub(), probeCentre()])
      .then(function (answers) { decide(answers[0], answers[1]); })
      .then(function () { window.setTimeout(tick, POLL_MS); });
  }

  window.HallHub = {
    // An action's answer (console.js): true when this script took over.
    answered: function (response, body) {
      if (!hubConsole) return false;
      if (unavailable(response.status)) return unreachable();
      var replaying = response.status === 409 &&
        (response.headers.get("X-Hallkit-Error") === "hall_replaying" || body.indexOf("hall_replaying") >= 0);
      if (replaying) go(text.replaying, "replaying");
      return replaying;
    },
    // An action got no answer at all: true when this script took over.
    unreachable: unreachable,
  };

  if (!hubConsole) return;
  // A live refresh of the page (live.js) that fails says the same as a failed probe.
  document.addEventListener("live:failed", function (event) {
    if (unavailable(event.detail.status)) unreachable();
  });
  if (config.dataset.hubReplaying) go(text.replaying, "replaying");
  else window.setTimeout(tick, POLL_MS);
})();
