/* Filter forms marked data-autosubmit apply on change (the button stays for
 * keyboards and for use without scripts). */
(function () {
  "use strict";
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.addEventListener("change", function () { form.submit(); });
  });
})();
