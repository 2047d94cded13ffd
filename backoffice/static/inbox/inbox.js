/* Atende — the agents' inbox page (FLT-1, BLK-1, TKT-3, MSG-1..MSG-5, RTM-1; CHN-1 channel
 * badges, CHN-4 / TPL-3 the 24-hour window and its templates).
 *
 * No framework and no build step. Every piece of customer or agent text reaches the DOM
 * through textContent / createTextNode (MSG-5): this file never assigns innerHTML.
 */
(function () {
  "use strict";

  var T = JSON.parse(document.getElementById("inbox-strings").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var OPEN_STATUSES = ["waiting", "open", "pending"];
  // queued/sending show Font Awesome's clock (bundled with Flask-Admin); the rest is text
  var STATUS_ICONS = {queued: "", sending: "", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!"};
  var CHANNEL_KINDS = ["whatsapp", "instagram", "messenger", "telegram", "webchat", "http_api"];
  var MAP_PREFIX = "https://www.openstreetmap.org/?";
  var STATUS_BADGES = {waiting: "badge-warning", open: "badge-success", pending: "badge-info",
                       closed: "badge-secondary"};

  var S = {
    meta: null,
    myTagIds: {},
    filters: {view: "all", order: "newest", status: "open", connection: "", tag: "",
              department: "", classification: "", favourite: false, q: "", text: ""},
    rows: [],          // ticket summaries in display order
    byId: {},          // id -> summary
    nodes: {},         // id -> row element
    cursor: null,
    listLoading: false,
    listSeq: 0,
    currentId: null,
    detail: null,      // the open conversation (GET /api/tickets/<id>)
    detailSeq: 0,
    messages: [],      // message dicts, oldest first
    msgById: {},
    earlyStatus: {},
    hasMore: false,
    selection: false,
    selected: {},
    socket: null,
    wasDisconnected: false,
    resyncTimer: null, // the fetch planned after the server said "resync" (pushes missed)
    pendingFile: null,
    pendingTemplate: null,
    providerTemplates: null,   // the approved WhatsApp templates of the open ticket (CHN-4)
    windowTimer: null,
    quick: {items: [], index: 0, seq: 0},
    bulkAction: null,
    refreshTimer: null,
    readTimer: null
  };

  // --- small helpers ---------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function fmt(text, vars) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) {
      return vars && vars[k] !== undefined ? String(vars[k]) : m;
    });
  }

  /* el("div", {className, text, title, attrs: {...}, on: {click: fn}}, [children]) —
   * text goes through textContent, never HTML. */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    if (props.className) { node.className = props.className; }
    if (props.text !== undefined && props.text !== null) { node.textContent = String(props.text); }
    if (props.title) { node.title = String(props.title); }
    if (props.attrs) {
      Object.keys(props.attrs).forEach(function (k) {
        var v = props.attrs[k];
        if (v !== undefined && v !== null && v !== false) { node.setAttribute(k, v === true ? "" : String(v)); }
      });
    }
    if (props.on) {
      Object.keys(props.on).forEach(function (k) { node.addEventListener(k, props.on[k]); });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) { return; }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function icon(name) {
    return el("i", {className: "fa " + name, attrs: {"aria-hidden": "true"}});
  }

  /* UX-5: a user's avatar ({url, initials, color} from the server): the uploaded picture,
   * else the initials on their colour. Decoration beside a written name: aria-hidden. */
  function avatar(av, size) {
    var node;
    if (av && /^\/media\/avatar\/[0-9a-f]{32}$/.test(av.url || "")) {
      node = el("img", {className: "inbox-avatar", attrs: {src: av.url, alt: "", "aria-hidden": "true"}});
    } else {
      node = el("span", {className: "inbox-avatar inbox-avatar-initials",
                         text: (av && av.initials) || "?", attrs: {"aria-hidden": "true"}});
      node.style.background = /^#[0-9a-f]{6}$/i.test((av && av.color) || "") ? av.color : "#374151";
      node.style.fontSize = Math.round(size * 0.42) + "px";
    }
    node.style.width = node.style.height = size + "px";
    return node;
  }

  /* The agent's current avatar: meta.agents has every agent's, the row its own copy. */
  function agentAvatar(agent, size) {
    var known = ((S.meta && S.meta.agents) || []).filter(function (a) { return a.id === agent.id; })[0];
    return avatar((known && known.avatar) || agent.avatar, size);
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function show(node, visible) { node.classList.toggle("d-none", !visible); }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  function option(value, label, selected) {
    var o = el("option", {text: label, attrs: {value: value}});
    if (selected) { o.selected = true; }
    return o;
  }

  var dateFormat = null, timeFormat = null;
  function makeFormats(tz) {
    function build(opts) {
      try { return new Intl.DateTimeFormat(T.locale, Object.assign({timeZone: tz}, opts)); }
      catch (e) { return new Intl.DateTimeFormat(T.locale, opts); }
    }
    dateFormat = build({day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit"});
    timeFormat = build({hour: "2-digit", minute: "2-digit"});
    var dayOnly = build({day: "2-digit", month: "2-digit", year: "numeric"});
    makeFormats.day = function (d) { return dayOnly.format(d); };
  }

  function fmtDateTime(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    return isNaN(d) ? "" : dateFormat.format(d);
  }

  function fmtShort(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    if (isNaN(d)) { return ""; }
    return makeFormats.day(d) === makeFormats.day(new Date()) ? timeFormat.format(d) : makeFormats.day(d);
  }

  function humanSize(n) {
    if (!n && n !== 0) { return ""; }
    if (n >= 1048576) { return (n / 1048576).toFixed(1).replace(".", ",") + " MB"; }
    return Math.max(1, Math.round(n / 1024)) + " KB";
  }

  // --- alerts ------------------------------------------------------------------------------

  var alertTimer = null;
  function showAlert(message, kind) {
    var box = $("inbox-alert");
    clear(box);
    var alert = el("div", {className: "alert alert-" + (kind || "danger") + " alert-dismissible mb-0",
                           attrs: {role: "alert"}}, [
      el("span", {className: "inbox-alert-text", text: message}),
      el("button", {className: "close", text: "×", attrs: {type: "button", "aria-label": T.cancel},
                    on: {click: function () { clear(box); }}})
    ]);
    box.appendChild(alert);
    clearTimeout(alertTimer);
    alertTimer = setTimeout(function () { clear(box); }, kind === "success" ? 4000 : 12000);
  }

  function fail(err) {
    showAlert((err && err.message) || T.generic_error, "danger");
    throw err;
  }

  // --- the API -----------------------------------------------------------------------------

  function api(method, url, body, asked) {
    var headers = {"Accept": "application/json", "X-CSRFToken": CSRF};
    var init = {method: method, headers: headers, credentials: "same-origin"};
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    asked = asked || 0;
    return fetch(url, init).then(function (response) {
      // A GET the server could not serve now (503 + Retry-After: busy, or its database
      // restarting) is asked again by itself, three times, waiting longer each time, before
      // anyone is told: a GET changes nothing (SEC-8), so asking again is safe.
      if (response.status === 503 && method === "GET" && asked < 3) {
        var wait = (Number(response.headers.get("Retry-After")) || 1) * 1000 * (asked + 1);
        return new Promise(function (resolve) { window.setTimeout(resolve, wait); })
          .then(function () { return api(method, url, body, asked + 1); });
      }
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = null; }
        if (response.status === 401) {
          window.location.href = "/login?next=" + encodeURIComponent("/inbox/");
        }
        if (!response.ok) {
          var err = new Error((data && data.error) || T.generic_error);
          err.status = response.status;
          err.data = data;
          throw err;
        }
        return data || {};
      });
    }, function () {
      throw new Error(T.network_error);
    });
  }

  // --- meta and filters --------------------------------------------------------------------

  function loadMeta() {
    return api("GET", "/inbox/api/meta").then(function (meta) {
      S.meta = meta;
      S.myTagIds = {};
      meta.tags.forEach(function (t) { S.myTagIds[t.id] = true; });
      makeFormats(meta.timezone);
      fillSelect($("filter-connection"), meta.connections, function (c) { return c.name + " (" + c.kind_label + ")"; });
      fillSelect($("filter-tag"), meta.tags, function (t) { return t.name; });
      fillSelect($("filter-department"), meta.departments, function (d) { return d.name; });
      fillSelect($("filter-classification"), meta.classifications || [], function (c) { return c.name; });
    });
  }

  function fillSelect(select, items, label) {
    var keep = select.value;
    while (select.options.length > 1) { select.remove(1); }
    items.forEach(function (item) { select.appendChild(option(String(item.id), label(item), String(item.id) === keep)); });
  }

  function visibleTags(tags) {
    return (tags || []).filter(function (t) { return !t.personal || S.myTagIds[t.id]; });
  }

  function listUrl(cursor) {
    var f = S.filters, params = new URLSearchParams();
    params.set("view", f.view);
    params.set("order", f.order);
    params.set("status", f.status);
    if (f.connection) { params.set("connection", f.connection); }
    if (f.tag) { params.set("tag", f.tag); }
    if (f.department) { params.set("department", f.department); }
    if (f.classification) { params.set("classification", f.classification); }
    if (f.favourite) { params.set("favourite", "1"); }
    if (f.q) { params.set("q", f.q); }
    if (f.text) { params.set("text", f.text); }
    if (cursor) { params.set("cursor", cursor); }
    return "/inbox/api/tickets?" + params.toString();
  }

  function loadList(reset) {
    if (!reset && (S.listLoading || !S.cursor)) { return Promise.resolve(); }
    var seq = ++S.listSeq;
    S.listLoading = true;
    renderListFooter();
    return api("GET", listUrl(reset ? null : S.cursor)).then(function (data) {
      if (seq !== S.listSeq) { return; }
      if (reset) { S.rows = []; S.byId = {}; S.nodes = {}; clear($("ticket-list")); }
      data.tickets.forEach(function (t) {
        if (!S.byId[t.id]) { S.rows.push(t); }
        S.byId[t.id] = t;
      });
      S.cursor = data.next_cursor;
      window.dispatchEvent(new CustomEvent("atende:tickets", {detail: data.tickets}));  // alerts.js
      S.listLoading = false;
      renderList();
      // a short first page on a tall screen: keep filling until it scrolls
      var list = $("ticket-list");
      if (S.cursor && list.scrollHeight <= list.clientHeight + 40) { loadList(false); }
    }).catch(function (err) {
      if (seq === S.listSeq) { S.listLoading = false; renderListFooter(); }
      showAlert(err.message);
    });
  }

  function matches(t) {
    var f = S.filters, me = S.meta.user.id;
    if (f.view === "mine" && !(t.agent && t.agent.id === me)) { return false; }
    if (f.view === "unassigned" && t.agent) { return false; }
    if (f.status === "open" && OPEN_STATUSES.indexOf(t.status) < 0) { return false; }
    if (f.status === "pending" && t.status !== "pending") { return false; }
    if (f.status === "failed" && !t.has_failed) { return false; }
    if (f.status === "closed" && t.status !== "closed") { return false; }
    if (f.status === "automation" && !t.automated) { return false; }
    if (f.connection && !(t.connection && String(t.connection.id) === f.connection)) { return false; }
    if (f.department && !(t.department && String(t.department.id) === f.department)) { return false; }
    if (f.tag && !(t.tags || []).some(function (x) { return String(x.id) === f.tag; })) { return false; }
    if (f.classification && String(t.classification_id) !== f.classification) { return false; }
    if (f.favourite && !t.favourite) { return false; }
    if (f.q) {
      var name = (t.contact && t.contact.name || "").toLowerCase();
      if (t.protocol !== f.q && name.indexOf(f.q.toLowerCase()) < 0) { return false; }
    }
    // words inside the conversations cannot be checked here: keep only rows already listed
    if (f.text && !S.byId[t.id]) { return false; }
    return true;
  }

  function compare(a, b) {
    var d = a.last_activity_at < b.last_activity_at ? -1 : (a.last_activity_at > b.last_activity_at ? 1 : a.id - b.id);
    return S.filters.order === "newest" ? -d : d;
  }

  /* ticket.updated: insert, update, move or drop the row (RTM-1). */
  function upsertTicket(t) {
    var known = !!S.byId[t.id];
    var keep = matches(t);
    S.rows = S.rows.filter(function (r) { return r.id !== t.id; });
    delete S.byId[t.id];
    if (keep) {
      var index = -1;
      for (var i = 0; i < S.rows.length; i++) {
        if (compare(t, S.rows[i]) < 0) { index = i; break; }
      }
      if (index === -1 && S.cursor) {
        keep = false;  // beyond the loaded pages: it comes with the next one
      } else if (index === -1) {
        S.rows.push(t);
      } else {
        S.rows.splice(index, 0, t);
      }
      if (keep) { S.byId[t.id] = t; }
    }
    if (!keep && S.nodes[t.id]) {
      S.nodes[t.id].remove();
      delete S.nodes[t.id];
      delete S.selected[t.id];
    }
    if (keep || known) { renderList(); }
  }

  function removeTicket(id) {
    S.rows = S.rows.filter(function (r) { return r.id !== id; });
    delete S.byId[id];
    delete S.selected[id];
    if (S.nodes[id]) { S.nodes[id].remove(); delete S.nodes[id]; }
    renderList();
  }

  // --- list rendering ------------------------------------------------------------------------

  function tagBadge(t) {
    var b = el("span", {className: "tag-badge", text: t.name, title: t.name});
    var color = /^#[0-9a-fA-F]{6}$/.test(t.color) ? t.color : "#2e6f99";
    b.style.backgroundColor = color;
    b.style.color = readableOn(color);
    return b;
  }

  /* Black or white text, whichever contrasts more with a tag's colour (WCAG luminance:
     black wins above 0.179); white on a light green was unreadable. */
  function readableOn(hex) {
    var lum = 0;
    [[1, 0.2126], [3, 0.7152], [5, 0.0722]].forEach(function (p) {
      var c = parseInt(hex.substr(p[0], 2), 16) / 255;
      lum += p[1] * (c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
    });
    return lum > 0.179 ? "#000" : "#fff";
  }

  /* CHN-1: the channel kind (WhatsApp, Instagram...) and the connection's name. */
  function channelBadge(connection, extraClass) {
    var kind = CHANNEL_KINDS.indexOf(connection.kind) >= 0 ? connection.kind : "other";
    return el("span", {
      className: "badge channel-badge channel-" + kind + (extraClass ? " " + extraClass : ""),
      title: connection.kind_label + " · " + connection.name,
      attrs: {"data-channel": kind}
    }, [el("span", {className: "channel-kind", text: connection.kind_short || connection.kind_label}),
        " · ",
        el("span", {className: "channel-name", text: connection.name})]);
  }

  function renderRow(t) {
    var row = el("div", {
      className: "ticket-row" + (t.id === S.currentId ? " active" : ""),
      attrs: {role: "listitem", tabindex: "0", "data-ticket-id": t.id, "data-status": t.status}
    });
    if (S.selection) {
      var box = el("input", {className: "ticket-check", attrs: {type: "checkbox", "aria-label": t.protocol}});
      box.checked = !!S.selected[t.id];
      box.addEventListener("click", function (ev) { ev.stopPropagation(); });
      box.addEventListener("change", function () {
        if (box.checked) { S.selected[t.id] = true; } else { delete S.selected[t.id]; }
        renderBulkBar();
      });
      row.appendChild(box);
    }
    var meta = el("div", {className: "ticket-meta"});
    if (t.connection) {
      meta.appendChild(channelBadge(t.connection, "ticket-channel"));
    }
    meta.appendChild(el("span", {className: "ticket-department",
                                 text: t.department ? t.department.name : T.no_department}));
    meta.appendChild(el("span", {text: "·"}));
    if (t.agent) { meta.appendChild(agentAvatar(t.agent, 16)); }
    meta.appendChild(el("span", {className: "ticket-agent", text: t.agent ? t.agent.name : T.unassigned}));
    if (t.has_failed) { meta.appendChild(el("span", {className: "ticket-failed", text: "⚠", title: T.you_have_failed})); }
    visibleTags(t.tags).forEach(function (tag) { meta.appendChild(tagBadge(tag)); });

    var top = el("div", {className: "ticket-top"}, [
      el("span", {className: "ticket-contact", text: t.contact ? t.contact.name : ""}),
      el("span", {className: "d-flex align-items-center"}, [
        t.favourite ? el("span", {className: "ticket-star mr-1", text: "★", title: T.favourite_off}) : null,
        t.unread ? el("span", {className: "ticket-unread mr-1", text: t.unread > 99 ? "99+" : t.unread,
                               title: T.new_message}) : null,
        el("span", {className: "ticket-time", text: fmtShort(t.last_activity_at),
                    title: fmtDateTime(t.last_activity_at)})
      ])
    ]);
    row.appendChild(el("div", {className: "ticket-body"}, [
      top,
      el("div", {className: "ticket-preview", text: t.preview || "\u00a0"}),
      meta
    ]));
    row.addEventListener("click", function () { chooseTicket(t.id); });
    row.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { chooseTicket(t.id); }
    });
    return row;
  }

  function renderList() {
    var list = $("ticket-list");
    var top = list.scrollTop;
    var seen = {};
    S.rows.forEach(function (t) {
      var node = renderRow(t);
      if (S.nodes[t.id]) { S.nodes[t.id].replaceWith(node); }
      S.nodes[t.id] = node;
      seen[t.id] = true;
    });
    Object.keys(S.nodes).forEach(function (id) {
      if (!seen[id]) { S.nodes[id].remove(); delete S.nodes[id]; }
    });
    // put the rows in order (appendChild moves an existing node)
    S.rows.forEach(function (t) { list.appendChild(S.nodes[t.id]); });
    renderListFooter();
    list.scrollTop = top;
    renderBulkBar();
  }

  function renderListFooter() {
    var list = $("ticket-list");
    var footer = $("ticket-list-footer");
    if (!footer) {
      footer = el("div", {className: "ticket-list-footer", attrs: {id: "ticket-list-footer"}});
    }
    list.appendChild(footer);
    footer.textContent = S.listLoading ? T.loading : (S.rows.length ? (S.cursor ? "…" : "") : T.empty_list);
  }

  // --- selection mode (BLK-1) ----------------------------------------------------------------

  function selectedIds() {
    return Object.keys(S.selected).map(Number).filter(function (id) { return S.byId[id]; });
  }

  function renderBulkBar() {
    show($("bulk-bar"), S.selection);
    $("btn-selection").classList.toggle("active", S.selection);
    $("btn-selection").setAttribute("aria-pressed", S.selection ? "true" : "false");
    var n = selectedIds().length;
    $("bulk-count").textContent = fmt(T.selected, {n: n});
    $("bulk-all").checked = n > 0 && n === S.rows.length;
  }

  function toggleSelection() {
    S.selection = !S.selection;
    S.selected = {};
    renderList();
  }

  // --- the conversation ----------------------------------------------------------------------

  function openTicket(id, quiet) {
    var previous = S.currentId;
    if (previous && previous !== id && S.socket) { S.socket.emit("ticket.leave", {id: previous}); }
    if (previous !== id) {
      S.currentId = id;
      S.pendingFile = null;
      S.pendingTemplate = null;
      S.providerTemplates = null;
      $("composer-text").value = "";
      renderAttachmentChip();
      hideQuickReplies();
      show($("conv-search-results"), false);
      $("conv-search").value = "";
      toggleConvSearch(false);
    }
    Object.keys(S.nodes).forEach(function (k) { S.nodes[k].classList.toggle("active", Number(k) === id); });
    var seq = ++S.detailSeq;
    return api("GET", "/inbox/api/tickets/" + id).then(function (data) {
      if (seq !== S.detailSeq || S.currentId !== id) { return; }
      var keepScroll = previous === id;
      S.detail = data;
      S.messages = data.messages.slice();
      S.msgById = {};
      S.earlyStatus = {};
      S.messages.forEach(function (m) { S.msgById[m.id] = m; });
      S.hasMore = data.has_more;
      renderConversation(keepScroll);
      if (S.byId[id]) { upsertTicket(Object.assign({}, S.byId[id], withoutDetail(data.ticket))); }
      if (S.socket && S.socket.connected && previous !== id) { joinRoom(id); }
      // opening reads it (a GET never does: SEC-8); a supervisor leaves the agent's badge
      if (data.ticket.unread && (!data.ticket.agent || data.ticket.agent.id === S.meta.user.id)) {
        markRead(id);
      }
    }).catch(function (err) {
      if (seq !== S.detailSeq) { return; }
      if (err.status === 404) { closeConversation(); removeTicket(id); }
      if (!quiet) { showAlert(err.message); }
    });
  }

  function withoutDetail(ticket) {
    var copy = Object.assign({}, ticket);
    copy.contact = {id: ticket.contact.id, name: ticket.contact.name};
    delete copy.queued_at; delete copy.accepted_at; delete copy.reason; delete copy.close_note;
    delete copy.classification;
    return copy;
  }

  function joinRoom(id, tries) {
    tries = tries || 0;
    S.socket.emit("ticket.join", {id: id}, function (ack) {
      if (S.currentId !== id) { return; }
      if (ack && ack.retry) {
        // the server's database was away for a moment (a restart): ask again shortly,
        // twice as long after each refusal (up to 30 s) while it stays away
        window.setTimeout(function () {
          if (S.currentId === id && S.socket.connected) { joinRoom(id, tries + 1); }
        }, Math.min(30000, 1000 * Math.pow(2, tries)));
        return;
      }
      if (ack && ack.ok === false) { showAlert(T.ticket_gone, "warning"); return; }
      if (tries) { refreshDetailSoon(); }  // what came while the room was not joined
    });
  }

  function closeConversation() {
    if (S.currentId && S.socket) { S.socket.emit("ticket.leave", {id: S.currentId}); }
    S.currentId = null;
    S.detail = null;
    S.messages = [];
    S.msgById = {};
    S.earlyStatus = {};
    show($("conversation"), false);
    show($("conversation-empty"), true);
    show($("contact-panel"), false);
    Object.keys(S.nodes).forEach(function (k) { S.nodes[k].classList.remove("active"); });
    document.body.classList.remove("inbox-conversation-open");
    toggleInfo(false);
    // the ticket went away under a phone's conversation screen: drop its history entry
    var state = window.history.state;
    if (state && state.inboxTicket) { window.history.back(); }
  }

  function refreshDetailSoon() {
    clearTimeout(S.refreshTimer);
    var id = S.currentId;
    S.refreshTimer = setTimeout(function () { if (S.currentId === id) { openTicket(id, true); } }, 250);
  }

  function renderConversation(keepScroll) {
    var d = S.detail, t = d.ticket, me = S.meta.user.id;
    show($("conversation-empty"), false);
    show($("conversation"), true);
    $("conv-contact").textContent = t.contact.name;
    $("conv-protocol").textContent = t.protocol;
    var status = $("conv-status");
    status.textContent = t.status_label;
    status.className = "badge " + (STATUS_BADGES[t.status] || "badge-light");
    var channel = $("conv-channel");
    clear(channel);
    if (t.connection) { channel.appendChild(channelBadge(t.connection)); }
    $("conv-assignment").textContent = (t.department ? t.department.name : T.no_department) + " · " +
      (t.agent ? t.agent.name : T.unassigned);
    var fav = $("btn-favourite");
    fav.textContent = t.favourite ? "★" : "☆";
    fav.title = t.favourite ? T.favourite_off : T.favourite_on;
    fav.setAttribute("aria-pressed", t.favourite ? "true" : "false");
    fav.setAttribute("aria-label", fav.title);
    fav.disabled = !d.can_act;  // SEC-8: only the agent or a supervisor stars it

    var open = OPEN_STATUSES.indexOf(t.status) >= 0;
    $("btn-accept").hidden = !(open && (!t.agent || (t.agent.id === me && t.status === "waiting")));
    $("btn-transfer").hidden = !(open && d.can_act);
    $("btn-close").hidden = !(open && d.can_act);
    $("btn-reopen").hidden = open || !d.can_act;  // SEC-8

    renderMessages(keepScroll);
    renderComposer();
    renderInfo();
  }

  function windowClosed() {
    var w = S.detail && S.detail.window;
    return !!(w && w.applies && !w.open);
  }

  function renderComposer() {
    var block = S.detail ? S.detail.reply_block : null;
    var closed = windowClosed();
    var text = $("composer-text");
    // CHN-4: outside the window no free text and no file; the templates below stay
    text.disabled = !!block || closed;
    $("btn-send").disabled = !!block || closed;
    $("btn-attach").disabled = !!block || closed;
    $("composer-file").disabled = !!block || closed;
    $("composer-block").textContent = block || "";
    show($("composer-block"), !!block);
    if (closed) { S.pendingFile = null; renderAttachmentChip(); }
    renderWindow();
  }

  // --- the 24-hour window (CHN-4, TPL-3) ------------------------------------------------------

  function ago(iso) {
    var minutes = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 60000));
    if (minutes < 60) { return fmt(T.ago_minutes, {n: minutes}); }
    if (minutes < 48 * 60) { return fmt(T.ago_hours, {n: Math.floor(minutes / 60)}); }
    return fmt(T.ago_days, {n: Math.floor(minutes / 1440)});
  }

  function renderWindow() {
    var w = S.detail ? S.detail.window : null;
    var closed = windowClosed();
    var banner = $("window-banner");
    clear(banner);
    if (closed) {
      banner.appendChild(el("div", {className: "window-reason font-weight-bold", text: w.reason}));
      banner.appendChild(el("div", {className: "window-since",
        text: w.last_inbound_at ? fmt(T.window_since, {ago: ago(w.last_inbound_at)}) : T.window_never}));
    }
    show(banner, closed);
    var note = $("window-note");
    note.textContent = w && w.applies && w.mode === "human_agent" && w.closes_at ?
      fmt(T.human_agent_note, {when: fmtDateTime(w.closes_at)}) : "";
    show(note, !!note.textContent);
    show($("provider-templates"), closed && w.provider_templates);
    show($("channel-templates"), closed && !!w.template_kind);
    if (closed && w.provider_templates) { loadProviderTemplates(); }
    if (closed && w.template_kind) { loadChannelTemplates(); }
    // the window closes while the page is open: ask the server again then
    clearTimeout(S.windowTimer);
    if (w && w.applies && w.closes_at) {
      var wait = new Date(w.closes_at).getTime() - Date.now();
      if (wait > 0 && wait < 2147483647) { S.windowTimer = setTimeout(refreshDetailSoon, wait + 1000); }
    }
  }

  function templateDisabled() { return !!(S.detail && S.detail.reply_block); }

  function loadProviderTemplates() {
    var id = S.currentId;
    if (S.providerTemplates && S.providerTemplates.ticketId === id) { renderProviderTemplates(); return; }
    api("GET", "/inbox/api/tickets/" + id + "/provider-templates").then(function (data) {
      if (S.currentId !== id) { return; }
      S.providerTemplates = {ticketId: id, items: data.templates, chosen: null, values: []};
      renderProviderTemplates();
    }).catch(function (err) { showAlert(err.message); });
  }

  function chosenProviderTemplate() {
    var p = S.providerTemplates;
    if (!p) { return null; }
    return p.items.filter(function (t) { return t.id === p.chosen; })[0] || null;
  }

  /* The body with each {{n}} replaced by what the agent typed (text only). */
  function templatePreview(t, values) {
    return String(t.body || "").replace(/\{\{\s*(\d+)\s*\}\}/g, function (m, n) {
      var v = values[Number(n) - 1];
      return v ? v : m;
    });
  }

  function renderProviderTemplates() {
    var p = S.providerTemplates, select = $("pt-select");
    clear(select);
    select.appendChild(option("", p.items.length ? T.choose : T.pt_none));
    p.items.forEach(function (t) {
      select.appendChild(option(String(t.id), t.name + " (" + t.language + ")" +
                                (t.category ? " · " + t.category : ""), t.id === p.chosen));
    });
    select.disabled = !p.items.length || templateDisabled();
    var t = chosenProviderTemplate();
    var box = $("pt-variables");
    clear(box);
    if (t) {
      for (var i = 0; i < t.variables; i++) {
        (function (index) {
          var inputId = "pt-var-" + (index + 1);
          var input = el("input", {className: "form-control form-control-sm pt-variable",
            attrs: {id: inputId, type: "text", maxlength: "1024", "data-variable": index + 1}});
          input.value = p.values[index] || "";
          input.disabled = templateDisabled();
          input.addEventListener("input", function () {
            p.values[index] = input.value;
            renderProviderPreview();
          });
          box.appendChild(el("div", {className: "form-group mb-1"}, [
            el("label", {className: "small mb-0", text: fmt(T.pt_variable, {n: index + 1}), attrs: {for: inputId}}),
            input
          ]));
        })(i);
      }
    }
    renderProviderPreview();
  }

  function renderProviderPreview() {
    var t = chosenProviderTemplate(), preview = $("pt-preview");
    preview.textContent = t ? templatePreview(t, S.providerTemplates.values) : "";
    show(preview, !!t);
    var missing = !t || S.providerTemplates.values.slice(0, t.variables).length < t.variables ||
      S.providerTemplates.values.slice(0, t.variables).some(function (v) { return !v || !v.trim(); });
    $("pt-send").disabled = missing || templateDisabled();
  }

  function chooseProviderTemplate() {
    var p = S.providerTemplates;
    if (!p) { return; }
    p.chosen = Number($("pt-select").value) || null;
    var t = chosenProviderTemplate();
    p.values = t ? (t.prefill || []).slice() : [];
    renderProviderTemplates();
  }

  function postReply(id, body, button) {
    button.disabled = true;
    return api("POST", "/inbox/api/tickets/" + id + "/messages", body).then(function (data) {
      if (S.currentId === id) {
        addMessage(data.message);
        if (S.detail.ticket.status !== "pending") { refreshDetailSoon(); }
      }
      return data;
    }).catch(function (err) { showAlert(err.message); throw err; })
      .then(function (data) { button.disabled = false; return data; },
            function () { button.disabled = false; });
  }

  function sendProviderTemplate() {
    var t = chosenProviderTemplate(), id = S.currentId;
    if (!t || !id) { return; }
    postReply(id, {provider_template_id: t.id,
                   variables: S.providerTemplates.values.slice(0, t.variables)}, $("pt-send"))
      .then(function (data) {
        if (data && S.providerTemplates && S.currentId === id) {
          S.providerTemplates.chosen = null;
          S.providerTemplates.values = [];
          renderProviderTemplates();
        }
      });
  }

  function loadChannelTemplates() {
    var id = S.currentId;
    api("GET", "/inbox/api/quick-replies?channel=1&q=&ticket=" + id).then(function (data) {
      if (S.currentId !== id) { return; }
      var box = $("channel-templates-list");
      clear(box);
      if (!data.replies.length) {
        box.appendChild(el("div", {className: "text-muted", text: T.channel_templates_none}));
      }
      data.replies.forEach(function (r) {
        var button = el("button", {className: "btn btn-sm btn-outline-primary channel-template-send",
                                   text: T.send_template, attrs: {type: "button", "data-template-id": r.id}});
        button.disabled = templateDisabled();
        button.addEventListener("click", function () {
          postReply(id, {template_id: r.id, text: ""}, button);
        });
        box.appendChild(el("div", {className: "channel-template d-flex align-items-start mb-1"}, [
          el("div", {className: "flex-grow-1 mr-2"}, [
            el("div", {}, [el("span", {className: "qr-shortcut", text: r.shortcut}),
                           el("span", {className: "qr-title", text: r.title})]),
            el("div", {className: "qr-body", text: r.body})
          ]),
          button
        ]));
      });
    }).catch(function (err) { showAlert(err.message); });
  }

  function authorLabel(m) {
    if (m.author_kind === "contact") { return S.detail ? S.detail.ticket.contact.name : T.customer; }
    if (m.author_kind === "system") { return T.system; }
    if (m.author_kind === "bot") { return m.author || T.bot; }  /* "API: <token>" (API-1) */
    return m.author || T.agent;
  }

  /* What a provider message carries besides its text (serialize.message_extra): each
   * string through textContent; the map link is the server's, built from two numbers. */
  function renderExtraTop(x) {
    if (!x.reply_to) { return null; }
    var q = x.reply_to;
    var who = q.found ? (q.direction === "in" ? T.customer : T.you) : null;
    return el("div", {className: "msg-quote", attrs: {"data-quoted-id": q.id || null}}, [
      el("div", {className: "msg-quote-author", text: who ? fmt(T.quoted, {who: who}) : T.quoted_missing}),
      q.found ? el("div", {className: "msg-quote-text", text: q.text || T.attachment}) : null
    ]);
  }

  function renderExtraBottom(x) {
    var nodes = [];
    if (x.location) {
      var loc = x.location;
      var link = loc.url && loc.url.indexOf(MAP_PREFIX) === 0 ?
        el("a", {className: "msg-location-link", text: T.open_map,
                 attrs: {href: loc.url, target: "_blank", rel: "noopener noreferrer"}}) : null;
      nodes.push(el("div", {className: "msg-location"}, [
        icon("fa-map-marker"), " ",
        el("span", {className: "msg-location-name", text: loc.name || T.location}),
        loc.address ? el("div", {className: "msg-location-address small", text: loc.address}) : null,
        link
      ]));
    }
    (x.contacts || []).forEach(function (c) {
      nodes.push(el("div", {className: "msg-contact-card"}, [
        icon("fa-address-card"), " ",
        el("span", {className: "msg-contact-name", text: c.name || T.contact_card}),
        (c.phones || []).length ? el("div", {className: "msg-contact-phones small", text: c.phones.join(", ")}) : null
      ]));
    });
    if (x.reaction) {
      nodes.push(el("div", {className: "msg-reaction",
        text: x.reaction.removed ? T.reaction_removed : fmt(T.reaction, {emoji: x.reaction.emoji || ""})}));
    }
    var badges = [];
    if (x.template) {
      badges.push(el("span", {className: "badge badge-success msg-template-badge",
        text: fmt(T.template_badge, {name: x.template.name}) + (x.template.language ? " (" + x.template.language + ")" : "")}));
    }
    if (x.tag) {
      badges.push(el("span", {className: "badge badge-info msg-tag-badge", text: x.tag, title: T.human_agent_tag}));
    }
    if (badges.length) { nodes.push(el("div", {className: "msg-badges"}, badges)); }
    return nodes;
  }

  /* UX-6: the channel badge heads a run of messages of the same channel, not every bubble. */
  function channelKey(m) {
    return m && m.channel ? m.channel.kind + "|" + m.channel.name : "";
  }

  function startsChannelRun(index) {
    return index <= 0 || channelKey(S.messages[index - 1]) !== channelKey(S.messages[index]);
  }

  function renderMessage(m, showChannel) {
    var incoming = m.direction === "in";
    var extra = m.extra || {};
    var wrapper = el("div", {
      className: "msg " + (incoming ? "msg-in" : "msg-out") + (m.author_kind === "system" ? " msg-system" : ""),
      attrs: {"data-message-id": m.id, "data-direction": m.direction}
    });
    var bubble = el("div", {className: "msg-bubble"});
    bubble.appendChild(el("div", {className: "msg-author"}, [
      m.author_avatar ? avatar(m.author_avatar, 18) : null, authorLabel(m)]));
    var quote = renderExtraTop(extra);
    if (quote) { bubble.appendChild(quote); }
    if (m.attachment) {
      var url = m.attachment.url || ("/inbox/attachments/" + m.id);
      var box = el("div", {className: "msg-attachment"});
      if (m.attachment.kind === "image") {
        box.appendChild(el("a", {attrs: {href: url, target: "_blank", rel: "noopener"}}, [
          el("img", {attrs: {src: url, alt: m.attachment.name || T.attachment, loading: "lazy"}})
        ]));
      } else if (m.attachment.kind === "audio") {
        box.appendChild(el("audio", {attrs: {src: url, controls: true, preload: "none"}}));
      }
      box.appendChild(el("a", {className: "msg-file", attrs: {href: url, download: m.attachment.name || ""}}, [
        icon("fa-paperclip"), " ",
        (m.attachment.name || T.attachment) + (m.attachment.size ? " (" + humanSize(m.attachment.size) + ")" : "")
      ]));
      bubble.appendChild(box);
    }
    bubble.appendChild(el("div", {className: "msg-text", text: m.text || ""}));
    renderExtraBottom(extra).forEach(function (n) { bubble.appendChild(n); });

    var tags = el("div", {className: "msg-tags"});
    visibleTags(m.tags).forEach(function (t) { tags.appendChild(tagBadge(t)); });
    tags.appendChild(el("button", {
      className: "btn btn-link msg-tag-btn", title: T.tag_message,
      attrs: {type: "button", "aria-label": T.tag_message},
      on: {click: function (ev) { ev.stopPropagation(); openTagMenu(ev.currentTarget, m); }}
    }, [icon("fa-tag")]));
    bubble.appendChild(tags);

    var footer = el("div", {className: "msg-footer"});
    if (showChannel) {
      footer.appendChild(el("span", {className: "msg-channel badge badge-light",
                                     text: m.channel ? m.channel.label : "—",
                                     title: m.channel ? m.channel.name : ""}));
    }
    footer.appendChild(el("time", {className: "msg-time", text: fmtDateTime(m.created_at),
                                   attrs: {datetime: m.created_at || ""}}));
    // MSG-1: clock (queued/sending), ✓ sent, ✓✓ delivered, blue ✓✓ read, ! failed
    var statusTitle = incoming ? "" : (m.status_label + (m.error ? ": " + m.error : ""));
    var waiting = !incoming && (m.status === "queued" || m.status === "sending");
    footer.appendChild(el("span", {className: "msg-status", text: incoming ? "" : (STATUS_ICONS[m.status] || ""),
                                   title: statusTitle,
                                   attrs: {"data-status": incoming ? null : m.status,
                                           "aria-label": statusTitle || null}},
                          [waiting ? icon("fa-clock-o") : null]));
    if (!incoming && m.status === "failed") {
      footer.appendChild(el("button", {
        className: "btn btn-outline-danger btn-sm msg-retry", text: T.retry, attrs: {type: "button"},
        on: {click: function (ev) { retryMessage(m, ev.currentTarget); }}
      }));
    }
    bubble.appendChild(footer);
    if (!incoming && m.status === "failed" && m.error) {
      bubble.appendChild(el("div", {className: "msg-error small", text: m.error, attrs: {role: "alert"}}));
    }
    wrapper.appendChild(bubble);
    return wrapper;
  }

  function renderMessages(keepScroll) {
    var box = $("messages"), list = $("message-list");
    var fromBottom = box.scrollHeight - box.scrollTop;
    clear(list);
    S.messages.forEach(function (m, i) { list.appendChild(renderMessage(m, startsChannelRun(i))); });
    show($("btn-older"), S.hasMore);
    if (keepScroll) {
      box.scrollTop = box.scrollHeight - fromBottom;
    } else {
      box.scrollTop = box.scrollHeight;
    }
  }

  function nearBottom() {
    var box = $("messages");
    return box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  }

  // Socket events and HTTP answers arrive in any order (the "read" receipt of a message
  // can beat the answer of the POST that sent it): a status only moves forward, except
  // a failure and its retry; a status for a message not shown yet waits for it.
  var STATUS_RANK = {queued: 0, sending: 1, sent: 2, delivered: 3, read: 4};
  function statusMoves(from, to) {
    if (!to || from === to) { return false; }
    if (to === "failed") { return from === "queued" || from === "sending"; }
    if (from === "failed") { return to === "queued" || to === "sending"; }
    return (STATUS_RANK[to] || 0) > (STATUS_RANK[from] || 0);
  }

  function addMessage(m) {
    if (S.msgById[m.id]) { updateMessage(m); return; }
    var early = S.earlyStatus[m.id];
    if (early) {
      delete S.earlyStatus[m.id];
      if (statusMoves(m.status, early.status)) { Object.assign(m, early); }
    }
    if (m.direction === "in" && S.detail && S.detail.window && S.detail.window.applies &&
        S.detail.window.mode !== "free") {
      refreshDetailSoon();  // the customer wrote: the window is open again (CHN-4)
    }
    var stick = nearBottom() || m.direction === "out";
    S.messages.push(m);
    S.msgById[m.id] = m;
    $("message-list").appendChild(renderMessage(m, startsChannelRun(S.messages.length - 1)));
    if (stick) { $("messages").scrollTop = $("messages").scrollHeight; }
  }

  function updateMessage(changes) {
    var m = S.msgById[changes.id];
    if (!m) {
      if (changes.status) { S.earlyStatus[changes.id] = changes; }
      return;
    }
    if (changes.status && !statusMoves(m.status, changes.status)) {
      changes = Object.assign({}, changes);
      ["status", "status_label", "error", "sent_at", "delivered_at", "read_at"].forEach(
        function (k) { delete changes[k]; });
    }
    Object.assign(m, changes);
    var node = $("message-list").querySelector('.msg[data-message-id="' + Number(m.id) + '"]');
    if (node) { node.replaceWith(renderMessage(m, startsChannelRun(S.messages.indexOf(m)))); }
  }

  function loadOlder() {
    if (!S.currentId || !S.messages.length) { return; }
    var id = S.currentId;
    api("GET", "/inbox/api/tickets/" + id + "/messages?before=" + S.messages[0].id).then(function (data) {
      if (S.currentId !== id) { return; }
      var fresh = data.messages.filter(function (m) { return !S.msgById[m.id]; });
      fresh.forEach(function (m) { S.msgById[m.id] = m; });
      S.messages = fresh.concat(S.messages);
      S.hasMore = data.has_more;
      renderMessages(true);
    }).catch(function (err) { showAlert(err.message); });
  }

  function retryMessage(m, button) {
    button.disabled = true;
    api("POST", "/inbox/api/messages/" + m.id + "/retry", {}).then(function (data) {
      updateMessage(data.message);
    }).catch(function (err) { button.disabled = false; showAlert(err.message); });
  }

  // --- tags: on a message (MSG-3) and on the ticket -------------------------------------------

  var tagMenu = null;
  function closeTagMenu() { if (tagMenu) { tagMenu.remove(); tagMenu = null; } }

  function tagCheckboxes(selectedIds, onChange, prefix) {
    var frag = [];
    if (!S.meta.tags.length) { frag.push(el("div", {className: "text-muted", text: T.no_tags})); }
    S.meta.tags.forEach(function (t) {
      var id = prefix + t.id;
      var box = el("input", {attrs: {type: "checkbox", id: id, value: t.id}});
      box.checked = selectedIds.indexOf(t.id) >= 0;
      box.addEventListener("change", onChange);
      frag.push(el("label", {attrs: {for: id}}, [box, " ", tagBadge(t)]));
    });
    return frag;
  }

  function checkedIds(container) {
    return Array.prototype.map.call(container.querySelectorAll("input[type=checkbox]:checked"),
                                    function (b) { return Number(b.value); });
  }

  function openTagMenu(anchor, m) {
    closeTagMenu();
    var menu = el("div", {className: "tag-menu", attrs: {role: "dialog", "aria-label": T.tag_message}});
    var current = visibleTags(m.tags).map(function (t) { return t.id; });
    tagCheckboxes(current, function () {
      api("POST", "/inbox/api/messages/" + m.id + "/tags", {tag_ids: checkedIds(menu)}).then(function (data) {
        updateMessage(data.message);
      }).catch(function (err) { showAlert(err.message); });
    }, "msgtag-" + m.id + "-").forEach(function (n) { menu.appendChild(n); });
    menu.addEventListener("click", function (ev) { ev.stopPropagation(); });
    document.body.appendChild(menu);
    var r = anchor.getBoundingClientRect();
    menu.style.left = Math.max(8, Math.min(window.innerWidth - menu.offsetWidth - 8, r.left)) + "px";
    menu.style.top = Math.max(8, r.top - menu.offsetHeight - 4) + "px";
    tagMenu = menu;
  }

  document.addEventListener("click", closeTagMenu);

  function renderInfo() {
    var t = S.detail.ticket, c = t.contact;
    show($("contact-panel"), true);
    $("info-name").textContent = c.name;
    $("info-phone").textContent = c.phone || "—";
    $("info-email").textContent = c.email || "—";
    $("info-others").textContent = String(c.other_tickets || 0);
    $("info-protocol").textContent = t.protocol;
    $("info-created").textContent = fmtDateTime(t.created_at);
    $("info-channel").textContent = t.connection ? t.connection.kind_label + " · " + t.connection.name : "—";
    $("info-department").textContent = t.department ? t.department.name : T.no_department;
    $("info-agent").textContent = t.agent ? t.agent.name : T.unassigned;
    // POR-1: a portal protocol's "classification › sub-classification"
    var cl = t.classification;
    document.querySelectorAll(".classification-info").forEach(function (node) { show(node, !!cl); });
    if (cl) { $("info-classification").textContent = cl.name + (cl.sub ? " › " + cl.sub : ""); }
    // AUT-3, RAT-1: the survey's score ("4/5"), shown once the ticket had a survey
    var sv = t.survey;
    document.querySelectorAll(".survey-info").forEach(function (node) { show(node, !!sv); });
    if (sv) {
      $("info-survey").textContent = sv.score !== null && sv.score !== undefined
        ? sv.score + "/" + sv.max + (sv.comment ? " · " + sv.comment : "")
        : (sv.status === "asked" || sv.status === "comment" ? T.survey_waiting : T.survey_none);
    }
    var tags = $("info-tags");
    clear(tags);
    visibleTags(t.tags).forEach(function (tag) { tags.appendChild(tagBadge(tag)); });
    var editor = $("info-tags-editor");
    clear(editor);
    tagCheckboxes(visibleTags(t.tags).map(function (x) { return x.id; }), function () {
      var id = S.currentId;
      api("POST", "/inbox/api/tickets/" + id + "/tags", {tag_ids: checkedIds(editor)}).then(function (data) {
        if (data.ticket) { afterAction(id, data); }
      }).catch(function (err) { showAlert(err.message); renderInfo(); });
    }, "tickettag-").forEach(function (n) { editor.appendChild(n); });
    var events = $("info-events");
    clear(events);
    S.detail.events.forEach(function (e) {
      var parts = [e.label];
      if (e.from_department || e.to_department) {
        parts.push((e.from_department || "—") + " → " + (e.to_department || "—"));
      }
      if (e.to_agent) { parts.push(e.to_agent); }
      if (e.reason) { parts.push(T.reason + ": " + e.reason); }
      if (e.detail) { parts.push(e.detail); }
      // AUT-8: an automatic line names the automation instead of a user
      var who = e.user || (e.automatic ? (e.source || "") : "");
      events.appendChild(el("li", {className: e.automatic ? "event-automatic" : ""}, [
        el("div", {text: parts.join(" · ")}),
        el("div", {className: "text-muted", text: fmtDateTime(e.created_at) + (who ? " · " + who : "")}),
        e.observation ? el("div", {className: "event-observation", text: T.observation + ": " + e.observation}) : null
      ]));
    });
  }

  // --- ticket actions (TKT-3) -------------------------------------------------------------------

  function afterAction(id, data) {
    if (data.ticket) {
      upsertTicket(data.ticket);
    } else if (data.visible === false) {
      removeTicket(id);
      if (S.currentId === id) { closeConversation(); }
      showAlert(T.transferred, "success");
      return;
    }
    if (S.currentId === id) { openTicket(id, true); }
  }

  function ticketAction(action, body) {
    var id = S.currentId;
    if (!id) { return Promise.reject(new Error(T.no_ticket)); }
    return api("POST", "/inbox/api/tickets/" + id + "/" + action, body || {}).then(function (data) {
      afterAction(id, data);
      return data;
    });
  }

  function act(action, body) {
    return ticketAction(action, body).catch(function (err) { showAlert(err.message); });
  }

  // --- modals ---------------------------------------------------------------------------------

  function openModal(id) {
    var modal = $(id);
    var error = modal.querySelector(".modal-error");
    if (error) {
      error.textContent = "";
      show(error, false);
    }
    closeMenu();
    modal.classList.add("show", "show-modal");
    show($("modal-backdrop"), true);
    var first = modal.querySelector("select, textarea, input") || modal.querySelector(".modal-footer .btn");
    if (first) { first.focus(); }
  }

  function closeModals() {
    document.querySelectorAll(".modal.show-modal").forEach(function (m) { m.classList.remove("show", "show-modal"); });
    show($("modal-backdrop"), false);
    S.bulkAction = null;
  }

  function modalError(id, message) {
    var error = $(id).querySelector(".modal-error");
    error.textContent = message;
    show(error, true);
    showAlert(message);
  }

  function fillAgents() {
    var select = $("transfer-agent");
    var dept = $("transfer-department").value;
    if (!dept && S.bulkAction === null && S.detail && S.detail.ticket.department) {
      dept = String(S.detail.ticket.department.id);
    }
    clear(select);
    select.appendChild(option("", T.any_agent));
    S.meta.agents.forEach(function (a) {
      if (!dept || a.supervises || a.department_ids.map(String).indexOf(dept) >= 0) {
        select.appendChild(option(String(a.id), a.name));
      }
    });
  }

  function openTransfer(bulk) {
    S.bulkAction = bulk ? "transfer" : null;
    var select = $("transfer-department");
    clear(select);
    select.appendChild(option("", T.keep_department));
    S.meta.transfer_departments.forEach(function (d) { select.appendChild(option(String(d.id), d.name)); });
    fillAgents();
    $("transfer-observation").value = "";
    show($("transfer-observation-help"), !bulk && S.detail && S.detail.observation_required);
    openModal("modal-transfer");
    S.bulkAction = bulk ? "transfer" : null;
  }

  function openClose(bulk) {
    var reasons = bulk ? S.meta.reasons : S.detail.reasons;
    var required = !bulk && S.detail.reason_required;
    var select = $("close-reason");
    clear(select);
    select.appendChild(option("", required ? T.choose : T.no_reason));
    reasons.forEach(function (r) { select.appendChild(option(String(r.id), r.name)); });
    show($("close-reason-help"), required);
    var farewell = $("close-farewell");
    clear(farewell);
    farewell.appendChild(option("", T.no_farewell));
    S.meta.farewells.forEach(function (f) { farewell.appendChild(option(String(f.id), f.title)); });
    $("close-note").value = "";
    openModal("modal-close");
    S.bulkAction = bulk ? "close" : null;
  }

  function submitModal(modalId, action, body, button) {
    button.disabled = true;
    var bulk = S.bulkAction;
    var done = bulk ? runBulk(bulk, body) : ticketAction(action, body);
    done.then(function () { closeModals(); }, function (err) { modalError(modalId, err.message); })
      .then(function () { button.disabled = false; });
  }

  function runBulk(action, body) {
    var ids = selectedIds();
    if (!ids.length) { return Promise.reject(new Error(T.select_some)); }
    return api("POST", "/inbox/api/bulk", Object.assign({action: action, ids: ids}, body)).then(function (data) {
      var lines = [fmt(T.bulk_done, {n: data.done.length})];
      if (data.errors.length) {
        lines.push(fmt(T.bulk_errors, {n: data.errors.length}));
        data.errors.forEach(function (e) { lines.push("• " + (e.protocol || "#" + e.id) + ": " + e.error); });
      }
      showAlert(lines.join("\n"), data.errors.length ? "warning" : "success");
      S.selected = {};
      data.errors.forEach(function (e) { if (S.byId[e.id]) { S.selected[e.id] = true; } });
      loadList(true);
      if (S.currentId && data.done.indexOf(S.currentId) >= 0) { openTicket(S.currentId, true); }
      return data;
    });
  }

  // --- manual automations on the selection (AUT-8, BLK-1) -------------------------------------------

  function renderAutomationConfirm() {
    var select = $("automation-rule");
    var chosen = select.options[select.selectedIndex];
    $("automation-confirm").textContent = chosen && chosen.value ?
      fmt(T.automation_confirm, {name: chosen.textContent, n: selectedIds().length}) : "";
  }

  function openAutomation() {
    if (!selectedIds().length) { showAlert(T.select_some, "warning"); return; }
    api("GET", "/inbox/api/automations").then(function (data) {
      if (!data.automations.length) { showAlert(T.no_manual_automations, "warning"); return; }
      var select = $("automation-rule");
      clear(select);
      data.automations.forEach(function (r) { select.appendChild(option(String(r.id), r.name)); });
      renderAutomationConfirm();
      openModal("modal-automation");
    }, function (err) { showAlert(err.message); });
  }

  function runAutomation() {
    var ids = selectedIds();
    var button = $("automation-submit");
    if (!ids.length) { modalError("modal-automation", T.select_some); return; }
    button.disabled = true;
    api("POST", "/inbox/api/tickets/bulk/automation",
        {rule_id: Number($("automation-rule").value), ticket_ids: ids}).then(function (data) {
      var lines = [data.message];
      if (data.errors.length) {
        lines.push(fmt(T.bulk_errors, {n: data.errors.length}));
        data.errors.forEach(function (e) { lines.push("• " + (e.protocol || "#" + e.id) + ": " + e.error); });
      }
      closeModals();
      showAlert(lines.join("\n"), data.errors.length ? "warning" : "success");
      S.selected = {};
      data.errors.forEach(function (e) { if (S.byId[e.id]) { S.selected[e.id] = true; } });
      loadList(true);
      if (S.currentId && ids.indexOf(S.currentId) >= 0) { openTicket(S.currentId, true); }
    }, function (err) { modalError("modal-automation", err.message); })
      .then(function () { button.disabled = false; });
  }

  // --- composer (MSG-1, MSG-2) --------------------------------------------------------------------

  function renderAttachmentChip() {
    var chip = $("composer-attachment");
    clear(chip);
    var name = S.pendingFile ? S.pendingFile.name :
      (S.pendingTemplate && S.pendingTemplate.attachment ? S.pendingTemplate.attachment.name : null);
    if (!name) { show(chip, false); return; }
    chip.appendChild(el("span", {className: "badge badge-secondary", text: fmt(T.file_chosen, {name: name})}));
    chip.appendChild(el("button", {className: "btn btn-link btn-sm", text: T.remove, attrs: {type: "button"},
      on: {click: function () {
        S.pendingFile = null;
        S.pendingTemplate = null;
        $("composer-file").value = "";
        renderAttachmentChip();
      }}}));
    show(chip, true);
  }

  function sendMessage() {
    if (!S.currentId || !S.detail || S.detail.reply_block || windowClosed()) { return; }
    var text = $("composer-text").value;
    if (!text.trim() && !S.pendingFile && !S.pendingTemplate) { return; }
    var form = new FormData();
    form.append("text", text);
    if (S.pendingFile) { form.append("file", S.pendingFile, S.pendingFile.name); }
    if (S.pendingTemplate) { form.append("template_id", String(S.pendingTemplate.id)); }
    var id = S.currentId, button = $("btn-send");
    button.disabled = true;
    api("POST", "/inbox/api/tickets/" + id + "/messages", form).then(function (data) {
      if (S.currentId === id) {
        addMessage(data.message);
        $("composer-text").value = "";
        S.pendingFile = null;
        S.pendingTemplate = null;
        $("composer-file").value = "";
        renderAttachmentChip();
        hideQuickReplies();
        if (S.detail.ticket.status !== "pending") { refreshDetailSoon(); }
      }
    }).catch(function (err) { showAlert(err.message); }).then(function () {
      button.disabled = !!(S.detail && S.detail.reply_block) || windowClosed();
      $("composer-text").focus();
    });
  }

  // --- scheduled messages (AUT-5): the composer's "Agendar" ------------------------------------

  function renderScheduled(items) {
    var list = $("schedule-list"), modal = $("modal-schedule");
    clear(list);
    show($("schedule-empty"), !items.length);
    items.forEach(function (item) {
      var button = el("button", {className: "btn btn-sm btn-link text-danger py-0",
                                 text: modal.getAttribute("data-cancel"), attrs: {type: "button"}});
      button.addEventListener("click", function () { cancelScheduled(item, button); });
      var repeat = item.repeat !== "none" ? " (" + item.repeat_label + ")" : "";
      list.appendChild(el("li", {className: "mb-1"}, [
        el("span", {className: "font-weight-bold", text: item.send_at_local}),
        el("span", {text: " · " + item.summary + repeat}), button]));
    });
  }

  function scheduleNotice(data) {
    $("schedule-notice").textContent = (data && data.message) || "";
    show($("schedule-notice"), !!(data && data.message));
    $("schedule-warning").textContent = (data && data.warning) || "";
    show($("schedule-warning"), !!(data && data.warning));
  }

  function openSchedule() {
    if (!S.currentId || !S.detail) { return; }
    var id = S.currentId;
    $("schedule-text").value = $("composer-text").value;
    $("schedule-repeat").value = "none";
    scheduleNotice(null);
    renderScheduled([]);
    openModal("modal-schedule");
    api("GET", "/inbox/api/tickets/" + id + "/scheduled").then(function (data) {
      if (S.currentId !== id) { return; }
      $("schedule-date").value = data.defaults.date;
      $("schedule-time").value = data.defaults.time;
      renderScheduled(data.scheduled);
    }).catch(function (err) { modalError("modal-schedule", err.message); });
  }

  function submitSchedule(ev) {
    ev.preventDefault();
    var id = S.currentId, button = $("schedule-submit");
    if (!id) { return; }
    button.disabled = true;
    scheduleNotice(null);
    api("POST", "/inbox/api/tickets/" + id + "/schedule", {
      text: $("schedule-text").value, date: $("schedule-date").value,
      time: $("schedule-time").value, repeat: $("schedule-repeat").value
    }).then(function (data) {
      var error = $("modal-schedule").querySelector(".modal-error");
      show(error, false);
      scheduleNotice(data);
      renderScheduled(data.scheduled);
      if (S.currentId === id && $("composer-text").value === $("schedule-text").value) {
        $("composer-text").value = "";
      }
      showAlert(data.message, "success");
    }).catch(function (err) { modalError("modal-schedule", err.message); })
      .then(function () { button.disabled = false; });
  }

  function cancelScheduled(item, button) {
    if (!window.confirm($("modal-schedule").getAttribute("data-cancel-confirm"))) { return; }
    var id = S.currentId;
    button.disabled = true;
    api("POST", "/inbox/api/tickets/" + id + "/scheduled/cancel", {id: item.id}).then(function (data) {
      scheduleNotice(data);
      renderScheduled(data.scheduled);
    }).catch(function (err) { button.disabled = false; modalError("modal-schedule", err.message); });
  }

  function hideQuickReplies() {
    S.quick.items = [];
    show($("quick-replies"), false);
  }

  var fetchQuickReplies = debounce(function (q) {
    var seq = ++S.quick.seq;
    var url = "/inbox/api/quick-replies?q=" + encodeURIComponent(q) + (S.currentId ? "&ticket=" + S.currentId : "");
    api("GET", url).then(function (data) {
      if (seq !== S.quick.seq) { return; }
      S.quick.items = data.replies;
      S.quick.index = 0;
      renderQuickReplies();
    }).catch(function () { hideQuickReplies(); });
  }, 150);

  function renderQuickReplies() {
    var box = $("quick-replies");
    clear(box);
    if (!S.quick.items.length) {
      box.appendChild(el("div", {className: "qr text-muted", text: T.quick_replies_none}));
    }
    S.quick.items.forEach(function (r, i) {
      var row = el("div", {className: "qr" + (i === S.quick.index ? " active" : ""),
                           attrs: {role: "option", "aria-selected": i === S.quick.index ? "true" : "false"}}, [
        el("div", {}, [
          el("span", {className: "qr-shortcut", text: r.shortcut}),
          el("span", {className: "qr-title", text: r.title}),
          r.attachment ? el("span", {className: "badge badge-light ml-1"}, [icon("fa-paperclip"), " " + r.attachment.name]) : null
        ]),
        el("div", {className: "qr-body", text: r.body})
      ]);
      row.addEventListener("mousedown", function (ev) { ev.preventDefault(); chooseQuickReply(r); });
      box.appendChild(row);
    });
    show(box, true);
  }

  function chooseQuickReply(r) {
    var text = $("composer-text");
    text.value = r.body || "";
    if (r.kind === "attachment" && r.attachment) {
      S.pendingTemplate = r;
      S.pendingFile = null;
      $("composer-file").value = "";
    } else {
      S.pendingTemplate = null;
    }
    renderAttachmentChip();
    hideQuickReplies();
    text.focus();
  }

  function onComposerInput() {
    var value = $("composer-text").value;
    if (/^\/\S*$/.test(value)) {
      fetchQuickReplies(value);
    } else {
      S.quick.seq++;
      hideQuickReplies();
    }
  }

  function onComposerKey(ev) {
    var open = !$("quick-replies").classList.contains("d-none") && S.quick.items.length;
    if (open && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) {
      ev.preventDefault();
      var n = S.quick.items.length;
      S.quick.index = (S.quick.index + (ev.key === "ArrowDown" ? 1 : n - 1)) % n;
      renderQuickReplies();
      return;
    }
    if (open && (ev.key === "Enter" || ev.key === "Tab") && !ev.shiftKey) {
      ev.preventDefault();
      chooseQuickReply(S.quick.items[S.quick.index]);
      return;
    }
    if (ev.key === "Escape" && open) { ev.stopPropagation(); hideQuickReplies(); return; }
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      sendMessage();
    }
  }

  function onFileChosen() {
    var file = $("composer-file").files[0];
    if (!file) { return; }
    if (S.meta.max_upload && file.size > S.meta.max_upload) {
      $("composer-file").value = "";
      showAlert(fmt(T.file_chosen, {name: file.name}) + " — " + humanSize(file.size) + " > " + humanSize(S.meta.max_upload));
      return;
    }
    S.pendingFile = file;
    S.pendingTemplate = null;
    renderAttachmentChip();
  }

  // --- search inside the conversation (MSG-3) -------------------------------------------------------

  function searchConversation(ev) {
    ev.preventDefault();
    var q = $("conv-search").value.trim(), box = $("conv-search-results");
    if (!q || !S.currentId) { show(box, false); return; }
    api("GET", "/inbox/api/tickets/" + S.currentId + "/search?q=" + encodeURIComponent(q)).then(function (data) {
      clear(box);
      box.appendChild(el("div", {className: "px-2 py-1 text-muted",
        text: data.messages.length ? fmt(T.search_results, {n: data.messages.length}) : T.search_none}));
      data.messages.forEach(function (m) {
        var row = el("div", {className: "result"}, [
          el("span", {className: "text-muted mr-2", text: fmtDateTime(m.created_at)}),
          el("span", {text: m.text})
        ]);
        row.addEventListener("click", function () { highlight(m.id); });
        box.appendChild(row);
      });
      show(box, true);
    }).catch(function (err) { showAlert(err.message); });
  }

  function highlight(id) {
    var node = $("message-list").querySelector('.msg[data-message-id="' + Number(id) + '"]');
    if (!node) {
      if (S.hasMore) { loadOlder(); }
      return;
    }
    node.scrollIntoView({block: "center"});
    node.classList.add("highlight");
    setTimeout(function () { node.classList.remove("highlight"); }, 2500);
  }

  // --- pauses (PAU-3), from the presence helper's endpoints ------------------------------------------

  function renderPause(data) {
    var control = $("pause-control");
    var status = data.status || {};
    var paused = status.status === "paused";
    var select = $("pause-select");
    clear(select);
    (data.pauses || []).forEach(function (p) { select.appendChild(option(String(p.id), p.name)); });
    $("pause-state").textContent = paused ? fmt(T.on_pause, {name: status.pause || ""}) : "";
    show(select, !paused && (data.pauses || []).length > 0);
    show($("btn-pause-start"), !paused && (data.pauses || []).length > 0);
    show($("btn-pause-end"), paused);
    show(control, paused || (data.pauses || []).length > 0);
    if (typeof data.available === "boolean") { $("availability-switch").checked = data.available; }
  }

  function loadPauses() {
    return api("GET", "/presence/pauses").then(renderPause).catch(function () {
      show($("pause-control"), false);  // not available (yet): no control
    });
  }

  function pauseStart() {
    var id = $("pause-select").value;
    api("POST", "/presence/pause/start", {pause_id: id}).then(loadPauses)
      .catch(function (err) { showAlert(err.message); });
  }

  function pauseEnd() {
    api("POST", "/presence/pause/end", {}).then(loadPauses).catch(function (err) { showAlert(err.message); });
  }

  // UX-3: Disponível / Ausente, the agent's own switch (managers see "Ausente")
  function setAvailable() {
    var input = $("availability-switch");
    input.disabled = true;
    api("POST", "/presence/availability", {available: input.checked}).then(loadPauses)
      .catch(function (err) { input.checked = !input.checked; showAlert(err.message); })
      .then(function () { input.disabled = false; });
  }

  // --- realtime (RTM-1) ---------------------------------------------------------------------------

  function markRead(id) {
    return api("POST", "/inbox/api/tickets/" + id + "/read", {}).then(function (res) {
      if (!res.ticket) { return; }
      if (S.detail && S.currentId === id) { S.detail.ticket.unread = res.ticket.unread; }
      if (S.byId[id]) { upsertTicket(Object.assign({}, S.byId[id], res.ticket)); }
    }).catch(function () {});
  }

  function markReadSoon() {
    clearTimeout(S.readTimer);
    var id = S.currentId;
    S.readTimer = setTimeout(function () {
      if (S.currentId === id && document.visibilityState === "visible") { markRead(id); }
    }, 500);
  }

  function onTicketUpdated(t) {
    upsertTicket(t);
    if (t.id !== S.currentId || !S.detail) { return; }
    var old = S.detail.ticket;
    var agentOf = function (x) { return x.agent ? x.agent.id : null; };
    var deptOf = function (x) { return x.department ? x.department.id : null; };
    if (old.status !== t.status || agentOf(old) !== agentOf(t) || deptOf(old) !== deptOf(t) ||
        old.has_failed !== t.has_failed) {
      refreshDetailSoon();
      return;
    }
    var contact = S.detail.ticket.contact;
    Object.assign(S.detail.ticket, t);
    S.detail.ticket.contact = contact;
    renderConversationHeaderOnly();
    if (t.unread && (!t.agent || t.agent.id === S.meta.user.id)) { markReadSoon(); }
  }

  function renderConversationHeaderOnly() {
    var t = S.detail.ticket;
    var fav = $("btn-favourite");
    fav.textContent = t.favourite ? "★" : "☆";
    fav.setAttribute("aria-pressed", t.favourite ? "true" : "false");
    renderInfo();
  }

  function fetchAgain() {
    loadList(true);
    if (S.currentId) { openTicket(S.currentId, true); }
  }

  function connectSocket() {
    if (typeof io !== "function") { return; }
    var socket = window.atendeSocket(undefined, {transports: ["polling", "websocket"]});
    S.socket = socket;
    // for diagnostics from the console (and the browser test that cuts the connection)
    window.atendeInboxSocket = socket;
    window.dispatchEvent(new CustomEvent("atende:socket", {detail: socket}));  // alerts.js (UX-1)
    socket.on("connect", function () {
      show($("connection-state"), false);
      if (S.wasDisconnected) {
        // nothing missed: fetch the list and the open conversation again
        S.wasDisconnected = false;
        fetchAgain();
      }
      if (S.currentId) { joinRoom(S.currentId); }
    });
    // the server's processes lost each other for a while (Redis): pushes may have been
    // missed, the same fetch as after a reconnection, once, after a random delay of up to
    // 1.5 s (the whole office hears it at once)
    socket.on("resync", function () {
      if (S.resyncTimer) { return; }
      S.resyncTimer = window.setTimeout(function () {
        S.resyncTimer = null;
        fetchAgain();
      }, Math.floor(Math.random() * 1500));
    });
    socket.on("disconnect", function () {
      S.wasDisconnected = true;
      $("connection-state").textContent = T.reconnecting;
      show($("connection-state"), true);
    });
    socket.on("connect_error", function () {
      S.wasDisconnected = true;
      $("connection-state").textContent = T.reconnecting;
      show($("connection-state"), true);
    });
    socket.on("ticket.updated", onTicketUpdated);
    // AUT-1: a period opened on tickets that waited out of hours
    socket.on("queue.opened", function (data) {
      (data && data.tickets || []).forEach(onTicketUpdated);
      if (data && data.count) { showAlert(fmt(T.queue_opened, {n: data.count}), "info"); }
    });
    socket.on("ticket.removed", function (data) {
      var id = data && data.id;
      removeTicket(id);
      if (id === S.currentId) {
        closeConversation();
        showAlert(T.ticket_gone, "warning");
      }
    });
    socket.on("message.created", function (m) {
      if (m && m.ticket_id === S.currentId) { addMessage(m); }
    });
    socket.on("message.status_changed", function (data) {
      if (data && data.ticket_id === S.currentId) { updateMessage(data); }
    });
    socket.on("message.tags", function (data) {
      if (data && data.ticket_id === S.currentId) { updateMessage({id: data.id, tags: data.tags}); }
    });
  }

  // --- phone and tablet (UX-2): the list and the conversation as two screens -----------------------

  // the same width as inbox.css's two-screen layout
  var PHONE = window.matchMedia ? window.matchMedia("(max-width: 767.98px)") : {matches: false};

  /* The agent opens a ticket (a click, Enter, a shortcut): on a phone the conversation
   * replaces the list, with a history entry so the browser's back button returns. */
  function chooseTicket(id) {
    var onPhone = PHONE.matches;
    if (onPhone) {
      var state = window.history.state;
      if (state && state.inboxTicket) {
        window.history.replaceState({inboxTicket: id}, "");
      } else {
        window.history.pushState({inboxTicket: id}, "");
      }
    }
    document.body.classList.add("inbox-conversation-open");
    closeMenu();
    return openTicket(id);
  }

  function backToList() {
    closeConversation();  // and steps back over the conversation's history entry
  }

  function onPopState(ev) {
    var id = ev.state && ev.state.inboxTicket;
    if (!id) {
      if (S.currentId) { closeConversation(); }
      return;
    }
    if (id !== S.currentId) {
      document.body.classList.add("inbox-conversation-open");
      openTicket(id);
    }
  }

  function closeMenu() {
    document.body.classList.remove("inbox-menu-open");
    $("btn-header-menu").setAttribute("aria-expanded", "false");
  }

  function toggleMenu(ev) {
    if (ev) { ev.stopPropagation(); }
    var open = !document.body.classList.contains("inbox-menu-open");
    document.body.classList.toggle("inbox-menu-open", open);
    $("btn-header-menu").setAttribute("aria-expanded", open ? "true" : "false");
  }

  function toggleInfo(open) {
    document.body.classList.toggle("inbox-info-open", open);
    $("btn-info").setAttribute("aria-expanded", open ? "true" : "false");
  }

  function toggleConvSearch(open) {
    var form = $("conv-search-form");
    if (open === undefined) { open = form.classList.contains("d-none"); }
    show(form, open);
    $("btn-conv-search").setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { $("conv-search").focus(); } else { show($("conv-search-results"), false); }
  }

  /* The "/" picker from a button, for a thumb: an empty composer gets the "/" it needs. */
  function openQuickReplies() {
    var text = $("composer-text");
    if (text.disabled) { return; }
    if (!text.value) { text.value = "/"; }
    text.focus();
    fetchQuickReplies(/^\/\S*$/.test(text.value) ? text.value : "/");
  }

  // --- the "Filtros" panel (UX-6) ---------------------------------------------------------------------

  var FILTER_DEFAULTS = {status: "open", order: "newest", connection: "", tag: "", department: "",
                         classification: "", favourite: false, text: ""};

  function activeFilters() {
    return Object.keys(FILTER_DEFAULTS).filter(function (k) {
      return S.filters[k] !== FILTER_DEFAULTS[k];
    }).length;
  }

  function renderFilterCount() {
    var n = activeFilters(), badge = $("filters-count");
    badge.textContent = n ? String(n) : "";
    show(badge, n > 0);
    $("btn-filters").classList.toggle("btn-outline-primary", n > 0);
    $("btn-filters").classList.toggle("btn-outline-secondary", !n);
  }

  function toggleFilters() {
    var panel = $("filters-panel"), open = panel.classList.contains("d-none");
    show(panel, open);
    $("btn-filters").setAttribute("aria-expanded", open ? "true" : "false");
  }

  function clearFilters() {
    Object.keys(FILTER_DEFAULTS).forEach(function (k) { S.filters[k] = FILTER_DEFAULTS[k]; });
    $("filter-status").value = "open";
    $("filter-order").value = "newest";
    ["filter-connection", "filter-tag", "filter-department", "filter-classification", "filter-text"].forEach(function (id) { $(id).value = ""; });
    $("filter-favourite").checked = false;
    renderFilterCount();
    loadList(true);
  }

  // --- keyboard shortcuts (UX-6), listed by "?" -------------------------------------------------------

  function typingIn(node) {
    if (!node || !node.tagName) { return false; }
    return /^(INPUT|TEXTAREA|SELECT)$/.test(node.tagName) || node.isContentEditable;
  }

  function modalOpen() { return !!document.querySelector(".modal.show-modal"); }

  function stepTicket(delta) {
    if (!S.rows.length) { return; }
    var index = -1;
    S.rows.some(function (t, i) { if (t.id === S.currentId) { index = i; return true; } return false; });
    var next = index < 0 ? 0 : Math.max(0, Math.min(S.rows.length - 1, index + delta));
    if (next === index) { return; }
    var id = S.rows[next].id;
    chooseTicket(id);
    if (S.nodes[id] && S.nodes[id].scrollIntoView) { S.nodes[id].scrollIntoView({block: "nearest"}); }
    if (next >= S.rows.length - 3) { loadList(false); }
  }

  function clickIfShown(id) {
    var button = $(id);
    if (S.detail && !button.hidden && !button.disabled) { button.click(); }
  }

  function onShortcut(ev) {
    if (ev.key === "Escape") {
      var hadOverlay = modalOpen() || !!tagMenu || document.body.classList.contains("inbox-menu-open") ||
        document.body.classList.contains("inbox-info-open");
      closeModals();
      closeTagMenu();
      closeMenu();
      toggleInfo(false);
      if (!hadOverlay && typingIn(ev.target)) { ev.target.blur(); }
      return;
    }
    if (ev.defaultPrevented || typingIn(ev.target) || ev.ctrlKey || ev.metaKey || modalOpen()) { return; }
    var key = ev.key;
    if (ev.altKey) {
      if (key === "ArrowDown" || key === "ArrowUp") {
        ev.preventDefault();
        stepTicket(key === "ArrowDown" ? 1 : -1);
      }
      return;
    }
    var actions = {
      "j": function () { stepTicket(1); },
      "k": function () { stepTicket(-1); },
      "a": function () { clickIfShown("btn-accept"); },
      "t": function () { clickIfShown("btn-transfer"); },
      "f": function () { clickIfShown("btn-close"); },
      "r": function () { if (S.detail && !$("composer-text").disabled) { $("composer-text").focus(); } },
      "/": function () {
        if (PHONE.matches && document.body.classList.contains("inbox-conversation-open")) { return; }
        $("filter-q").focus();
        $("filter-q").select();
      },
      "?": function () { openModal("modal-shortcuts"); }
    };
    var run = actions[key];
    if (!run) { return; }
    ev.preventDefault();
    run();
  }

  // --- wiring ----------------------------------------------------------------------------------------

  function setView(view) {
    S.filters.view = view;
    ["all", "mine", "unassigned"].forEach(function (v) {
      var b = $("filter-view-" + v);
      b.classList.toggle("active", v === view);
      b.setAttribute("aria-pressed", v === view ? "true" : "false");
    });
    loadList(true);
  }

  function wire() {
    ["all", "mine", "unassigned"].forEach(function (v) {
      $("filter-view-" + v).addEventListener("click", function () { setView(v); });
    });
    [["filter-status", "status"], ["filter-order", "order"], ["filter-connection", "connection"],
     ["filter-tag", "tag"], ["filter-department", "department"],
     ["filter-classification", "classification"]].forEach(function (pair) {
      $(pair[0]).addEventListener("change", function (ev) {
        S.filters[pair[1]] = ev.target.value; renderFilterCount(); loadList(true);
      });
    });
    $("filter-favourite").addEventListener("change", function (ev) {
      S.filters.favourite = ev.target.checked; renderFilterCount(); loadList(true);
    });
    var typed = debounce(function () {
      S.filters.q = $("filter-q").value.trim();
      S.filters.text = $("filter-text").value.trim();
      renderFilterCount();
      loadList(true);
    }, 300);
    $("filter-q").addEventListener("input", typed);
    $("filter-text").addEventListener("input", typed);
    $("btn-refresh").addEventListener("click", function () { loadList(true); });
    $("ticket-list").addEventListener("scroll", function () {
      var list = $("ticket-list");
      if (list.scrollTop + list.clientHeight > list.scrollHeight - 150) { loadList(false); }
    });

    $("btn-selection").addEventListener("click", toggleSelection);
    $("bulk-all").addEventListener("change", function (ev) {
      S.selected = {};
      if (ev.target.checked) { S.rows.forEach(function (t) { S.selected[t.id] = true; }); }
      renderList();
    });
    $("btn-bulk-close").addEventListener("click", function () {
      if (!selectedIds().length) { showAlert(T.select_some, "warning"); return; }
      openClose(true);
    });
    $("btn-bulk-transfer").addEventListener("click", function () {
      if (!selectedIds().length) { showAlert(T.select_some, "warning"); return; }
      openTransfer(true);
    });
    $("btn-bulk-automation").addEventListener("click", openAutomation);
    $("automation-rule").addEventListener("change", renderAutomationConfirm);
    $("form-automation").addEventListener("submit", function (ev) {
      ev.preventDefault();
      runAutomation();
    });

    $("btn-accept").addEventListener("click", function () { act("accept"); });
    $("btn-reopen").addEventListener("click", function () { act("reopen"); });
    $("btn-transfer").addEventListener("click", function () { openTransfer(false); });
    $("btn-close").addEventListener("click", function () { openClose(false); });
    $("btn-favourite").addEventListener("click", function () {
      if (S.detail) { act("favourite", {value: !S.detail.ticket.favourite}); }
    });
    $("transfer-department").addEventListener("change", fillAgents);
    $("form-transfer").addEventListener("submit", function (ev) {
      ev.preventDefault();
      submitModal("modal-transfer", "transfer", {
        department_id: $("transfer-department").value, agent_id: $("transfer-agent").value,
        observation: $("transfer-observation").value
      }, $("transfer-submit"));
    });
    $("form-close").addEventListener("submit", function (ev) {
      ev.preventDefault();
      submitModal("modal-close", "close", {
        reason_id: $("close-reason").value, farewell_id: $("close-farewell").value, note: $("close-note").value
      }, $("close-submit"));
    });
    document.querySelectorAll("[data-dismiss-modal]").forEach(function (b) { b.addEventListener("click", closeModals); });
    document.addEventListener("keydown", onShortcut);

    // UX-2 / UX-6: the phone's screens and menu, the filters panel, the shortcuts
    $("btn-back").addEventListener("click", backToList);
    window.addEventListener("popstate", onPopState);
    $("btn-header-menu").addEventListener("click", toggleMenu);
    $("header-actions").addEventListener("click", function (ev) { ev.stopPropagation(); });
    document.addEventListener("click", closeMenu);
    $("btn-info").addEventListener("click", function (ev) {
      ev.stopPropagation();
      toggleInfo(!document.body.classList.contains("inbox-info-open"));
    });
    $("btn-info-close").addEventListener("click", function () { toggleInfo(false); });
    $("btn-conv-search").addEventListener("click", function () { toggleConvSearch(); });
    $("btn-quick").addEventListener("mousedown", function (ev) { ev.preventDefault(); });  // keep the composer's focus
    $("btn-quick").addEventListener("click", openQuickReplies);
    $("btn-filters").addEventListener("click", toggleFilters);
    $("btn-filters-clear").addEventListener("click", clearFilters);
    $("btn-shortcuts").addEventListener("click", function () { openModal("modal-shortcuts"); });

    $("btn-older").addEventListener("click", loadOlder);
    $("btn-send").addEventListener("click", sendMessage);
    $("btn-schedule").addEventListener("click", openSchedule);
    $("form-schedule").addEventListener("submit", submitSchedule);
    $("pt-select").addEventListener("change", chooseProviderTemplate);
    $("pt-send").addEventListener("click", sendProviderTemplate);
    $("composer-text").addEventListener("keydown", onComposerKey);
    $("composer-text").addEventListener("input", onComposerInput);
    $("composer-text").addEventListener("blur", function () { setTimeout(hideQuickReplies, 150); });
    $("btn-attach").addEventListener("click", function () { $("composer-file").click(); });
    $("composer-file").addEventListener("change", onFileChosen);
    $("conv-search-form").addEventListener("submit", searchConversation);

    $("btn-pause-start").addEventListener("click", pauseStart);
    $("btn-pause-end").addEventListener("click", pauseEnd);
    $("availability-switch").addEventListener("change", setAvailable);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && S.detail && S.detail.ticket.unread) { markReadSoon(); }
    });
  }

  wire();
  loadMeta().then(function () {
    renderBulkBar();
    loadList(true);
    loadPauses();
    connectSocket();
    // /inbox/?ticket=<id>: a link from the dashboard's alerts or a report's ticket list
    // opens that conversation (the server still checks the user may see it)
    var linked = parseInt(new URLSearchParams(window.location.search).get("ticket") || "", 10);
    if (linked > 0) { chooseTicket(linked); }
  }).catch(function (err) { showAlert(err.message); });
})();
