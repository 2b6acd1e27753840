// Checkout page behaviour: countdown redirect, status polling, Cash App Pay confirmation.
(function () {
  "use strict";
  var root = document.querySelector("[data-checkout]");
  if (!root) return;

  var countdown = document.querySelector("[data-countdown]");
  if (countdown) {
    var left = parseInt(countdown.getAttribute("data-seconds"), 10);
    var target = countdown.getAttribute("data-redirect-url");
    var shown = countdown.querySelector("[data-seconds-left]");
    var tick = function () {
      shown.textContent = String(left);
      if (left <= 0) {
        window.location.assign(target);
        return;
      }
      left -= 1;
      window.setTimeout(tick, 1000);
    };
    tick();
  }

  if (root.hasAttribute("data-poll")) {
    var known = root.getAttribute("data-status");
    var url = root.getAttribute("data-status-url");
    var poll = function () {
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && body.status !== known) {
            window.location.reload();
          } else {
            window.setTimeout(poll, 2000);
          }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 2000);
  }

  var payButton = document.querySelector("[data-cashapp-pay]");
  if (payButton) {
    var errorBox = document.querySelector("[data-pay-error]");
    var showError = function (message) {
      errorBox.textContent = message;
      errorBox.hidden = false;
      payButton.disabled = false;
      payButton.removeAttribute("aria-busy");
    };
    payButton.addEventListener("click", function () {
      if (typeof window.Stripe !== "function") {
        showError("The payment form could not load. Check your connection and reload the page.");
        return;
      }
      errorBox.hidden = true;
      payButton.disabled = true;
      payButton.setAttribute("aria-busy", "true");
      var stripe = window.Stripe(payButton.getAttribute("data-publishable-key"));
      stripe
        .confirmCashappPayment(payButton.getAttribute("data-client-secret"), {
          payment_method: { type: "cashapp" },
          return_url: payButton.getAttribute("data-return-url"),
        })
        .then(function (result) {
          if (result.error) {
            showError(result.error.message || "The payment did not go through.");
          } else {
            // The server asks Stripe for the outcome; the browser's word is not trusted.
            window.location.reload();
          }
        });
    });
  }
})();
