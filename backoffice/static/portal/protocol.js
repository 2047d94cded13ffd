/* A protocol's page (POR-1): new answers appear without a reload. Every few seconds the
   page asks for the messages after the last one shown (data-poll-url, data-poll-seconds
   on #conversation) and adds them as text (textContent), never as HTML. */
(function () {
  "use strict";
  var box = document.getElementById("conversation");
  var badge = document.getElementById("protocol-status");
  if (!box) { return; }
  var url = box.getAttribute("data-poll-url");
  var every = (parseInt(box.getAttribute("data-poll-seconds"), 10) || 5) * 1000;
  function lastId() {
    var all = box.querySelectorAll("[data-message-id]");
    return all.length ? all[all.length - 1].getAttribute("data-message-id") : "";
  }
  function add(m) {
    if (box.querySelector('[data-message-id="' + Number(m.id) + '"]')) { return; }
    var card = document.createElement("div");
    card.className = "portal-msg card card-body p-2 mb-2" + (m.mine ? " mine" : "");
    card.setAttribute("data-message-id", String(m.id));
    card.setAttribute("data-testid", "message");
    var head = document.createElement("div");
    head.className = "small text-muted";
    head.textContent = m.author + " · " + m.when;
    card.appendChild(head);
    if (m.text) {
      var body = document.createElement("div");
      body.className = "portal-text";
      body.textContent = m.text;
      card.appendChild(body);
    }
    if (m.attachment) {
      var line = document.createElement("div");
      var link = document.createElement("a");
      link.href = m.attachment.url;
      link.setAttribute("data-testid", "attachment");
      link.textContent = "\uD83D\uDCCE " + m.attachment.name;
      line.appendChild(link);
      card.appendChild(line);
    }
    box.appendChild(card);
  }
  function poll() {
    fetch(url + "?depois=" + encodeURIComponent(lastId()),
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.messages.forEach(add);
        if (badge) { badge.textContent = data.status_label; }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, every); });
  }
  setTimeout(poll, every);
})();
