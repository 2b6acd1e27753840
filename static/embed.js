// A Kassa page in kassa.js's pay overlay: tell the seller's page around this frame what the
// order does, and when the customer wants the overlay closed. Messages go only to the one
// origin the server let frame this page (its frame-ancestors), never to "*".
(function () {
  "use strict";
  var origin = document.body.getAttribute("data-embed-origin");
  if (!origin || window.parent === window) return;

  var post = function (type, fields) {
    var message = { source: "kassa", type: type };
    for (var key in fields) message[key] = fields[key];
    window.parent.postMessage(message, origin);
  };

  // Each checkout page says which order it shows and its status; a paid receipt or a
  // failed payment is the event the seller's page listens for (kassa.js reports each once).
  var root = document.querySelector("[data-checkout]");
  if (root) {
    var order = {
      orderId: root.getAttribute("data-order-id"),
      status: root.getAttribute("data-status"),
      paymentLinkId: root.getAttribute("data-payment-link-id")
    };
    post("kassa:order", order);
    if (order.status === "paid") post("kassa:paid", order);
    if (order.status === "failed") post("kassa:failed", order);
  }

  // Keys pressed in this frame never reach the seller's page: Escape is passed on.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") post("kassa:close", {});
  });
  document.querySelectorAll("[data-embed-close]").forEach(function (control) {
    control.addEventListener("click", function (event) {
      event.preventDefault();
      post("kassa:close", {});
    });
  });
  // Listening from here on (the tests wait for it before pressing a close link).
  document.documentElement.setAttribute("data-embed-ready", "");
})();
