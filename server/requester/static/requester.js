/* The requester's page, a little better with a script: times in the person's own time zone, and
 * live updates (Server-Sent Events) of the status, the queue place, the messages and the
 * after-resolve forms. Without it the page works the same; "Refresh" shows what is new. */
(function () {
  "use strict";

  function localTimes(root) {
    var times = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var moment = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(moment.getTime())) {
        times[i].textContent = moment.toLocaleString(document.documentElement.lang || undefined, {
          dateStyle: "medium", timeStyle: "short"
        });
      }
    }
  }

  var page = document.getElementById("page");
  localTimes(document);
  if (!page || !window.EventSource) {
    return;
  }
  var parts = ["status", "queue", "timeline", "after"];
  var pending = {};
  var source = new EventSource(page.getAttribute("data-events"));

  function apply(name, html, version) {
    var element = document.getElementById(name);
    if (!element || element.getAttribute("data-version") === version) {
      return;
    }
    // A form being filled in is not replaced under the person's fingers; it waits for the blur.
    if (element.contains(document.activeElement) && element.querySelector("form")) {
      pending[name] = [html, version];
      return;
    }
    // The server rendered this part with every text escaped (the same templates as the page).
    element.innerHTML = html;
    element.setAttribute("data-version", version);
    localTimes(element);
  }

  source.addEventListener("update", function (event) {
    var data = JSON.parse(event.data);
    for (var i = 0; i < parts.length; i++) {
      var name = parts[i];
      if (typeof data[name] === "string" && data.versions && data.versions[name]) {
        apply(name, data[name], data.versions[name]);
      }
    }
  });
  source.addEventListener("gone", function () {
    source.close();
  });
  document.addEventListener("focusout", function () {
    window.setTimeout(function () {
      for (var name in pending) {
        if (Object.prototype.hasOwnProperty.call(pending, name)) {
          var update = pending[name];
          delete pending[name];
          apply(name, update[0], update[1]);
        }
      }
    }, 0);
  });
})();
