// Live preview (portal serve --reload): reload this tab when its page was rebuilt.
(function () {
  "use strict";
  // only the built knowledge-base pages reload; forms being filled in are left alone
  if (!window.EventSource || document.body.getAttribute("data-static-site") !== "1") { return; }
  var main = document.getElementById("main");
  var slug = main ? main.getAttribute("data-slug") : null;
  var source = new EventSource("/_preview/events");
  source.onmessage = function (event) {
    var message = JSON.parse(event.data);
    if (message.error) { console.warn("preview build failed: " + message.error); return; }
    var changed = message.changed || [];
    if (message.all || !slug || changed.indexOf(slug) >= 0) {
      window.location.reload();
    }
  };
})();
