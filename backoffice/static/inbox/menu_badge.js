/* Atende — the unread badge of the admin menu's "Atendimento" item (UX-1).
 *
 * The item is inbox.menu.InboxMenuLink, rendered only for users who may use the inbox,
 * with the class atende-inbox-link. The badge shows the same number as the inbox's tab
 * title: the open conversations with unread messages that wait for this user (their own
 * plus the unassigned queue), from GET /inbox/api/counts. Read on load and whenever the
 * tab becomes visible again (the panel has no socket). The label comes from the script
 * tag's data-label ("{n} não lida(s)").
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var label = (script && script.getAttribute("data-label")) || "{n}";

  function links() {
    return Array.prototype.slice.call(document.querySelectorAll("a.atende-inbox-link"));
  }

  function show(n) {
    links().forEach(function (link) {
      var badge = link.querySelector(".atende-inbox-unread");
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "badge badge-danger ml-1 atende-inbox-unread";
        badge.setAttribute("data-testid", "inbox-menu-unread");
        link.appendChild(badge);
      }
      while (badge.firstChild) { badge.removeChild(badge.firstChild); }
      badge.hidden = !n;
      if (!n) { return; }
      badge.appendChild(document.createTextNode(n > 99 ? "99+" : String(n)));
      var sr = document.createElement("span");
      sr.className = "sr-only";
      sr.textContent = " " + label.replace("{n}", String(n));
      badge.appendChild(sr);
    });
  }

  function refresh() {
    if (!links().length || !window.fetch) { return; }
    fetch("/inbox/api/counts", {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (counts) {
        if (counts) { show((Number(counts.mine) || 0) + (Number(counts.unassigned) || 0)); }
      })
      .catch(function () { /* offline: the badge stays as it was */ });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { refresh(); }
  });
})();
