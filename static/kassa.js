/* Kassa pay button. <script src="https://pay.example.com/static/kassa.js"
   data-payment-link="plink_…" data-label="Pay $5" data-color="#007f3e"
   data-text-color="#fff" data-new-tab="false" data-overlay="true"></script>
   On a site the link's provider allows, it opens the checkout in an overlay and fires
   kassa:paid, kassa:failed and kassa:closed on the button (they bubble to document). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var data = script.dataset;
  var link = data.paymentLink || "";
  if (!/^plink_[0-9a-f]{24}$/.test(link)) {
    if (window.console) console.error("kassa.js: data-payment-link is missing or invalid");
    return;
  }
  var origin = new URL(script.src, location.href).origin;
  var target = origin + "/l/" + link;
  var button = document.createElement("button");
  button.type = "button";
  button.className = "kassa-pay-button";
  button.textContent = data.label || "Pay";
  button.setAttribute("data-kassa-link", link);
  var css = function (element, style) {
    for (var key in style) element.style[key] = style[key];
  };
  css(button, {
    background: data.color || "#007f3e",
    color: data.textColor || "#fff",
    border: "0",
    borderRadius: data.radius || "8px",
    padding: "12px 20px",
    minHeight: "44px",
    font: "600 16px/1.2 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    cursor: "pointer"
  });
  button.addEventListener("focus", function () {
    button.style.outline = "3px solid " + (data.focusColor || "#7fb3ee");
    button.style.outlineOffset = "2px";
  });
  button.addEventListener("blur", function () { button.style.outline = "none"; });

  var overlay = null, frame = null, closer = null, order = {}, told = {}, overflow = "";
  var emit = function (type) {
    button.dispatchEvent(new CustomEvent(type, { bubbles: true, detail: {
      orderId: order.orderId || null, status: order.status || null, paymentLinkId: link } }));
  };
  var close = function () {
    if (!overlay) return;
    overlay.remove();
    overlay = frame = null;
    document.documentElement.style.overflow = overflow;
    button.focus();
    emit("kassa:closed");
  };
  var open = function () {
    var phone = matchMedia("(max-width: 520px)").matches;
    overlay = document.createElement("div");
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", "Checkout");
    overlay.setAttribute("data-kassa-overlay", link);
    css(overlay, { position: "fixed", top: "0", left: "0", width: "100%", height: "100%", zIndex: "2147483647", display: "flex",
      alignItems: "center", justifyContent: "center", background: "rgba(0,0,0,.6)" });
    var panel = document.createElement("div");
    css(panel, { display: "flex", flexDirection: "column", background: "#fff",
      width: phone ? "100%" : "min(480px, 100%)", height: phone ? "100%" : "min(760px, 100%)",
      borderRadius: phone ? "0" : "12px", overflow: "hidden" });
    closer = document.createElement("button");
    closer.type = "button";
    closer.textContent = "Close";
    closer.setAttribute("aria-label", "Close checkout");
    css(closer, { alignSelf: "flex-end", minHeight: "44px", minWidth: "44px", margin: "4px",
      padding: "0 14px", border: "0", background: "none", color: "#1a1a1a",
      font: "600 16px system-ui, sans-serif", cursor: "pointer" });
    closer.addEventListener("click", close);
    frame = document.createElement("iframe");
    frame.title = "Checkout";
    frame.src = target + "?embed=" + encodeURIComponent(location.origin);
    css(frame, { flex: "1", width: "100%", border: "0" });
    panel.appendChild(closer);
    panel.appendChild(frame);
    overlay.appendChild(panel);
    order = {};
    told = {};
    overflow = document.documentElement.style.overflow;
    document.documentElement.style.overflow = "hidden";
    document.body.appendChild(overlay);
    closer.focus();
  };
  // Only Kassa's own pages, in this button's frame, are listened to.
  window.addEventListener("message", function (event) {
    var message = event.data;
    if (!frame || event.origin !== origin || event.source !== frame.contentWindow) return;
    if (!message || message.source !== "kassa") return;
    if (message.type === "kassa:close") return close();
    if (typeof message.orderId !== "string") return;
    order = { orderId: message.orderId, status: message.status };
    var type = message.type;
    if ((type === "kassa:paid" || type === "kassa:failed") && told[order.orderId] !== type) {
      told[order.orderId] = type;
      emit(type);
    }
  });
  document.addEventListener("keydown", function (event) {
    if (overlay && event.key === "Escape") close();
  });
  document.addEventListener("focusin", function (event) {
    if (overlay && !overlay.contains(event.target)) closer.focus();
  });

  var go = function () { window.location.assign(target); };
  var busy = false;
  // Kassa says whether this site may show the overlay; where it cannot pay (Cash App on a
  // phone leaves for the app) or Kassa does not answer in time, the button opens the page.
  var ask = function () {
    busy = true;
    var late = new Promise(function (done) { setTimeout(done, 5000); });
    var answer = fetch(target + "/overlay", { credentials: "omit" }).then(function (reply) {
      return reply.ok ? reply.json() : null;
    });
    Promise.race([answer, late]).then(function (offer) {
      var touch = matchMedia("(hover: none) and (pointer: coarse)").matches;
      if (offer && offer.overlay && (offer.onPhones || !touch)) open(); else go();
    }, go).then(function () { busy = false; });
  };
  button.addEventListener("click", function () {
    if (data.newTab === "true") {
      window.open(target, "_blank", "noopener");
    } else if (data.overlay === "false" || !window.fetch) {
      go();
    } else if (!overlay && !busy) {
      ask();
    }
  });
  script.parentNode.insertBefore(button, script.nextSibling);
})();
