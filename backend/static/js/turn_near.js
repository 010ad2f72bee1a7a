/* 到号提醒 on the phone page of a ticket.
 *
 * The page's live part (live.js) re-renders when the queue moves; when it shows
 * the turn-is-near banner ([data-turn-near]) for the first time, this also raises
 * a browser notification (if the visitor allowed them) and vibrates -- once per
 * ticket, remembered in localStorage, so later updates and reloads stay quiet.
 */
(function () {
  "use strict";

  function alreadyTold(key) {
    try {
      if (window.localStorage.getItem(key)) return true;
      window.localStorage.setItem(key, "1");
    } catch (e) { /* private mode: tell every time this page is open */ }
    return false;
  }

  function check() {
    var banner = document.querySelector("[data-turn-near]");
    if (!banner) return;
    var key = "hallkit.turn-near." + window.location.pathname + "." + banner.dataset.turnNear;
    if (alreadyTold(key)) return;
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        new Notification(banner.dataset.title || "", { body: banner.textContent.trim(), tag: key });
      } catch (e) { /* some browsers only notify from a service worker */ }
    }
    if (navigator.vibrate) navigator.vibrate([300, 150, 300]);
  }

  function offerPermission() {
    var button = document.querySelector("[data-notify-permission]");
    if (!button || !("Notification" in window) || Notification.permission !== "default") return;
    button.hidden = false;
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () { button.hidden = true; });
    });
  }

  document.addEventListener("live:swapped", check);
  function start() { offerPermission(); check(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
