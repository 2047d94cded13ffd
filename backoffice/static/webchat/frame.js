/* Atende webchat frame (CHN-5): the visitor's side of the conversation.
 *
 * - The visitor token (made by the server on the first "Iniciar conversa") is kept in
 *   localStorage per public key, so a reload resumes the conversation. Where a browser
 *   refuses storage to a third-party frame, the server's partitioned HttpOnly cookie
 *   brings it back (data.resume_token).
 * - Every text from the server goes into the page with textContent, never innerHTML
 *   (MSG-5: "<img src=x onerror=alert(1)>" shows as those characters).
 * - Live: Socket.IO namespace /webchat; each (re)connect refetches the conversation, so a
 *   message sent while the socket was down is not lost. Outgoing messages are
 *   acknowledged "delivered" on arrival and "read" while the chat is open and visible.
 * - A refused message (429, 409, network) stays in the textarea: nothing typed is lost.
 * - An overloaded server (503 with Retry-After) is asked again by itself, the same message
 *   with the same client id (stored once), a few times before the visitor is told.
 * - Talks to the loader (widget.js) on the host page with postMessage: ready / unread /
 *   close out, open / closed in.
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("wc-data").textContent);
  var T = data.strings;
  var STORE_TOKEN = "atende:visitor:" + data.key;
  var embedded = window.parent !== window;

  function byId(id) { return document.getElementById(id); }
  var els = {
    alert: byId("wc-alert"), status: byId("wc-status"), messages: byId("wc-messages"),
    form: byId("wc-form"), start: byId("wc-start"), notice: byId("wc-notice"),
    identity: byId("wc-identity"), deptRow: byId("wc-department-row"),
    dept: byId("wc-department"), name: byId("wc-name"), email: byId("wc-email"),
    text: byId("wc-text"), file: byId("wc-file"), chip: byId("wc-file-chip"),
    fileName: byId("wc-file-name"), fileRemove: byId("wc-file-remove"), send: byId("wc-send"),
    close: byId("wc-close"), protocol: byId("wc-protocol")
  };

  // localStorage can be refused in a third-party iframe (blocked site data): keep the
  // token in memory then; the conversation lasts as long as the page.
  var storage = (function () {
    var memory = {};
    var local = null;
    try {
      local = window.localStorage;
      local.setItem("atende:probe", "1");
      local.removeItem("atende:probe");
    } catch (e) {
      local = null;
    }
    return {
      get: function (k) {
        try { return local ? local.getItem(k) : (k in memory ? memory[k] : null); } catch (e) { return null; }
      },
      set: function (k, v) {
        try { if (local) { local.setItem(k, v); } else { memory[k] = String(v); } } catch (e) { memory[k] = String(v); }
      },
      remove: function (k) {
        try { if (local) { local.removeItem(k); } } catch (e) { /* ignore */ }
        delete memory[k];
      }
    };
  })();

  var state = {
    // the server's partitioned cookie restores it where the frame's storage is refused
    token: storage.get(STORE_TOKEN) || data.resume_token || null,
    mode: null,
    ticketOpen: false,
    socket: null,
    socketRefused: false,
    resyncTimer: null,    // the fetch planned after the server said "resync"
    open: !embedded,
    busy: false,
    unread: 0,
    departments: data.departments || [],
    nodes: new Map(),     // message id -> element
    out: [],              // ids of outgoing messages shown
    delivered: new Set(),
    read: new Set()
  };

  // --- small helpers ----------------------------------------------------------------

  function postParent(message) {
    if (embedded) { window.parent.postMessage(message, "*"); }
  }

  function showAlert(text) {
    els.alert.textContent = text || "";
    els.alert.hidden = !text;
  }

  function setStatus(text) {
    els.status.textContent = text || "";
    els.status.hidden = !text;
  }

  function visible() {
    return state.open && document.visibilityState === "visible";
  }

  function setUnread(count) {
    if (count === state.unread) { return; }
    state.unread = count;
    postParent({ atende: "unread", count: count });
  }

  function timeLabel(iso) {
    var moment = new Date(iso || "");
    if (isNaN(moment.getTime())) { return ""; }
    var label = moment.toLocaleTimeString(data.locale, { hour: "2-digit", minute: "2-digit" });
    if (moment.toDateString() !== new Date().toDateString()) {
      label = moment.toLocaleDateString(data.locale, { day: "2-digit", month: "2-digit" }) + " " + label;
    }
    return label;
  }

  function atBottom() {
    var m = els.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 40;
  }

  function scrollDown() {
    els.messages.scrollTop = els.messages.scrollHeight;
  }

  /* A reopened chat shows the newest message (UX-2). While the loader keeps the frame
   * hidden the list has no height and cannot scroll; the frame learns it is shown by
   * the "open" message but gets its size a moment later (a resize), so the list is
   * kept pinned to the bottom until the visitor scrolls up. */
  var pinned = true;
  function pinDown() {
    pinned = true;
    scrollDown();
  }
  els.messages.addEventListener("scroll", function () {
    if (state.open && els.messages.clientHeight > 0) { pinned = atBottom(); }
  });
  window.addEventListener("resize", function () {
    if (pinned) { scrollDown(); }
  });

  async function request(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (state.token) { headers["X-Visitor-Token"] = state.token; }
    // the key this page got with the frame: new visitors behind one address (an office)
    // are limited per browser, not all together
    if (path === "start" && data.browser) { headers["X-Visitor-Browser"] = data.browser; }
    // same-origin: the start response sets the resume cookie (ignored by the API itself)
    var init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    var response;
    try {
      response = await fetch(data.api + path, init);
    } catch (e) {
      return { status: 0, body: { error: T.network } };
    }
    var payload = null;
    try { payload = await response.json(); } catch (e) { payload = null; }
    return { status: response.status, body: payload || {},
             retryAfter: Number(response.headers.get("Retry-After")) || 0 };
  }

  // --- modes: choosing a department / talking ---------------------------------------------

  function fillDepartments(list) {
    state.departments = list || [];
    var chosen = els.dept.value;
    while (els.dept.firstChild) { els.dept.removeChild(els.dept.firstChild); }
    if (state.departments.length !== 1) {
      var blank = document.createElement("option");
      blank.value = "";
      blank.textContent = T.choose_department;
      els.dept.appendChild(blank);
    }
    state.departments.forEach(function (d) {
      var option = document.createElement("option");
      option.value = String(d.id);
      option.textContent = d.name;
      els.dept.appendChild(option);
    });
    if (chosen && state.departments.some(function (d) { return String(d.id) === chosen; })) {
      els.dept.value = chosen;
    }
  }

  function setMode(mode, finished) {
    state.mode = mode;
    var starting = mode === "start";
    els.start.hidden = !starting;
    els.identity.hidden = !!state.token;     // a returning visitor is known already
    els.notice.hidden = !(starting && finished);
    els.deptRow.hidden = state.departments.length < 2;
    els.send.textContent = starting ? T.start : T.send;
  }

  function showProtocol(ticket) {
    if (ticket && ticket.protocol) {
      els.protocol.textContent = T.protocol + " " + ticket.protocol;
      els.protocol.hidden = false;
    } else {
      els.protocol.hidden = true;
    }
  }

  function forgetToken() {
    state.token = null;
    storage.remove(STORE_TOKEN);
    if (state.socket) { state.socket.close(); state.socket = null; }
  }

  // --- messages ------------------------------------------------------------------------------

  function download(message) {
    var headers = { "X-Visitor-Token": state.token || "" };
    fetch(data.api + "attachments/" + message.id, { headers: headers, credentials: "omit" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.blob(); })
      .then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = document.createElement("a");
        a.href = url;
        a.download = (message.attachment && message.attachment.name) || T.attachment;
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 30000);
      })
      .catch(function () { showAlert(T.download_failed); });
  }

  function messageElement(m) {
    var mine = m.direction === "in";
    var el = document.createElement("div");
    el.className = "wc-msg " + (mine ? "wc-mine" : "wc-theirs") +
      (!mine && m.author_kind === "system" ? " wc-system" : "");
    el.setAttribute("data-message-id", String(m.id));
    if (!mine && m.author) {
      var author = document.createElement("div");
      author.className = "wc-author";
      author.textContent = m.author;
      el.appendChild(author);
    }
    var text = document.createElement("div");
    text.className = "wc-text";
    text.textContent = m.text || "";
    el.appendChild(text);
    if (m.attachment) {
      var link = document.createElement("a");
      link.className = "wc-file-link";
      link.href = "#";
      link.textContent = m.attachment.name || T.attachment;
      link.title = T.attachment;
      link.addEventListener("click", function (ev) { ev.preventDefault(); download(m); });
      el.appendChild(link);
    }
    var time = document.createElement("time");
    time.className = "wc-time";
    time.dateTime = m.created_at || "";
    time.textContent = timeLabel(m.created_at);
    el.appendChild(time);
    return el;
  }

  /* Adds a message once (by id), in id order; returns whether it was new. */
  function addMessage(m) {
    if (!m || typeof m.id !== "number" || state.nodes.has(m.id)) { return false; }
    var stick = atBottom();
    var el = messageElement(m);
    var before = null;
    state.nodes.forEach(function (node, id) {
      if (id > m.id && (before === null || id < before.id)) { before = { id: id, node: node }; }
    });
    els.messages.insertBefore(el, before ? before.node : null);
    state.nodes.set(m.id, el);
    if (m.direction === "out") {
      state.out.push(m.id);
      if (m.read) { state.read.add(m.id); state.delivered.add(m.id); }
    }
    if (stick || pinned || m.direction === "in") { scrollDown(); }
    return true;
  }

  function ack(id, status, tries) {
    if (!state.socket) { return; }
    tries = tries || 0;
    state.socket.emit("ack", { id: id, status: status }, function (res) {
      // the server's database was away for a moment: the receipt is sent again, a few times
      if (res && res.retry && tries < 5) {
        setTimeout(function () { ack(id, status, tries + 1); }, 2000 * (tries + 1));
      }
    });
  }

  /* Receipts: "delivered" for whatever arrived, "read" while the visitor can see it. */
  function syncAcks() {
    if (!state.socket) { return; }
    var seeing = visible();
    state.out.forEach(function (id) {
      if (state.read.has(id)) { return; }
      if (seeing) {
        state.read.add(id);
        state.delivered.add(id);
        ack(id, "read");
      } else if (!state.delivered.has(id)) {
        state.delivered.add(id);
        ack(id, "delivered");
      }
    });
    if (seeing) { setUnread(0); }
  }

  function applyConversation(body) {
    (body.messages || []).forEach(addMessage);
    var ticket = body.ticket;
    state.ticketOpen = !!(ticket && ticket.open);
    showProtocol(ticket);
    if (!ticket) {
      setMode("start");
    } else {
      setMode(ticket.open ? "chat" : "start", !ticket.open);
    }
    ensureSocket();
    syncAcks();
  }

  async function loadConversation() {
    if (!state.token) { setMode("start"); return; }
    var r = await request("GET", "conversation");
    if (r.status === 200) {
      applyConversation(r.body);
    } else if (r.status === 401) {          // the visitor was removed: start afresh
      forgetToken();
      setMode("start");
    } else {
      showAlert(r.body.error || T.network);
      if (!state.mode) { setMode("chat"); }
    }
  }

  async function refreshDepartments() {
    var r = await request("GET", "config");
    if (r.status === 200) { fillDepartments(r.body.departments); }
  }

  // --- live ---------------------------------------------------------------------------------

  function ensureSocket() {
    if (state.socket || !state.token || state.socketRefused || typeof io !== "function") { return; }
    var socket = window.atendeSocket("/webchat", { auth: { key: data.key, token: state.token } });
    state.socket = socket;
    window.atendeChatSocket = socket;  // for diagnostics from the console (and the browser tests)
    socket.on("connect", function () {
      setStatus("");
      loadConversation();   // catch up on anything sent while we were away
    });
    // the server's processes lost Redis for a while: replies may have been missed. After a
    // random delay of up to 5 s: every open chat of the site hears it at once, and a busy
    // site has thousands of them (an agent's page waits up to 1.5 s). Once: a second
    // "resync" (another process's) while the fetch is still planned is covered by it
    socket.on("resync", function () {
      if (state.resyncTimer) { return; }
      state.resyncTimer = setTimeout(function () {
        state.resyncTimer = null;
        loadConversation();
      }, Math.floor(Math.random() * 5000));
    });
    socket.on("disconnect", function (reason) {
      if (reason !== "io client disconnect") { setStatus(T.reconnecting); }
    });
    socket.on("connect_error", function (err) {
      // a network loss, or the server's database away for a moment: connected again soon
      // (Socket.IO, or realtime/socket.js)
      if (socket.active || window.atendeSocket.retryAsked(err)) { setStatus(T.reconnecting); return; }
      // refused by the server (visitor or chat gone): ask the API what happened
      state.socketRefused = true;
      if (state.socket === socket) { state.socket = null; }
      setStatus("");
      loadConversation();
    });
    socket.on("message", function (m) {
      var added = addMessage(m);
      if (m && m.direction === "out") {
        if (added && !visible()) { setUnread(state.unread + 1); }
        if (!state.ticketOpen) { loadConversation(); }   // reopened by an agent
      }
      syncAcks();
    });
  }

  // --- sending --------------------------------------------------------------------------------

  // an overloaded server answers 503 with Retry-After (seconds): asked again this many times
  var BUSY_TRIES = 5;

  function pause(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function setBusy(busy) {
    state.busy = busy;
    els.send.disabled = busy;
  }

  function chosenFile() {
    return (els.file.files && els.file.files[0]) || null;
  }

  function clearFile() {
    els.file.value = "";
    els.fileName.textContent = "";
    els.chip.hidden = true;
  }

  /* The id of the message being sent (the server stores each id once): the same one
   * when the visitor sends the same thing again after a failure whose first try may
   * have arrived after all (a timeout), a new one for anything else. */
  function clientId(text, file) {
    var what = text + "\u0000" + (file ? file.name + ":" + file.size : "");
    if (!state.pending || state.pending.what !== what) {
      var id;
      if (window.crypto && window.crypto.randomUUID) {
        id = window.crypto.randomUUID();
      } else {
        var bytes = new Uint8Array(16);
        window.crypto.getRandomValues(bytes);
        id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      }
      state.pending = { what: what, id: id };
    }
    return state.pending.id;
  }

  async function submit(ev) {
    if (ev) { ev.preventDefault(); }
    if (state.busy) { return; }
    showAlert("");
    var text = els.text.value;
    var file = chosenFile();
    if (!text.trim() && !file) { showAlert(T.empty); els.text.focus(); return; }
    if (file && file.size > data.max_bytes) { showAlert(T.too_big); return; }
    var starting = state.mode === "start";
    var fields = { text: text, client_id: clientId(text, file) };
    if (starting) {
      if (state.departments.length > 1 && !els.dept.value) {
        showAlert(T.choose_department);
        els.dept.focus();
        return;
      }
      fields.department_id = els.dept.value || null;
      if (!state.token) {
        fields.name = els.name.value;
        fields.email = els.email.value;
      }
    }
    var body = fields;
    if (file) {
      body = new FormData();
      Object.keys(fields).forEach(function (k) {
        if (fields[k] !== null && fields[k] !== undefined) { body.append(k, fields[k]); }
      });
      body.append("file", file, file.name);
    }
    setBusy(true);
    var path = starting ? "start" : "messages";
    var r = await request("POST", path, body);
    for (var tries = 0; r.status === 503 && tries < BUSY_TRIES; tries++) {
      showAlert(T.busy_retrying);
      await pause(Math.min(Math.max(r.retryAfter, 1), 10) * 1000);
      r = await request("POST", path, body);
    }
    if (r.status !== 503) { showAlert(""); }
    setBusy(false);
    // no answer or a server error: it may have been stored, so a resend keeps the id
    if (r.status !== 0 && r.status < 500) { state.pending = null; }
    if (r.status === 201) {
      els.text.value = "";
      clearFile();
      if (starting) {
        state.token = r.body.token;
        state.socketRefused = false;
        storage.set(STORE_TOKEN, state.token);
        applyConversation(r.body);
      } else {
        addMessage(r.body.message);
      }
      els.text.focus();
      return;
    }
    // Refused: what was typed (and the file) stays where it is.
    if (r.status === 409) {
      await refreshDepartments();
      state.ticketOpen = false;
      setMode("start", true);
    } else if (r.status === 401) {
      forgetToken();
      setMode("start");
    }
    showAlert(r.body.error || T.generic);
  }

  els.form.addEventListener("submit", submit);
  els.text.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  els.file.addEventListener("change", function () {
    var file = chosenFile();
    if (!file) { clearFile(); return; }
    if (file.size > data.max_bytes) { showAlert(T.too_big); clearFile(); return; }
    showAlert("");
    els.fileName.textContent = file.name;
    els.chip.hidden = false;
  });
  els.fileRemove.addEventListener("click", clearFile);

  // --- the host page ---------------------------------------------------------------------------

  els.close.hidden = !embedded;
  els.close.addEventListener("click", function () {
    state.open = false;
    postParent({ atende: "close" });
  });
  window.addEventListener("message", function (ev) {
    if (!embedded || ev.source !== window.parent) { return; }
    var msg = ev.data;
    if (!msg || typeof msg !== "object") { return; }
    if (msg.atende === "open") {
      state.open = true;
      pinDown();
      syncAcks();
      els.text.focus();
    } else if (msg.atende === "closed") {
      state.open = false;
    }
  });
  document.addEventListener("visibilitychange", syncAcks);
  window.addEventListener("focus", syncAcks);

  // --- go -----------------------------------------------------------------------------------

  document.documentElement.style.setProperty("--wc-color", data.color);
  fillDepartments(state.departments);
  if (state.token) {
    setMode("chat");      // until the conversation says otherwise (no flash of the form)
    loadConversation();
  } else {
    setMode("start");
  }
  postParent({ atende: "ready", color: data.color, title: data.title });
})();
