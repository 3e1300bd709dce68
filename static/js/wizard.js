// Progressive enhancement for the request wizard; every form works without it.
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  document.addEventListener("DOMContentLoaded", function () {
    // default the time zone to the browser's own when the customer has not chosen one
    var tz = document.querySelector("select[data-browser-tz='yes']");
    if (tz && window.Intl) {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      for (var i = 0; i < tz.options.length; i++) {
        if (tz.options[i].value === zone) { tz.selectedIndex = i; break; }
      }
    }
    // "when did it happen" defaults to now, in the browser's clock
    document.querySelectorAll("input[data-default-now='yes']").forEach(function (input) {
      if (!input.value) {
        var d = new Date();
        input.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
          "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
      }
    });
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  });
})();
