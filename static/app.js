/* Gift Store: what htmx leaves to the page. No inline script anywhere (the Content-Security-Policy allows
   none): this file is loaded by templates/base.html after htmx, and every page works without it.

   - Focus follows the swap: after a boosted navigation (or Back), the main heading (or the form's error)
     takes focus instead of <body>; after a partial replaced the control that had focus, its replacement
     (same id, same name and value, same rel, same text) takes it, else the new content itself.
   - Announcements: swapped-in content with data-announce="…" is read out by the page's polite live
     region (#live-status), e.g. "12 gift cards match “book”", instead of a whole live region re-read.
   - Forms marked data-follows-url take their fields from the address after Back (htmx's history
     snapshot keeps attributes, not what was typed).
   - Colour pickers and their hex fields (data-hex-for) stay in sync.
   - A submit button marked data-needs-quote is disabled while the amount is invalid or the quote says no.
   - Checkout: recipient fields only for "Someone else", the message's counter, "Did you mean …?" applied in
     place, and what was typed kept in htmx's history snapshot (form[data-keep-values]) for Back.
*/
(function () {
  "use strict";

  var focusedBefore = null;   // what had focus when a swap began
  var added = [];             // elements htmx put in the page during this swap

  function focusable(element) {
    if (!element.matches("a[href], button, input, select, textarea, summary, [tabindex]")) {
      element.setAttribute("tabindex", "-1");
    }
    return element;
  }

  function focus(element) {
    if (element) { focusable(element).focus({ preventScroll: element.tagName === "H1" }); }
  }

  function lostFocus() {
    var active = document.activeElement;
    return !active || active === document.body;
  }

  function mainHeadingOrError() {
    var main = document.getElementById("main") || document.querySelector("main");
    if (!main) { return null; }
    return main.querySelector(".form-error[role=alert]") || main.querySelector("h1");
  }

  function replacementFor(old, roots) {
    var tests = [];
    if (old.id) { tests.push(function (e) { return e.id === old.id; }); }
    if (old.name) { tests.push(function (e) { return e.name === old.name && (e.value === old.value || e.type !== "radio"); }); }
    if (old.getAttribute && old.getAttribute("rel")) {
      var rel = old.getAttribute("rel");
      tests.push(function (e) { return e.getAttribute("rel") === rel; });
    }
    var text = (old.textContent || "").trim();
    if (text) { tests.push(function (e) { return e.tagName === old.tagName && (e.textContent || "").trim() === text; }); }
    for (var t = 0; t < tests.length; t++) {
      for (var r = 0; r < roots.length; r++) {
        if (!roots[r].isConnected) { continue; }
        var candidates = [roots[r]].concat(Array.prototype.slice.call(roots[r].querySelectorAll("a[href], button, input, select, textarea, summary, [tabindex]")));
        for (var c = 0; c < candidates.length; c++) {
          if (tests[t](candidates[c]) && !candidates[c].disabled) { return candidates[c]; }
        }
      }
    }
    return null;
  }

  function announce(text) {
    var region = document.getElementById("live-status");
    if (!region || !text) { return; }
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 50);  // a repeated message is read again
  }

  document.addEventListener("htmx:beforeSwap", function () {
    focusedBefore = document.activeElement;
    added = [];
  });

  document.addEventListener("htmx:load", function (event) { added.push(event.target); });

  document.addEventListener("htmx:afterSettle", function (event) {
    var detail = event.detail || {};
    var roots = added.filter(function (e) { return e.isConnected; });
    added = [];
    if (detail.boosted) {
      // htmx has focused an [autofocus] field if the new page has one; otherwise the heading (or the error).
      if (lostFocus()) { focus(mainHeadingOrError()); }
      focusedBefore = null;
      return;
    }
    roots.forEach(function (root) {
      var text = root.getAttribute && root.getAttribute("data-announce");
      if (text) { announce(text); }
    });
    if (focusedBefore && focusedBefore !== document.body && !focusedBefore.isConnected && lostFocus()) {
      focus(replacementFor(focusedBefore, roots) || roots[0]);
    }
    focusedBefore = null;
    updateQuoteButtons();
  });

  // Back (or Forward) restored a page from htmx's history: fields from the address, focus on the heading.
  document.addEventListener("htmx:historyRestore", function () {
    var params = new URLSearchParams(location.search);
    document.querySelectorAll("form[data-follows-url]").forEach(function (form) {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || field.type === "hidden" || field.type === "submit") { return; }
        var value = params.get(field.name) || "";
        if (field.tagName === "SELECT") {
          var option = Array.prototype.find.call(field.options, function (o) { return o.value === value; });
          field.value = option ? value : (field.options[0] ? field.options[0].value : "");
        } else {
          field.value = value;
        }
      });
    });
    focus(mainHeadingOrError());
  });

  // --- colour pickers and their hex fields --------------------------------------------------------
  var HEX = /^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$/;

  function longHex(value) {
    var digits = HEX.exec(value.trim())[1].toLowerCase();
    if (digits.length === 3) { digits = digits.replace(/./g, "$&$&"); }
    return "#" + digits;
  }

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field.matches && field.matches("input[type=color][data-hex-for]")) {
      var text = document.getElementById(field.getAttribute("data-hex-for"));
      if (text) { text.value = field.value; }
    } else if (field.matches && field.matches("input[data-picker]")) {
      var picker = document.getElementById(field.getAttribute("data-picker"));
      if (picker && HEX.test(field.value.trim())) { picker.value = longHex(field.value); }
    }
  }, true);  // capture: before htmx reads the form

  // --- the brand page's amount and its Continue button ---------------------------------------------
  function updateQuoteButtons() {
    document.querySelectorAll("button[data-needs-quote]").forEach(function (button) {
      var form = button.form;
      var quote = document.getElementById("quote");
      var amount = form && form.querySelector("input[name=amount]:not([type=hidden]):not([type=radio])");
      var invalid = (amount && !amount.checkValidity()) || (quote && quote.classList.contains("quote-error"));
      button.disabled = Boolean(invalid);
    });
  }

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field.name === "amount" && field.form && field.form.querySelector("button[data-needs-quote]") && !field.checkValidity()) {
      updateQuoteButtons();  // at once; a valid amount waits for its quote
    }
  });

  document.addEventListener("DOMContentLoaded", updateQuoteButtons);

  // --- checkout (issue #18): recipient fields, the message counter, "Did you mean …?", values kept on Back -------
  // [data-shown-for-send-to="someone"] shows only while that "send_to" choice is checked (without JavaScript it
  // stays visible and the server ignores it for "Me").
  function showForSendTo() {
    document.querySelectorAll("[data-shown-for-send-to]").forEach(function (block) {
      var form = block.closest("form");
      var chosen = form && form.querySelector("input[name=send_to]:checked");
      block.hidden = !chosen || chosen.value !== block.getAttribute("data-shown-for-send-to");
    });
  }

  // Counted as the server counts (app/domain/text.py message_length): line breaks as one character, the spaces
  // Python's str.strip() removes taken off both ends, then code points (Array.from), not UTF-16 units.
  var PY_SPACE = "[\\t\\n\\v\\f\\r \\u001c-\\u001f\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
  var PY_STRIP = new RegExp("^" + PY_SPACE + "+|" + PY_SPACE + "+$", "g");

  function countMessage(field) {
    var max = parseInt(field.getAttribute("data-count-max"), 10);
    var ids = (field.getAttribute("aria-describedby") || "").split(/\s+/);
    var counter = ids.map(function (id) { return document.getElementById(id); })
      .filter(function (e) { return e && e.classList.contains("message-count"); })[0];
    if (!counter || !max) { return; }
    var length = Array.from(field.value.replace(/\r\n/g, "\n").replace(PY_STRIP, "")).length;
    var over = length - max;
    var wasOver = counter.classList.contains("over");
    counter.textContent = length + " of " + max + " characters" + (over > 0 ? ": " + over + " too many, shorten it to send" : "");
    counter.classList.toggle("over", over > 0);
    counter.hidden = false;
    if (over > 0 && !wasOver) { announce("The message is " + over + " characters too long."); }
  }

  function setUpCheckout() {
    showForSendTo();
    document.querySelectorAll("textarea[data-count-max]").forEach(countMessage);
  }

  document.addEventListener("change", function (event) {
    if (event.target.name === "send_to") { showForSendTo(); }
  });
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-count-max]")) { countMessage(event.target); }
  });

  // "Use jordan@gmail.com": puts the address in its field (without JavaScript the button sends the form back).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-apply-email]");
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-apply-email"));
    if (!field) { return; }
    event.preventDefault();
    event.stopPropagation();
    field.value = button.value;
    field.dispatchEvent(new Event("change", { bubbles: true }));  // htmx asks for the hint again: none now
    field.focus();
    announce("Recipient's email changed to " + button.value + ".");
  }, true);

  // htmx's history snapshot is the page's HTML: before it is taken, what was typed into a form marked
  // data-keep-values goes into its attributes, so Back shows every field as it was left (never a password).
  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll("form[data-keep-values]").forEach(function (form) {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.type === "password" || field.type === "file") { return; }
        if (field.type === "checkbox" || field.type === "radio") {
          field.toggleAttribute("checked", field.checked);
        } else if (field.tagName === "TEXTAREA") {
          field.textContent = field.value;
        } else if (field.tagName === "SELECT") {
          Array.prototype.forEach.call(field.options, function (o) { o.toggleAttribute("selected", o.selected); });
        } else if (field.tagName === "INPUT") {
          field.setAttribute("value", field.value);
        }
      });
    });
  });

  document.addEventListener("DOMContentLoaded", setUpCheckout);
  document.addEventListener("htmx:load", setUpCheckout);
  document.addEventListener("htmx:historyRestore", setUpCheckout);
})();
