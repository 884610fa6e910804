// Confide's first-party usage statistics (TRK2). Loaded only for a visitor who allowed them and
// whose browser sends no Global Privacy Control or Do Not Track signal; the server decides that.
// One beacon per page view: a same-origin POST carrying the page's route name and nothing else
// (never its address, query string, referrer, a visitor id, or the time), with the CSRF token
// the page put in a <meta> tag.
(function () {
  "use strict";
  function meta(name) {
    var element = document.querySelector('meta[name="' + name + '"]');
    return element ? element.getAttribute("content") : "";
  }
  var url = meta("confide-analytics-url");
  var route = meta("confide-analytics-route");
  var token = meta("confide-csrf-token");
  if (!url || !route || !token || !window.fetch) {
    return;
  }
  var body = new URLSearchParams();
  body.set("route", route);
  window.fetch(url, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    keepalive: true,
    headers: { "X-CSRFToken": token },
    body: body
  }).catch(function () { /* statistics are best-effort; a failed beacon changes nothing for the visitor */ });
})();
