// The admin's branding form: a colour picker beside the accent colour's text field, kept in
// step with it. Without JavaScript the text field alone does the job.
(function () {
  "use strict";
  var picker = document.getElementById("accent-picker");
  var text = document.getElementById("accent_color");
  if (!picker || !text) return;
  var pattern = /^#[0-9a-fA-F]{6}$/;
  picker.closest("[data-accent-picker]").hidden = false;
  if (pattern.test(text.value)) picker.value = text.value.toLowerCase();
  picker.addEventListener("input", function () { text.value = picker.value; });
  text.addEventListener("input", function () {
    if (pattern.test(text.value)) picker.value = text.value.toLowerCase();
  });
})();
