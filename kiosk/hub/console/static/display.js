// Call display: ask the hub for the latest calls every second and redraw them.
// Text only (textContent), so nothing from the server is ever parsed as HTML.
(function () {
  "use strict";
  var root = document.getElementById("display");
  var url = root.getAttribute("data-calls-url");
  var pollMs = Number(root.getAttribute("data-poll-ms")) || 1000;
  var latest = document.getElementById("latest");
  var previous = document.getElementById("previous");
  var offline = document.getElementById("offline");

  function item(call) {
    var li = document.createElement("li");
    var number = document.createElement("span");
    number.className = "number";
    number.textContent = call.number;
    var counter = document.createElement("span");
    counter.className = "counter";
    counter.textContent = call.counter + " 号窗口";
    li.appendChild(number);
    li.appendChild(counter);
    return li;
  }

  function render(calls) {
    var text = calls.length ? calls[0].text : "请稍候";
    if (latest.textContent !== text) {
      latest.textContent = text;
      // Restart the highlight so a new call catches the eye.
      latest.classList.remove("fresh");
      void latest.offsetWidth;
      latest.classList.add("fresh");
    }
    while (previous.firstChild) {
      previous.removeChild(previous.firstChild);
    }
    calls.slice(1).forEach(function (call) {
      previous.appendChild(item(call));
    });
  }

  function poll() {
    fetch(url, { cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        render(data.calls);
        offline.hidden = true;
      })
      .catch(function () {
        offline.hidden = false;
      })
      .then(function () {
        window.setTimeout(poll, pollMs);
      });
  }

  window.setTimeout(poll, pollMs);
})();
