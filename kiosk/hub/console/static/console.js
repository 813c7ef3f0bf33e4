// Staff console behaviour, from a file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  // <select data-autosubmit>: choosing a value submits its form (centre pickers, filters).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });
  // <form data-confirm="…">: ask before a consequential action (revoke, remote command).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
})();
