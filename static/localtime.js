/* Kassa: times on the page in the viewer's own time zone and language.
   The server writes <time datetime="…Z" title="… UTC" data-local-time>… UTC</time>; this
   replaces the text with the local time and keeps the UTC value in the title. Without
   JavaScript the UTC text stays. */
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) return;
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "numeric", minute: "2-digit", timeZoneName: "short"
  });
  function localise(root) {
    var times = root.querySelectorAll("time[data-local-time][datetime]");
    for (var i = 0; i < times.length; i++) {
      var moment = new Date(times[i].getAttribute("datetime"));
      if (isNaN(moment.getTime())) continue;
      times[i].textContent = format.format(moment);
      times[i].setAttribute("data-localised", "");
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localise(document); });
  } else {
    localise(document);
  }
})();
