// The touch screens' behaviour over time. Every page works without it (plain links and
// forms); with it:
//  - idle safety: after data-idle-prompt seconds without a touch, "still there?"; after
//    data-idle-forget more, forget the resident (DELETE /api/session), clear every form and
//    go to the attract screen. Touches are reported to the server (POST /api/activity) so
//    that it forgets the resident by itself if this page is gone;
//  - the kiosk's status (GET /api/status, every data-status-every seconds): the hub banner,
//    a card read or refused, the GPIO help button, the motion sensor;
//  - call staff in place (POST /api/help), so that a half-typed number is not lost;
//  - start screen: one tap takes one ticket; ticket page: the print status follows the
//    printer, and the page returns to the start after a while.
// Every text shown comes from the page (translated on the server); none is written here.
(function () {
  "use strict";

  var TOUCH_KEY = "kiosk.lastTouch"; // survives page loads: a reload is not a touch
  var body = document.body;
  var config = readConfig(body.dataset);
  var seen = {
    resident: config.seqResident,
    card_rejected: config.seqCardRejected,
    motion: config.seqMotion,
    help: config.seqHelp
  };
  var leaving = false;

  function number(value, fallback) {
    var parsed = parseFloat(value);
    return parsed > 0 ? parsed : fallback;
  }

  function readConfig(data) {
    return {
      idle: data.idle !== "off",
      idlePrompt: number(data.idlePrompt, 60) * 1000,
      idleForget: number(data.idleForget, 15) * 1000,
      statusEvery: number(data.statusEvery, 2) * 1000,
      activityEvery: number(data.activityEvery, 5) * 1000,
      sleepAfter: number(data.sleepAfter, 120) * 1000,
      attract: data.attract || "/welcome",
      onIdentified: data.onIdentified || "",
      seqResident: parseInt(data.seqResident, 10) || 0,
      seqCardRejected: parseInt(data.seqCardRejected, 10) || 0,
      seqMotion: parseInt(data.seqMotion, 10) || 0,
      seqHelp: parseInt(data.seqHelp, 10) || 0,
      seqReload: parseInt(data.seqReload, 10) || 0
    };
  }

  function now() { return Date.now(); }

  function post(url, payload) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload || {}),
      cache: "no-store",
      keepalive: true
    });
  }

  // --- dialogs -------------------------------------------------------------------------

  function openDialog(dialog) {
    if (dialog && !dialog.open) { dialog.showModal(); }
  }

  function closeDialog(dialog) {
    if (dialog && dialog.open) { dialog.close(); }
  }

  document.querySelectorAll("dialog [data-close]").forEach(function (button) {
    button.addEventListener("click", function () { closeDialog(button.closest("dialog")); });
  });

  // --- idle safety ---------------------------------------------------------------------

  var idlePrompt = document.getElementById("idle-prompt");
  var lastTouch = Number(sessionStorage.getItem(TOUCH_KEY)) || now();
  var lastReport = 0;
  var trailingReport = null;

  function reportActivity() {
    // At most one report per activityEvery, and always one after the last touch, so that
    // the server's idle clock is never ahead of the page's.
    var wait = config.activityEvery - (now() - lastReport);
    if (wait <= 0) {
      lastReport = now();
      post("/api/activity").catch(function () {});
    } else if (!trailingReport) {
      trailingReport = setTimeout(function () {
        trailingReport = null;
        reportActivity();
      }, wait);
    }
  }

  function touched() {
    if (leaving) { return; }
    lastTouch = now();
    sessionStorage.setItem(TOUCH_KEY, String(lastTouch));
    closeDialog(idlePrompt);
    wake();
    reportActivity();
  }

  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, touched, { capture: true, passive: true });
  });

  function clearForms() {
    document.querySelectorAll("form").forEach(function (form) { form.reset(); });
    document.querySelectorAll("input:not([type=hidden])").forEach(function (input) {
      input.value = "";
    });
    document.dispatchEvent(new CustomEvent("kiosk:forget"));
  }

  function forgetAndLeave() {
    leaving = true;
    clearForms();
    sessionStorage.removeItem(TOUCH_KEY);
    var go = function () { window.location.replace(config.attract); };
    var fallback = setTimeout(go, 3000); // a server that does not answer must not keep us here
    fetch("/api/session", { method: "DELETE", cache: "no-store" })
      .catch(function () {})
      .then(function () { clearTimeout(fallback); go(); });
  }

  function checkIdle() {
    if (!config.idle || leaving) { return; }
    var idle = now() - lastTouch;
    if (idle >= config.idlePrompt + config.idleForget) {
      forgetAndLeave();
    } else if (idle >= config.idlePrompt) {
      openDialog(idlePrompt);
    }
  }

  setInterval(checkIdle, 250);

  // Coming back through the history must not show what the last resident typed.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { clearForms(); }
  });

  // --- the attract screen sleeps and wakes -------------------------------------------------

  var sleeper = document.querySelector("[data-sleeper]");
  var sleepTimer = null;

  function wake() {
    if (!sleeper) { return; }
    sleeper.hidden = true;
    clearTimeout(sleepTimer);
    sleepTimer = setTimeout(function () { sleeper.hidden = false; }, config.sleepAfter);
  }

  if (sleeper) {
    sleeper.addEventListener("click", wake);
    wake();
  }

  // --- the kiosk's status ----------------------------------------------------------------

  var banner = document.querySelector("[data-hub-banner]");
  var identity = document.querySelector("[data-identity]");
  var rejected = document.querySelector("[data-card-rejected]");
  var helpCalled = document.getElementById("help-called");

  function showIdentity() {
    if (!identity) { return; }
    fetch("/api/session", { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (who) {
        if (!who) { return; }
        identity.hidden = !who.identified;
        identity.querySelector("[data-who=name]").textContent = who.name || "";
        identity.querySelector("[data-who=number]").textContent =
          who.id_masked || who.phone_masked || "";
      })
      .catch(function () {});
  }

  function residentChanged(identified) {
    if (identified) {
      touched(); // placing a card is a deliberate act
      if (config.onIdentified) {
        window.location.assign(config.onIdentified);
        return;
      }
    }
    showIdentity();
  }

  var retry = document.querySelector("[data-retry-when-hub-back]");

  function apply(status) {
    if (status.reload !== undefined && status.reload !== config.seqReload) {
      // Staff sent "reload" (or new texts) from the console: show this screen afresh.
      leaving = true;
      window.location.reload();
      return;
    }
    if (banner) { banner.hidden = status.hub === "online"; }
    if (retry && status.hub === "online") {
      window.location.replace(retry.getAttribute("data-retry-when-hub-back"));
      return;
    }
    if (status.resident !== seen.resident) {
      seen.resident = status.resident;
      residentChanged(status.identified);
    }
    if (status.card_rejected !== seen.card_rejected) {
      seen.card_rejected = status.card_rejected;
      if (rejected) { rejected.hidden = false; }
    }
    if (status.motion !== seen.motion) {
      seen.motion = status.motion;
      wake();
    }
    if (status.help !== seen.help) {
      seen.help = status.help;
      openDialog(helpCalled);
    }
  }

  function poll() {
    if (leaving) { return; }
    fetch("/api/status", { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) { if (status) { apply(status); } })
      .catch(function () {})
      .then(function () { setTimeout(poll, config.statusEvery); });
  }

  setTimeout(poll, Math.min(config.statusEvery, 1000));

  // --- call staff in place -----------------------------------------------------------------

  document.querySelectorAll("form[data-help-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      openDialog(helpCalled); // at once: the person pressing must see that it worked
      post("/api/help")
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          if (answer) {
            seen.help = answer.help;
          } else {
            form.submit(); // let the plain form try (it shows the confirmation page)
          }
        })
        .catch(function () { form.submit(); });
    });
  });

  // --- start screen: one tap, one ticket ---------------------------------------------------

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

  // --- ticket page ---------------------------------------------------------------------------

  function followPrintStatus() {
    var status = document.querySelector("[data-print-job]");
    if (!status) { return; }
    var url = "/api/print-jobs/" + encodeURIComponent(status.getAttribute("data-print-job"));
    var tries = 0;
    function check() {
      tries += 1;
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          if (answer) {
            status.textContent = answer.message;
            status.setAttribute("data-status", answer.status);
          }
          var settled = answer && (answer.status === "printed" || answer.status === "failed");
          if (!settled && tries < 30) { setTimeout(check, 1000); }
        })
        .catch(function () { if (tries < 30) { setTimeout(check, 2000); } });
    }
    setTimeout(check, 300);
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

  guardServiceForms();
  followPrintStatus();
  returnHomeLater();
})();
