/* Waiting and serving times keep counting between live refreshes.
 * <span data-elapsed="N"> holds the seconds the server computed when it rendered
 * the part; the browser adds the time since then. The server's clock is the
 * reference (not the PC's, which may be off): only the difference is local. */
(function () {
  "use strict";
  function format(seconds) {
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + "′";
    return Math.floor(minutes / 60) + "h" + ("0" + (minutes % 60)).slice(-2) + "′";
  }
  function stamp(root) {
    var now = Date.now();
    root.querySelectorAll("[data-elapsed]").forEach(function (element) { element.dataset.renderedAt = now; });
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-elapsed]").forEach(function (element) {
      var base = parseInt(element.dataset.elapsed, 10);
      var rendered = parseInt(element.dataset.renderedAt || now, 10);
      if (!isNaN(base)) element.textContent = format(base + Math.floor((now - rendered) / 1000));
    });
  }
  stamp(document);
  document.addEventListener("live:swapped", function (event) { stamp(event.target); tick(); });
  tick();
  window.setInterval(tick, 15000);
})();
