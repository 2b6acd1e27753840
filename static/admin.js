// Admin pages: copy buttons, the link form's fields that apply only to some choices, confirmation
// dialogs, and a notification page that shows an attempt due soon.
// Without JavaScript the values stay selectable text and every field shows.
(function () {
  "use strict";

  function copyText(target) {
    return target.value !== undefined ? target.value : target.textContent;
  }

  function selectOnly(target) {
    if (target.select) {
      target.select();
    } else {
      var range = document.createRange();
      range.selectNodeContents(target);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
  }

  function fallbackCopy(target) {
    selectOnly(target);
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function announce(button, text) {
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = text;
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.dataset.copy);
    if (!target) return;
    button.hidden = false;
    button.setAttribute("aria-live", "polite");
    button.addEventListener("click", function () {
      var text = copyText(target);
      var done = function () { announce(button, "Copied"); };
      var fallback = function () {
        if (fallbackCopy(target)) done();
        else announce(button, "Selected: press Ctrl+C");
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  });

  // Each [data-shown-when="name=value"] block shows only while the named control has that
  // value ("checked"/"unchecked" for a checkbox); the server ignores the hidden ones' values.
  document.querySelectorAll("[data-shown-when]").forEach(function (block) {
    var rule = block.dataset.shownWhen.split("=");
    var control = document.querySelector('[name="' + rule[0] + '"]');
    if (!control) return;
    var update = function () {
      var value = control.type === "checkbox" ? (control.checked ? "checked" : "unchecked") : control.value;
      block.hidden = value !== rule[1];
    };
    control.addEventListener("change", update);
    update();
  });
  // A confirmation link opens its confirmation page's form in a modal <dialog>; without
  // JavaScript (or on any failure) the link opens that page, which works the same.
  function openConfirmation(link) {
    fetch(link.href, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (text) {
        var found = new DOMParser().parseFromString(text, "text/html").querySelector("[data-confirm-page]");
        if (!found) throw new Error("no confirmation on the page");
        var dialog = document.createElement("dialog");
        dialog.className = "confirm-dialog";
        var content = document.importNode(found, true);
        var heading = content.querySelector("h1");
        heading.id = "confirm-dialog-title";
        dialog.setAttribute("aria-labelledby", heading.id);
        dialog.appendChild(content);
        content.querySelector("[data-confirm-cancel]").addEventListener("click", function (event) {
          event.preventDefault();
          dialog.close();
        });
        dialog.addEventListener("close", function () {
          dialog.remove();
          link.focus();
        });
        document.body.appendChild(dialog);
        dialog.showModal();
      })
      .catch(function () {
        window.location.assign(link.href);
      });
  }

  if (window.HTMLDialogElement && window.fetch && window.DOMParser) {
    document.querySelectorAll("[data-confirm-link]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        openConfirmation(link);
      });
    });
  }

  // A notification whose next attempt is due soon (a test event just sent, a resend, an
  // early retry): look at the page again, more slowly each time, and reload it once the
  // attempt shows; after data-watch seconds, stop and say so. Without JavaScript a reload
  // shows it.
  var watched = document.querySelector("[data-watch]");
  if (watched && window.fetch && window.DOMParser) {
    var state = watched.getAttribute("data-delivery-state");
    var until = Date.now() + parseInt(watched.getAttribute("data-watch"), 10) * 1000;
    var watching = watched.querySelector("[data-watching]");
    var stopped = watched.querySelector("[data-watch-stopped]");
    var wait = 1000;
    var again = function () {
      if (Date.now() + wait > until) {
        watching.hidden = true;
        stopped.hidden = false;
        return;
      }
      window.setTimeout(look, wait);
      wait = Math.min(wait * 1.5, 5000);
    };
    var look = function () {
      fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (text) {
          var page = text && new DOMParser().parseFromString(text, "text/html");
          var found = page && page.querySelector("[data-delivery-state]");
          if (found && found.getAttribute("data-delivery-state") !== state) {
            window.location.reload();
          } else {
            again();
          }
        })
        .catch(again);
    };
    watching.hidden = false;
    again();
  }
})();
