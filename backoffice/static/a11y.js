/* Accessible names Flask-Admin's list template leaves out (axe: label-title-only,
   link-name): the row checkboxes are named only by a title, and a column's help icon is
   an empty link whose title Bootstrap's tooltip moves to data-original-title. Loaded at
   the end of the body, so the list is already in the document. */
(function () {
  var items = document.querySelectorAll(".action-rowtoggle, .action-checkbox, a[data-role=tooltip]");
  for (var i = 0; i < items.length; i++) {
    var el = items[i];
    var name = el.getAttribute("title") || el.getAttribute("data-original-title");
    if (name && !el.hasAttribute("aria-label")) { el.setAttribute("aria-label", name); }
  }
})();
