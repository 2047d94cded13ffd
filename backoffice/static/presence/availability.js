/* Disponível / Ausente (UX-3): the agent's own switch in the panel's navbar.
   The checkbox carries its URL, the CSRF token and the failure message; the answer's
   status updates the navbar badge (a pause still wins: the badge then stays "Em pausa"). */
(function () {
  "use strict";
  var input = document.getElementById("availability-switch");
  if (!input || !window.fetch) { return; }
  var CLASSES = {paused: "badge-warning", online: "badge-success"};

  function showStatus(st) {
    var badge = document.getElementById("presence-badge");
    var menu = document.getElementById("presence-menu");
    if (menu) { menu.setAttribute("data-status", st.status); }
    if (!badge) { return; }
    badge.textContent = st.label + (st.pause ? ": " + st.pause : "");
    badge.className = "badge mr-2 " + (CLASSES[st.status] || "badge-secondary");
  }

  function failed(wanted, message) {
    input.checked = !wanted;
    window.alert(message || input.getAttribute("data-failed"));
  }

  input.addEventListener("change", function () {
    var wanted = input.checked;
    input.disabled = true;
    fetch(input.getAttribute("data-url"), {
      method: "POST", credentials: "same-origin",
      headers: {"Accept": "application/json", "Content-Type": "application/json",
                "X-CSRFToken": input.getAttribute("data-csrf")},
      body: JSON.stringify({available: wanted})
    }).then(function (resp) {
      return resp.json().then(function (data) { return {ok: resp.ok, data: data}; });
    }).then(function (r) {
      if (!r.ok) { failed(wanted, r.data && r.data.error); return; }
      input.checked = !!r.data.available;
      showStatus(r.data.status);
    }).catch(function () { failed(wanted); }).then(function () { input.disabled = false; });
  });
})();
