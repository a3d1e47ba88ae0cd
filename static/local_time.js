// Every <time class="local-time" datetime="...Z"> on the page, in the reader's own time zone.
// The page says the moment in UTC (and says so); this rewrites it with the browser's clock and keeps UTC in the title.
(function () {
  "use strict";
  var dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  var dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

  function localize(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var times = scope.querySelectorAll("time.local-time:not([data-localized])");
    for (var i = 0; i < times.length; i++) {
      var element = times[i];
      var moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment.getTime())) continue;
      element.title = element.textContent;
      element.textContent = (element.hasAttribute("data-date-only") ? dateOnly : dateTime).format(moment);
      element.setAttribute("data-localized", "");
    }
  }

  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  // Content htmx swaps in (boosted pages, partials) is localized as it arrives.
  document.addEventListener("htmx:load", function (event) { localize(event.target); });
})();
