/* Atende panel (UX-5): the side menu's toggle on small screens and the tabs of long forms. */
(function () {
  "use strict";
  var body = document.body;
  var button = document.getElementById("atende-menu-button");
  var sidebar = document.getElementById("atende-sidebar");
  var backdrop = document.getElementById("atende-backdrop");

  function isOpen() { return body.classList.contains("atende-menu-open"); }
  function setOpen(open) {
    body.classList.toggle("atende-menu-open", open);
    if (button) { button.setAttribute("aria-expanded", open ? "true" : "false"); }
    if (open && sidebar) {
      var first = sidebar.querySelector("a, button");
      if (first) { first.focus(); }
    }
  }
  if (button && sidebar) {
    button.addEventListener("click", function () { setOpen(!isOpen()); });
    if (backdrop) { backdrop.addEventListener("click", function () { setOpen(false); }); }
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && isOpen()) { setOpen(false); button.focus(); }
    });
    // back on a wide screen the menu is always shown: no overlay left behind
    if (window.matchMedia) {
      var wide = window.matchMedia("(min-width: 992px)");
      var onChange = function () { if (wide.matches) { setOpen(false); } };
      if (wide.addEventListener) { wide.addEventListener("change", onChange); }
      else if (wide.addListener) { wide.addListener(onChange); }
    }
  }

  // A field the browser itself refuses (required, a number out of range) inside a hidden
  // tab would block the save with no message in sight: show that tab first.
  document.addEventListener("invalid", function (ev) {
    var pane = ev.target && ev.target.closest ? ev.target.closest(".tab-pane") : null;
    if (!pane || pane.classList.contains("active") || !window.jQuery) { return; }
    var link = document.querySelector('[data-toggle="tab"][href="#' + pane.id + '"]');
    if (link) { window.jQuery(link).tab("show"); }
  }, true);
})();
