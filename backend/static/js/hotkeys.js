/* Keyboard shortcuts: an element with data-hotkey="n" is clicked when N is pressed
 * (not while typing in a field); data-hotkey-open="x" on a <details> opens it and
 * focuses its first field; data-hotkey-focus="/" focuses a field; Escape closes open
 * dialogs; data-hotkey-ctrl="Enter" clicks with Ctrl+Enter, even inside a field. */
(function () {
  "use strict";
  function typing(target) {
    var tag = target.tagName;
    return target.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey && event.key === "Enter") {
      var submit = document.querySelector('[data-hotkey-ctrl="Enter"]');
      if (submit) { event.preventDefault(); submit.click(); }
      return;
    }
    if (event.key === "Escape") {
      document.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
      if (document.activeElement) document.activeElement.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key.toLowerCase();
    var dialog = document.querySelector('details[data-hotkey-open="' + key + '"]');
    if (dialog) {
      event.preventDefault();
      document.querySelectorAll("details[open]").forEach(function (d) { if (d !== dialog) d.open = false; });
      dialog.open = true;
      var field = dialog.querySelector("input:not([type=hidden]), select, textarea");
      if (field) field.focus();
      return;
    }
    var focus = document.querySelector('[data-hotkey-focus="' + event.key + '"]');
    if (focus) { event.preventDefault(); focus.focus(); return; }
    var target = document.querySelector('[data-hotkey="' + key + '"]:not([disabled])');
    if (target) { event.preventDefault(); target.click(); }
  });
})();
