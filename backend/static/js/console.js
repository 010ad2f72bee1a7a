/* Window console: send action forms with fetch() and swap in the returned live part,
 * so a click shows its result in one round trip (without scripts the same forms post
 * and redirect). The time from click to swapped content is recorded in
 * window.hallkitTimings for the benchmark. */
(function () {
  "use strict";
  var live = document.getElementById("console-live");
  if (!live) return;
  window.hallkitTimings = [];

  function send(form, submitter) {
    var started = performance.now();
    var body = new FormData(form);
    if (submitter && submitter.name) body.append(submitter.name, submitter.value);
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    return fetch(form.action, { method: "POST", body: body, headers: HallLive.fragmentHeaders(), credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.text().then(function (html) {
          // The centre is gone or the hall hub decides (hub_redirect.js): not a panel.
          return window.HallHub && window.HallHub.answered(response, html) ? null : html;
        });
      })
      .then(function (html) {
        if (html === null) return;
        if (html.indexOf("data-fragment-error") >= 0) {
          var flash = document.getElementById("flash");
          flash.innerHTML = html;
        } else {
          HallLive.swap(live, html);
        }
        window.hallkitTimings.push({ action: form.action, ms: performance.now() - started });
        var dialog = form.closest("details");
        if (dialog) { dialog.open = false; form.reset(); }
      })
      // No answer at all: the hall hub's console takes over when one is known
      // (hub_redirect.js); otherwise the plain form post shows what the server says.
      .catch(function () { if (!(window.HallHub && window.HallHub.unreachable())) form.submit(); })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-enhance]")) return;
    event.preventDefault();
    send(form, event.submitter);
  });

  // 叫此号: fill the out-of-order call dialog with the row's number.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-call-number]");
    if (!button) return;
    var dialog = document.getElementById("dlg-call");
    dialog.open = true;
    dialog.querySelector('input[name="number"]').value = button.dataset.callNumber;
    dialog.querySelector('input[name="reason"]').focus();
  });

  // Dialog hotkeys: T transfer, C call a number, W walk-in, P pause (when open).
  [["dlg-transfer", "t"], ["dlg-call", "c"], ["dlg-walkin", "w"], ["dlg-pause", "p"]].forEach(function (pair) {
    var dialog = document.getElementById(pair[0]);
    if (dialog) dialog.setAttribute("data-hotkey-open", pair[1]);
  });
  // While the window is paused, P means "resume" (a button in the live part).
  function syncPauseKey() {
    var paused = live.querySelector('[data-window-state="paused"], [data-window-state="resting"]');
    var dialog = document.getElementById("dlg-pause");
    if (dialog) dialog.setAttribute("data-hotkey-open", paused ? "" : "p");
  }
  live.addEventListener("live:swapped", syncPauseKey);
  syncPauseKey();
})();
