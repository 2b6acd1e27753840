// Checkout page behaviour: countdown redirect, status polling, Cash App Pay confirmation,
// the Stripe Buy Button, and a clear message whenever Stripe's scripts cannot load.
(function () {
  "use strict";
  var root = document.querySelector("[data-checkout]");
  if (!root) return;

  // Polls start every 2 s and wait twice as long after each unchanged answer, up to 30 s;
  // after 10 minutes the page stops and says so.
  var POLL_FIRST_MS = 2000;
  var POLL_MAX_MS = 30000;
  var POLL_FOR_MS = 10 * 60 * 1000;
  var BUY_BUTTON_WAIT_MS = 10000;
  var STRIPE_JS_FAILED =
    "The payment form could not load. Check your connection and reload the page.";
  var RELOAD = "Reload";
  var CONFIRM_FAILED =
    "Cash App Pay could not start. Nothing was charged. Check your connection and try again.";
  var BUY_BUTTON_FAILED =
    "Stripe's payment button could not load. Check your connection and reload the page.";

  // A receipt's Print button: shown only here, since without script it could do nothing.
  var printing = document.querySelector("[data-print]");
  if (printing) {
    printing.hidden = false;
    printing.querySelector("button").addEventListener("click", function () {
      window.print();
    });
  }

  // The order's details are open in the page as sent; on a phone they fold under their
  // summary line, so the pay button comes first, and open again on a wider screen, where
  // their toggle is hidden (kassa.css).
  var details = document.querySelector("[data-summary-details]");
  if (details && window.matchMedia) {
    var phone = window.matchMedia("(max-width: 47.99rem)");
    details.open = !phone.matches;
    phone.addEventListener("change", function () {
      if (!phone.matches) details.open = true;
    });
  }

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

  // A message that something did not load, with a button to try again by reloading.
  var showFailure = function (box, message) {
    box.textContent = message + " ";
    var retry = document.createElement("button");
    retry.type = "button";
    retry.className = "button";
    retry.setAttribute("data-reload", "");
    retry.textContent = RELOAD;
    retry.addEventListener("click", function () {
      window.location.reload();
    });
    box.appendChild(retry);
    box.hidden = false;
  };

  // Ask the server until the status changes (then reload), the order can change no more,
  // or POLL_FOR_MS has passed (then say so: a page left open does not poll forever). Each
  // unchanged answer, error or 429 doubles the wait; a Retry-After is honoured. Each poll
  // also keeps a limited link's use held for this page; when the hold ends, the page
  // reloads to show whether it can still be paid.
  if (root.hasAttribute("data-poll")) {
    var known = root.getAttribute("data-status");
    var held = root.hasAttribute("data-held");
    var url = root.getAttribute("data-status-url");
    var pollUntil = Date.now() + POLL_FOR_MS;
    var wait = POLL_FIRST_MS;
    var later = function (atLeast) {
      var delay = Math.max(wait, atLeast || 0);
      wait = Math.min(wait * 2, POLL_MAX_MS);
      if (Date.now() + delay > pollUntil) {
        var stopped = document.querySelector("[data-poll-stopped]");
        if (stopped) stopped.hidden = false;
        return;
      }
      window.setTimeout(poll, delay);
    };
    var poll = function () {
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) {
          if (response.status === 404) return { gone: true };
          if (response.status === 429) {
            var seconds = parseInt(response.headers.get("Retry-After") || "", 10);
            return { throttled: isNaN(seconds) ? 0 : seconds * 1000 };
          }
          return response.ok ? response.json() : null;
        })
        .then(function (body) {
          if (body && body.gone) return;
          if (body && "throttled" in body) {
            later(body.throttled);
          } else if (body && (body.status !== known || (held && body.held === false))) {
            window.location.reload();
          } else if (!(body && body.final)) {
            later();
          }
        })
        .catch(function () {
          later();
        });
    };
    later();
  }

  // A customer who presses pay leaves for Cash App or Stripe's page, where this page may
  // not poll: tell the server, which keeps a limited link's use for them to the hold's end.
  var keepHold = function () {
    if (!root.hasAttribute("data-held")) return;
    var marked = new URL(root.getAttribute("data-status-url"), window.location.href);
    marked.searchParams.set("paying", "1");
    fetch(marked.toString(), { cache: "no-store", keepalive: true }).catch(function () {});
  };

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
      keepHold();
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
      showFailure(errorBox, STRIPE_JS_FAILED);
      payButton.disabled = true;
    }
  }

  // Stripe's Buy Button script is loaded from here, so its failure to load is seen.
  var buyButtonArea = document.querySelector("[data-buy-button-script]");
  if (buyButtonArea) {
    var buyError = document.querySelector("[data-buy-button-error]");
    var defined = false;
    var buyButtonFailed = function () {
      if (defined || !buyError.hidden) return;
      showFailure(buyError, BUY_BUTTON_FAILED);
    };
    window.customElements.whenDefined("stripe-buy-button").then(function () {
      defined = true;
      buyError.hidden = true;
    });
    buyButtonArea.addEventListener("click", keepHold);
    var script = document.createElement("script");
    script.src = buyButtonArea.getAttribute("data-buy-button-script");
    script.async = true;
    script.addEventListener("error", buyButtonFailed);
    // A script that hangs, or loads without defining the button, counts as failed too.
    window.setTimeout(buyButtonFailed, BUY_BUTTON_WAIT_MS);
    document.head.appendChild(script);
  }
})();
