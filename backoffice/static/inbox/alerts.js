/* Atende — the inbox's alerts (UX-1): a sound, a desktop notification, the count in the
 * tab title and on the favicon, and the unread badges of the Todos / Meus / Sem atendente
 * buttons.
 *
 * What alerts. The page's socket (inbox.js announces it with the `atende:socket` window
 * event) receives `ticket.updated` only for tickets the agent may see: the server pushes
 * to realtime.names.ticket_rooms, the mirror of services.visibility. Of those, an open
 * ticket that is the agent's own or waits in a queue they may take (no agent yet) alerts
 *   - when it has more unread customer messages than this page knew of (a new message);
 *   - when the page did not know it as such and it has unread messages or is waiting
 *     (a new ticket, or one just transferred to the agent or their department).
 * The page learns the tickets from the list (inbox.js's `atende:tickets` event) and from
 * every push. Tickets of other agents that a supervisor or a department colleague also
 * sees update the list and the counts, but do not ring.
 *
 * How. A short tone made with WebAudio when the user's sound is on (User.sound_enabled,
 * switched by the bell button through POST /inbox/api/me/preferences). Browsers start
 * audio only after a user gesture, so the audio context is resumed on the first click or
 * key; no audio device, a refused autoplay or no WebAudio at all is caught and ignored.
 * A desktop Notification while the tab is hidden: its title is the contact's name and its
 * body the message as plain text (a Notification never renders HTML, and nothing here
 * builds HTML from it either). Permission is asked once, from the "Ativar notificações"
 * button (a user gesture); the browser remembers the answer; a refusal shows a pt-BR
 * notice once (remembered in localStorage) and everything else keeps working.
 *
 * The counts. GET /inbox/api/counts gives, per view, the open conversations the agent may
 * see with unread messages (services.inbox.unread_counts): those are the badges. The tab
 * title "(n) Atendimento · Atende" and the favicon badge show n = mine + unassigned, the
 * conversations waiting for this agent, read from the server's unread counters rather than
 * "seen while the tab was hidden": it is the same number in every tab of the agent, it
 * survives a reload, and it drops when the agent opens a conversation (inbox.js marks it
 * read, only while the tab is visible, which pushes a ticket.updated). The counts are read
 * on load, after socket pushes (debounced) and after a reconnection.
 *
 * Plain ES5, no framework; text reaches the DOM through textContent only.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("alerts-config");
  if (!configNode) { return; }
  var C = JSON.parse(configNode.textContent);
  var T = C.strings || {};
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {getAttribute: function () { return ""; }})
    .getAttribute("content");
  var OPEN = {waiting: true, open: true, pending: true};
  var VIEWS = ["all", "mine", "unassigned"];
  var DENIED_SHOWN = "atende.alerts.deniedShown";

  var state = {
    sound: !!C.sound,
    known: {},             // ticket id -> {unread, relevant}
    socket: null,
    title: document.title,
    favicon: null,         // the page's own <link rel=icon> href, restored at 0
    count: 0,
    batch: [],
    batchTimer: null,
    countsTimer: null,
    resyncTimer: null,     // the recount planned after the server said "resync"
    lastBeep: 0
  };

  function $(id) { return document.getElementById(id); }
  function noop() {}
  function fmt(text, vars) {
    return String(text || "").replace(/\{(\w+)\}/g, function (m, k) { return vars[k] !== undefined ? vars[k] : m; });
  }
  function storage(key, value) {
    try {
      if (value === undefined) { return window.localStorage.getItem(key); }
      window.localStorage.setItem(key, value);
    } catch (e) { /* private mode: not remembered, no harm */ }
    return null;
  }

  // --- which pushes alert ----------------------------------------------------------------

  function relevant(t) {
    return !!(t && OPEN[t.status] && (!t.agent || t.agent.id === C.user_id));
  }

  function learn(tickets) {
    (tickets || []).forEach(function (t) {
      if (t && t.id) { state.known[t.id] = {unread: t.unread || 0, relevant: relevant(t)}; }
    });
  }

  function onTicket(t) {
    if (!t || !t.id) { return; }
    var before = state.known[t.id];
    var now = {unread: t.unread || 0, relevant: relevant(t)};
    state.known[t.id] = now;
    refreshCountsSoon();
    if (!now.relevant) { return; }
    var alerts = before && before.relevant
      ? now.unread > before.unread
      : now.unread > 0 || t.status === "waiting";
    if (alerts) { queueAlert(t); }
  }

  function queueAlert(t) {
    state.batch = state.batch.filter(function (x) { return x.id !== t.id; });
    state.batch.push(t);
    // a burst (a period opening on many tickets) rings once and notifies once
    clearTimeout(state.batchTimer);
    state.batchTimer = setTimeout(flushAlerts, 250);
  }

  function flushAlerts() {
    var batch = state.batch;
    state.batch = [];
    if (!batch.length) { return; }
    beep();
    if (document.hidden) { notify(batch); }
  }

  // --- sound --------------------------------------------------------------------------------

  var audio = null;

  function audioContext() {
    if (audio) { return audio; }
    var Ctor = window.AudioContext || window.webkitAudioContext;
    if (!Ctor) { return null; }
    audio = new Ctor();
    return audio;
  }

  function unlockAudio() {
    if (!state.sound) { return; }
    try {
      var ctx = audioContext();
      if (ctx && ctx.state === "suspended" && ctx.resume) {
        var resumed = ctx.resume();
        if (resumed && resumed.catch) { resumed.catch(noop); }
      }
    } catch (e) { audio = null; }
  }

  function tone(ctx, at, frequency) {
    var osc = ctx.createOscillator();
    var gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(frequency, at);
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(at);
    osc.stop(at + 0.18);
  }

  function beep() {
    var now = Date.now();
    if (!state.sound || now - state.lastBeep < 1500) { return; }
    state.lastBeep = now;
    try {
      var ctx = audioContext();
      if (!ctx) { return; }
      if (ctx.state === "suspended" && ctx.resume) {
        var resumed = ctx.resume();
        if (resumed && resumed.catch) { resumed.catch(noop); }
      }
      var at = ctx.currentTime + 0.01;
      tone(ctx, at, 880);
      tone(ctx, at + 0.18, 1175);
    } catch (e) { /* no audio device, autoplay refused: the other alerts remain */ }
  }

  function renderSound() {
    var button = $("btn-sound");
    if (!button) { return; }
    button.setAttribute("aria-pressed", state.sound ? "true" : "false");
    button.title = state.sound ? T.sound_on : T.sound_off;
    var icon = button.querySelector(".fa");
    if (icon) {
      icon.classList.toggle("fa-bell", state.sound);
      icon.classList.toggle("fa-bell-slash", !state.sound);
    }
  }

  function toggleSound() {
    var wanted = !state.sound;
    var button = $("btn-sound");
    button.disabled = true;
    fetch("/inbox/api/me/preferences", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": CSRF},
      body: JSON.stringify({sound: wanted})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data && data.error || T.sound_failed); }
        state.sound = !!data.sound;
        renderSound();
        if (state.sound) { unlockAudio(); }
      });
    }).catch(function (err) {
      showNotice(err && err.message ? err.message : T.sound_failed);
    }).then(function () { button.disabled = false; });
  }

  // --- desktop notifications -------------------------------------------------------------------

  function notifications() {
    return typeof window.Notification === "function" ? window.Notification : null;
  }

  function notify(batch) {
    var N = notifications();
    if (!N || N.permission !== "granted") { return; }
    var one = batch.length === 1 ? batch[0] : null;
    var title = one ? (one.contact && one.contact.name) || T.new_message : fmt(T.many_title, {n: batch.length});
    var body = one ? one.preview || T.new_message
      : batch.map(function (t) { return (t.contact && t.contact.name) || ""; }).join(", ");
    try {
      var n = new N(String(title), {body: String(body), tag: one ? "atende-ticket-" + one.id : "atende-tickets"});
      n.onclick = function () {
        try { window.focus(); } catch (e) { /* ignore */ }
        var row = one && document.querySelector('.ticket-row[data-ticket-id="' + Number(one.id) + '"]');
        if (row) { row.click(); }
        if (n.close) { n.close(); }
      };
    } catch (e) { /* a browser that only notifies from a service worker: title and sound remain */ }
  }

  function renderNotifyButton() {
    var button = $("btn-notify");
    var N = notifications();
    if (!button) { return; }
    button.hidden = !N || N.permission !== "default";
  }

  function deniedOnce() {
    if (storage(DENIED_SHOWN)) { return; }
    storage(DENIED_SHOWN, "1");
    showNotice(T.notify_denied);
  }

  function askPermission() {
    var N = notifications();
    if (!N) { renderNotifyButton(); return; }
    var done = function (answer) {
      renderNotifyButton();
      if ((answer || N.permission) === "denied") { deniedOnce(); }
    };
    try {
      var asked = N.requestPermission(done);  // old Safari: callback; others: a promise
      if (asked && asked.then) { asked.then(done, function () { done("denied"); }); }
    } catch (e) { done("denied"); }
  }

  function showNotice(text) {
    var box = $("alerts-notice");
    if (!box) { return; }
    while (box.firstChild) { box.removeChild(box.firstChild); }
    var message = document.createElement("span");
    message.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "close ml-2";
    close.setAttribute("aria-label", T.close);
    close.textContent = "×";
    close.addEventListener("click", function () { box.hidden = true; });
    box.appendChild(close);
    box.appendChild(message);
    box.hidden = false;
  }

  // --- counts: badges, title, favicon -----------------------------------------------------------

  function renderBadge(view, n) {
    var badge = $("view-unread-" + view);
    if (!badge) { return; }
    while (badge.firstChild) { badge.removeChild(badge.firstChild); }
    badge.hidden = !n;
    if (!n) { return; }
    badge.appendChild(document.createTextNode(n > 99 ? "99+" : String(n)));
    var label = document.createElement("span");
    label.className = "sr-only";
    label.textContent = " " + fmt(T.unread, {n: n});
    badge.appendChild(label);
  }

  function faviconLink() {
    var link = document.querySelector('link[rel~="icon"]');
    if (!link) {
      link = document.createElement("link");
      link.rel = "icon";
      document.head.appendChild(link);
    }
    return link;
  }

  function drawFavicon(n, base) {
    var canvas = document.createElement("canvas");
    canvas.width = canvas.height = 32;
    var g = canvas.getContext("2d");
    if (!g) { return null; }
    if (base) {
      g.drawImage(base, 0, 0, 32, 32);
    } else {
      g.fillStyle = "#343a40";
      g.fillRect(0, 0, 32, 32);
      g.fillStyle = "#ffffff";
      g.font = "bold 20px sans-serif";
      g.textAlign = "center";
      g.textBaseline = "middle";
      g.fillText("A", 12, 17);
    }
    g.beginPath();
    g.arc(22, 10, 10, 0, 2 * Math.PI);
    g.fillStyle = "#dc3545";
    g.fill();
    g.fillStyle = "#ffffff";
    g.font = "bold " + (n > 9 ? 11 : 14) + "px sans-serif";
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText(n > 99 ? "99+" : String(n), 22, 11);
    return canvas.toDataURL("image/png");
  }

  function setFavicon(n) {
    var link = faviconLink();
    if (state.favicon === null) { state.favicon = link.getAttribute("href") || ""; }
    if (!n) {
      if (state.favicon) { link.setAttribute("href", state.favicon); } else { link.removeAttribute("href"); }
      return;
    }
    var paint = function (base) {
      if (state.count !== n) { return; }  // a newer count is being drawn
      try {
        var url = drawFavicon(n, base);
        if (url) { link.setAttribute("href", url); }
      } catch (e) { /* a tainted canvas: the title still shows the count */ }
    };
    if (!state.favicon || state.favicon.indexOf("data:,") === 0) { paint(null); return; }
    var img = new Image();
    img.onload = function () { paint(img); };
    img.onerror = function () { paint(null); };
    img.src = state.favicon;
  }

  function renderCounts(counts) {
    VIEWS.forEach(function (v) { renderBadge(v, Number(counts[v]) || 0); });
    var n = (Number(counts.mine) || 0) + (Number(counts.unassigned) || 0);
    if (n === state.count) { return; }
    state.count = n;
    document.title = n ? "(" + (n > 99 ? "99+" : n) + ") " + state.title : state.title;
    setFavicon(n);
  }

  function refreshCounts() {
    return fetch("/inbox/api/counts", {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (counts) { if (counts) { renderCounts(counts); } })
      .catch(noop);  // offline: the socket's reconnection reads them again
  }

  function refreshCountsSoon() {
    clearTimeout(state.countsTimer);
    state.countsTimer = setTimeout(refreshCounts, 400);
  }

  // --- wiring ------------------------------------------------------------------------------------

  function attach(socket) {
    if (!socket || state.socket === socket) { return; }
    state.socket = socket;
    socket.on("ticket.updated", onTicket);
    socket.on("queue.opened", function (data) { (data && data.tickets || []).forEach(onTicket); });
    socket.on("ticket.removed", function (data) {
      if (data && data.id) { delete state.known[data.id]; }
      refreshCountsSoon();
    });
    socket.on("connect", refreshCountsSoon);
    // pushes may have been missed (the server's processes lost Redis for a while): counted
    // again, after a random delay of up to 1.5 s (the whole office hears it at once); once
    // for a second "resync" that comes while the recount is still planned
    socket.on("resync", function () {
      if (state.resyncTimer) { return; }
      state.resyncTimer = setTimeout(function () {
        state.resyncTimer = null;
        refreshCountsSoon();
      }, Math.random() * 1500);
    });
  }

  window.addEventListener("atende:tickets", function (ev) { learn(ev.detail); });
  window.addEventListener("atende:socket", function (ev) { attach(ev.detail); });
  if (window.atendeInboxSocket) { attach(window.atendeInboxSocket); }

  document.addEventListener("click", unlockAudio, true);
  document.addEventListener("keydown", unlockAudio, true);
  if ($("btn-sound")) { $("btn-sound").addEventListener("click", toggleSound); }
  if ($("btn-notify")) { $("btn-notify").addEventListener("click", askPermission); }

  renderSound();
  renderNotifyButton();
  var N = notifications();
  if (N && N.permission === "denied") { deniedOnce(); }
  refreshCounts();
})();
