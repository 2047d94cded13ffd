/* "Copiar" next to a secret shown once (the TV panel's link). The text is selected and
 * copied within the click itself (execCommand, which needs no permission prompt); the
 * asynchronous Clipboard API only where that is refused. Selected either way, so
 * Ctrl+C still works if both fail. */
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.querySelector(button.dataset.copy);
    if (!field) { return; }
    var label = button.textContent;
    function done() {
      button.textContent = button.dataset.done || label;
      setTimeout(function () { button.textContent = label; }, 2000);
    }
    button.addEventListener("click", function () {
      field.focus();
      field.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      if (copied) { done(); return; }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {});
      }
    });
  });
}());
