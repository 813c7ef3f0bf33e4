// Optional niceties; every page works without them.
//  - start screen: one tap takes one ticket (a second tap while it loads does nothing);
//  - ticket page: the print status follows the printer, and the kiosk returns to its start
//    screen after a while so the next resident finds it ready.
(function () {
  "use strict";

  function guardServiceForms() {
    var forms = document.querySelectorAll("form.take");
    var note = document.querySelector(".busy-note");
    var busy = false;
    forms.forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (busy) {
          event.preventDefault();
          return;
        }
        busy = true;
        // The service travels in a hidden input, so disabling the buttons loses nothing.
        form.querySelector("button").classList.add("pressed");
        document.querySelectorAll("button.service").forEach(function (b) { b.disabled = true; });
        if (note) { note.hidden = false; }
      });
    });
    // Coming back through the history cache must not leave the buttons dead.
    window.addEventListener("pageshow", function () {
      busy = false;
      document.querySelectorAll("button.service").forEach(function (b) {
        b.disabled = false;
        b.classList.remove("pressed");
      });
      if (note) { note.hidden = true; }
    });
  }

  function followPrintStatus() {
    var status = document.querySelector("[data-print-job]");
    if (!status) { return; }
    var url = "/api/print-jobs/" + encodeURIComponent(status.getAttribute("data-print-job"));
    var tries = 0;
    function poll() {
      tries += 1;
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body) {
            status.textContent = body.message;
            status.setAttribute("data-status", body.status);
          }
          var settled = body && (body.status === "printed" || body.status === "failed");
          if (!settled && tries < 30) { setTimeout(poll, 1000); }
        })
        .catch(function () { if (tries < 30) { setTimeout(poll, 2000); } });
    }
    setTimeout(poll, 300);
  }

  function returnHomeLater() {
    var page = document.querySelector("[data-return-after]");
    if (!page) { return; }
    var seconds = parseInt(page.getAttribute("data-return-after"), 10);
    if (!(seconds > 0)) { return; }
    var note = document.querySelector(".return-note");
    if (note) { note.hidden = false; }
    setTimeout(function () {
      window.location.replace(page.getAttribute("data-return-to") || "/");
    }, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    guardServiceForms();
    followPrintStatus();
    returnHomeLater();
  });
})();
