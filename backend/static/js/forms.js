/* Small form conveniences: a select marked data-autosubmit submits its (GET) form. */
(function () {
  "use strict";
  document.querySelectorAll("[data-autosubmit]").forEach(function (element) {
    element.addEventListener("change", function () { element.form.submit(); });
  });
})();
