// Checkout page behaviour: countdown redirect, status polling, Cash App Pay confirmation,
// the Stripe Buy Button, and a clear message whenever Stripe's scripts cannot load.
(function () {
  "use strict";
  var root = document.querySelector("[data-checkout]");
  if (!root) return;

  var POLL_EVERY_MS = 2000;
  var POLL_AFTER_ERROR_MS = 5000;
  var POLL_FOR_MS = 15 * 60 * 1000;
  var BUY_BUTTON_WAIT_MS = 10000;
  var STRIPE_JS_FAILED =
    "The payment form could not load. Check your connection and reload the page.";
  var CONFIRM_FAILED =
    "Cash App Pay could not start. Nothing was charged. Check your connection and try again.";
  var BUY_BUTTON_FAILED =
    "Stripe's payment button could not load. Check your connection and reload the page.";

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

  // Ask the server until the status changes (then reload), the order can change no more,
  // or POLL_FOR_MS has passed (then say so: a page left open does not poll forever).
  if (root.hasAttribute("data-poll")) {
    var known = root.getAttribute("data-status");
    var url = root.getAttribute("data-status-url");
    var pollUntil = Date.now() + POLL_FOR_MS;
    var later = function (wait) {
      if (Date.now() + wait > pollUntil) {
        var stopped = document.querySelector("[data-poll-stopped]");
        if (stopped) stopped.hidden = false;
        return;
      }
      window.setTimeout(poll, wait);
    };
    var poll = function () {
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) {
          if (response.status === 404) return { gone: true };
          return response.ok ? response.json() : null;
        })
        .then(function (body) {
          if (body && body.gone) return;
          if (body && body.status !== known) {
            window.location.reload();
          } else if (!(body && body.final)) {
            later(body ? POLL_EVERY_MS : POLL_AFTER_ERROR_MS);
          }
        })
        .catch(function () {
          later(POLL_AFTER_ERROR_MS);
        });
    };
    later(POLL_EVERY_MS);
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
    // Stripe.js is a blocking script in <head>: by the time this deferred script runs it
    // has either defined Stripe or failed to load.
    var stripe = null;
    var confirm = function () {
      if (payButton.getAttribute("aria-busy") === "true") return;
      errorBox.hidden = true;
      payButton.disabled = true;
      payButton.setAttribute("aria-busy", "true");
      var confirming;
      try {
        stripe = stripe || window.Stripe(payButton.getAttribute("data-publishable-key"));
        confirming = stripe.confirmCashappPayment(payButton.getAttribute("data-client-secret"), {
          payment_method: { type: "cashapp" },
          return_url: payButton.getAttribute("data-return-url"),
        });
      } catch (error) {
        confirming = Promise.reject(error);
      }
      Promise.resolve(confirming)
        .then(function (result) {
          if (result && result.error) {
            showError(result.error.message || CONFIRM_FAILED);
          } else {
            // Back without a redirect (Cash App's QR code on a desktop): come back the way
            // Stripe's redirect does, so the server asks Stripe for the outcome (the
            // browser's word is not trusted) and the page waits for it.
            var intent = (result && result.paymentIntent) || {};
            var back = new URL(payButton.getAttribute("data-return-url"), window.location.href);
            back.searchParams.set("payment_intent", intent.id || "");
            window.location.assign(back.toString());
          }
        })
        .catch(function () {
          showError(CONFIRM_FAILED);
        });
    };
    if (typeof window.Stripe === "function") {
      payButton.addEventListener("click", confirm);
    } else {
      showError(STRIPE_JS_FAILED);
      payButton.disabled = true;
    }
  }

  // Stripe's Buy Button script is loaded from here, so its failure to load is seen.
  var buyButtonArea = document.querySelector("[data-buy-button-script]");
  if (buyButtonArea) {
    var buyError = document.querySelector("[data-buy-button-error]");
    var defined = false;
    var buyButtonFailed = function () {
      if (defined) return;
      buyError.textContent = BUY_BUTTON_FAILED;
      buyError.hidden = false;
    };
    window.customElements.whenDefined("stripe-buy-button").then(function () {
      defined = true;
      buyError.hidden = true;
    });
    var script = document.createElement("script");
    script.src = buyButtonArea.getAttribute("data-buy-button-script");
    script.async = true;
    script.addEventListener("error", buyButtonFailed);
    script.addEventListener("load", function () {
      window.setTimeout(buyButtonFailed, BUY_BUTTON_WAIT_MS);
    });
    document.head.appendChild(script);
  }
})();
