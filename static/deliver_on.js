// "Deliver on" (issue #18): the checkout's datetime-local field is the sender's own clock. Before the form is sent,
// this adds their offset from UTC at the chosen moment (minutes east, so daylight saving at that date counts)
// and their time zone's name; without JavaScript both stay empty and the server reads the time as UTC.
(function () {
  "use strict";
  function setUp() {
    var input = document.getElementById("deliver-on");
    if (!input || !input.form) return;
    var form = input.form;
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    var label = document.querySelector("label[for='deliver-on'] .deliver-zone");
    if (label && zone) label.textContent = zone;
    function fill() {
      var when = input.value ? new Date(input.value) : new Date();
      if (isNaN(when.getTime())) when = new Date();
      form.elements.deliver_offset.value = String(-when.getTimezoneOffset());
      form.elements.deliver_zone.value = zone;
    }
    input.addEventListener("change", fill);
    form.addEventListener("submit", fill);
    fill();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
