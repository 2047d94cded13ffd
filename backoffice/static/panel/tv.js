/* The TV panel (PNL-1): draws /tv/<key>/data.json and keeps it current.
 *
 * - data: fetched on load, on every socket (re)connect, on each "panel.changed" push
 *   (coalesced: at most one fetch a second) and every `refresh_s` as a safety net;
 *   the waits and the clock tick locally in between.
 * - socket: namespace "/panel", authenticated by the key. Socket.IO reconnects by itself
 *   after a network drop; a refusal or a server-side disconnect is checked against
 *   data.json: a 404 means the link was revoked, anything else retries.
 * - revoked ("panel.revoked", or data.json answers 404): the board is replaced by the
 *   message and nothing retries any more.
 * Data is written with textContent only.
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("tv-data").textContent);
  var T = data.texts;
  var STATUSES = { online: 1, paused: 1, away: 1, offline: 1 };
  var grid = document.getElementById("tv-grid");
  var statusBox = document.getElementById("tv-status");
  var gone = document.getElementById("tv-gone");
  var updated = document.getElementById("tv-updated");
  var clock = document.getElementById("tv-clock");
  var cardTemplate = document.getElementById("tv-card");
  var top = document.querySelector(".tv-top");
  var state = { board: null, fetchedAt: 0, socket: null, revoked: false, inFlight: false,
                again: false, timer: null, refresh: null, ticker: null };

  function formatter() {
    var options = { hour: "2-digit", minute: "2-digit" };
    try {
      return new Intl.DateTimeFormat(data.locale, Object.assign({ timeZone: data.timezone }, options));
    } catch (e) {  // an unknown zone on an old TV browser: the TV's own clock
      return new Intl.DateTimeFormat(data.locale, options);
    }
  }
  var timeFormat = formatter();

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || seconds === "" || isNaN(seconds)) { return "–"; }
    var s = Math.max(0, Math.floor(Number(seconds)));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? h + ":" + two(m) + ":" + two(s % 60) : two(m) + ":" + two(s % 60);
  }

  function elapsed() { return state.fetchedAt ? (Date.now() - state.fetchedAt) / 1000 : 0; }

  function setStatus(text) {
    statusBox.textContent = text || "";
    statusBox.hidden = !text;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // A wait shown on the board: its value at fetch time in data-base, ticking from there.
  function setWait(el, seconds, limitMinutes) {
    el.dataset.base = seconds === null || seconds === undefined ? "" : String(seconds);
    if (limitMinutes) { el.dataset.limit = String(limitMinutes * 60); }
    showWait(el);
  }

  function showWait(el) {
    var base = el.dataset.base;
    var now = base === "" ? null : Number(base) + elapsed();
    el.textContent = duration(now);
    var card = el.closest(".tv-card");
    if (card && el.dataset.limit) {
      var over = Number(card.dataset.overLimit || 0) > 0 || (now !== null && now >= Number(el.dataset.limit));
      card.classList.toggle("tv-over", over);
    }
  }

  function agentItem(agent) {
    var li = document.createElement("li");
    var dot = document.createElement("span");
    dot.className = "tv-dot tv-" + (STATUSES[agent.status] ? agent.status : "offline");
    dot.setAttribute("aria-hidden", "true");
    var name = document.createElement("span");
    name.textContent = agent.name || "";
    var label = document.createElement("span");
    label.className = "tv-agent-status";
    label.textContent = (agent.label || "") + (agent.status === "paused" && agent.pause ? " · " + agent.pause : "");
    li.appendChild(dot);
    li.appendChild(name);
    li.appendChild(label);
    return li;
  }

  function card(department) {
    var node = cardTemplate.content.firstElementChild.cloneNode(true);
    node.dataset.overLimit = String(department.over_limit || 0);
    node.querySelector(".tv-card-title").textContent = department.name || "";
    ["waiting", "in_progress", "received_today", "closed_today"].forEach(function (field) {
      node.querySelector('[data-field="' + field + '"]').textContent = String(department[field] || 0);
    });
    setWait(node.querySelector('[data-field="longest_wait_s"]'), department.longest_wait_s,
            department.alert_minutes);
    var list = node.querySelector(".tv-agents");
    if (!department.agents || !department.agents.length) {
      var none = document.createElement("li");
      none.className = "tv-empty";
      none.textContent = T.no_agents;
      list.appendChild(none);
    } else {
      department.agents.forEach(function (agent) { list.appendChild(agentItem(agent)); });
    }
    return node;
  }

  function render() {
    var board = state.board;
    document.querySelectorAll("[data-total]").forEach(function (el) {
      var key = el.dataset.total;
      if (key === "longest_wait_s") { setWait(el, board.totals[key]); }
      else { el.textContent = String(board.totals[key] || 0); }
    });
    document.querySelectorAll("[data-agents]").forEach(function (el) {
      el.textContent = String(board.agents[el.dataset.agents] || 0);
    });
    clear(grid);
    if (!board.departments.length) {
      var empty = document.createElement("p");
      empty.className = "tv-empty-board";
      empty.textContent = T.none;
      grid.appendChild(empty);
    }
    board.departments.forEach(function (department) { grid.appendChild(card(department)); });
    updated.textContent = T.updated.replace("%(time)s", timeFormat.format(new Date()));
  }

  function tick() {
    clock.textContent = timeFormat.format(new Date());
    if (state.board) { document.querySelectorAll("[data-base]").forEach(showWait); }
  }

  function stop() {
    if (state.revoked) { return; }
    state.revoked = true;
    clearInterval(state.refresh);
    clearInterval(state.ticker);
    if (state.timer) { clearTimeout(state.timer); }
    if (state.socket) {
      state.socket.off();
      state.socket.disconnect();
    }
    top.hidden = true;
    grid.hidden = true;
    setStatus("");
    updated.textContent = "";
    gone.textContent = T.revoked;
    gone.hidden = false;
  }

  function load() {
    if (state.revoked) { return; }
    if (state.inFlight) { state.again = true; return; }
    state.inFlight = true;
    fetch(data.data_url, { cache: "no-store", credentials: "omit",
                           headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 404) { stop(); return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (board) {
        if (!board || state.revoked) { return; }
        state.board = board;
        state.fetchedAt = Date.now();
        render();
        if (state.socket && state.socket.connected) { setStatus(""); }
      })
      .catch(function () { if (!state.revoked) { setStatus(T.offline); } })
      .then(function () {
        state.inFlight = false;
        if (state.again) { state.again = false; schedule(); }
      });
  }

  function schedule() {
    if (state.timer || state.revoked) { return; }
    state.timer = setTimeout(function () { state.timer = null; load(); }, 1000);
  }

  function retryLater(socket, ms) {
    setTimeout(function () { if (!state.revoked && !socket.connected) { socket.connect(); } }, ms);
  }

  function connect() {
    if (typeof io !== "function") { return; }
    var socket = window.atendeSocket(data.namespace, { auth: { key: data.key } });
    state.socket = socket;
    socket.on("connect", function () { setStatus(""); load(); });
    socket.on("panel.changed", schedule);
    socket.on("resync", schedule);  // pushes may have been missed: the server's processes lost Redis
    socket.on("panel.revoked", stop);
    socket.on("disconnect", function (reason) {
      if (state.revoked) { return; }
      setStatus(T.reconnecting);
      if (reason === "io server disconnect") {  // not retried by Socket.IO: revoked, or a restart?
        load();
        retryLater(socket, 3000);
      }
    });
    socket.on("connect_error", function (err) {
      if (state.revoked) { return; }
      setStatus(T.reconnecting);
      // refused by the server: the key, or a failure, so data.json is asked why; not when
      // the server's database was away a moment (realtime/socket.js connects again soon)
      if (!socket.active && !window.atendeSocket.retryAsked(err)) {
        load();
        retryLater(socket, 10000);
      }
    });
  }

  tick();
  state.ticker = setInterval(tick, 1000);
  state.refresh = setInterval(load, (data.refresh_s || 60) * 1000);
  load();
  connect();
}());
