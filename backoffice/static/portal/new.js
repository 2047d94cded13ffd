/* Novo contato (POR-1): the sub-classification list shows only those of the chosen
   classification. The server checks the pair again; this only spares a wrong choice. */
(function () {
  "use strict";
  var parent = document.getElementById("classification_id");
  var child = document.getElementById("subclassification_id");
  if (!parent || !child) { return; }
  var options = Array.prototype.slice.call(child.querySelectorAll("option[data-classification]"));
  function filter() {
    options.forEach(function (o) {
      var mine = o.getAttribute("data-classification") === parent.value;
      o.hidden = !mine;
      o.disabled = !mine;
      if (!mine && o.selected) { child.value = ""; }
    });
  }
  parent.addEventListener("change", filter);
  filter();
})();
