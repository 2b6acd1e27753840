/* Kassa pay button. <script src="https://pay.example.com/static/kassa.js"
   data-payment-link="plink_…" data-label="Pay $5" data-color="#007f3e"
   data-text-color="#fff" data-new-tab="false"></script> */
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
  var style = {
    background: data.color || "#007f3e",
    color: data.textColor || "#fff",
    border: "0",
    borderRadius: data.radius || "8px",
    padding: "12px 20px",
    minHeight: "44px",
    font: "600 16px/1.2 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    cursor: "pointer"
  };
  for (var key in style) button.style[key] = style[key];
  button.addEventListener("focus", function () {
    button.style.outline = "3px solid " + (data.focusColor || "#7fb3ee");
    button.style.outlineOffset = "2px";
  });
  button.addEventListener("blur", function () { button.style.outline = "none"; });
  button.addEventListener("click", function () {
    if (data.newTab === "true") {
      window.open(target, "_blank", "noopener");
    } else {
      window.location.assign(target);
    }
  });
  script.parentNode.insertBefore(button, script.nextSibling);
})();
