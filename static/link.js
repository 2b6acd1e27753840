// Payment-link page: quantity stepper and a live total, in exact integer minor units.
(function () {
  "use strict";
  var form = document.querySelector("form[data-price-minor]");
  if (!form) return;
  var input = form.querySelector("input[name=quantity]");
  var total = form.querySelector("[data-total]");
  if (!input || !total) return;
  var price = parseInt(form.getAttribute("data-price-minor"), 10);
  var exponent = parseInt(form.getAttribute("data-exponent"), 10);
  // The page's own zero amount in the viewer's locale, e.g. "$0.00", "0,00 €" or "￥0",
  // and the locale's separators: the total keeps the page's format.
  var example = form.getAttribute("data-money-example");
  var decimal = form.getAttribute("data-decimal") || ".";
  var group = form.getAttribute("data-group") || ",";
  var zero = example.match(/0([^0-9]?0+)?/)[0];

  function format(minor) {
    var digits = String(minor);
    while (digits.length <= exponent) digits = "0" + digits;
    var whole = exponent ? digits.slice(0, -exponent) : digits;
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group);
    var number = exponent ? whole + decimal + digits.slice(-exponent) : whole;
    return example.replace(zero, number);
  }

  function clamp(value) {
    var low = parseInt(input.min, 10), high = parseInt(input.max, 10);
    if (isNaN(value)) return low;
    return Math.min(high, Math.max(low, value));
  }

  function update() {
    var quantity = parseInt(input.value, 10);
    var valid = /^\d+$/.test(input.value.trim()) &&
      quantity >= parseInt(input.min, 10) && quantity <= parseInt(input.max, 10);
    // Never a total for a quantity the server would refuse.
    total.textContent = valid ? format(price * quantity) : "—";
  }

  form.querySelectorAll("[data-step]").forEach(function (button) {
    button.addEventListener("click", function () {
      input.value = clamp(parseInt(input.value, 10) + parseInt(button.getAttribute("data-step"), 10));
      update();
    });
  });
  input.addEventListener("input", update);
  input.addEventListener("change", update);
  update();
})();
