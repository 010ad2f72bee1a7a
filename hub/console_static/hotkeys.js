/* Keyboard shortcuts of the hub console. The key map itself lives in the page
 * (data-hotkey / data-hotkey-open attributes) and mirrors the backend console's
 * (backend/templates/console/_panel.html, backend/static/js/console.js); this script
 * behaves like backend/static/js/hotkeys.js, which the hub cannot serve: it is
 * deployed alone. tests/hub/test_console.py checks the two key maps are the same.
 *
 * - an element with data-hotkey="n" is clicked when N is pressed (not while typing in
 *   a field, not when disabled or hidden);
 * - data-hotkey-open="t" on a <details> opens it and focuses its first field;
 * - Escape closes open dialogs.
 * Unlike the backend's script, a held-down key (auto-repeat) acts once: a clerk
 * resting a finger on N must not call five tickets. */
(function () {
  "use strict";
  function typing(target) {
    var tag = target.tagName;
    return target.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }
  function usable(element) {
    return !element.disabled && !element.hidden && !element.closest("[hidden]");
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
      if (document.activeElement) document.activeElement.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (!event.key || event.key.length !== 1) return;
    var key = event.key.toLowerCase();
    if (event.repeat) {
      if (document.querySelector('[data-hotkey="' + key + '"], details[data-hotkey-open="' + key + '"]')) {
        event.preventDefault();
      }
      return;
    }
    var dialog = document.querySelector('details[data-hotkey-open="' + key + '"]');
    if (dialog && usable(dialog)) {
      event.preventDefault();
      document.querySelectorAll("details[open]").forEach(function (d) { if (d !== dialog) d.open = false; });
      dialog.open = true;
      var field = dialog.querySelector("input:not([type=hidden]), select, textarea");
      if (field) field.focus();
      return;
    }
    var targets = document.querySelectorAll('[data-hotkey="' + key + '"]');
    for (var i = 0; i < targets.length; i++) {
      if (usable(targets[i])) { event.preventDefault(); targets[i].click(); return; }
    }
  });
})();
