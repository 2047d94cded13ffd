/* The managers' live dashboard on the home (PAU-4).
 *
 * The server pushes only "dashboard.changed" (which departments moved) to the rooms that
 * may know of them; the page then refetches its numbers from /admin/dashboard.json, which
 * answers for the user's own scope. Refetches are throttled: at most one a second, and a
 * trailing one after the last push, so a bulk close on the server costs one or two
 * requests here. The numbers are also refetched on every (re)connect of the socket and
 * every 30 s, since a wait crosses its department's target without any event.
 * Everything shown is set with textContent: department names and protocols are data.
 */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root) { return; }
  var strings = JSON.parse(document.getElementById("dashboard-strings").textContent);
  var url = root.getAttribute("data-url");
  var inbox = root.getAttribute("data-inbox");
  var lang = document.documentElement.lang || "pt-BR";
  var MIN_GAP = 1000, PERIOD = 30000;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? String(values[k]) : m; });
  }

  // "45 s", "12 min", "1 h 05 min": reports.agent.duration_text and home.html write the same
  function minutes(m) {
    if (m < 60) { return m + " min"; }
    var rest = m % 60;
    return Math.floor(m / 60) + " h " + (rest < 10 ? "0" : "") + rest + " min";
  }
  function wait(seconds) {
    if (seconds === null || seconds === undefined) { return "—"; }
    seconds = Math.max(0, Math.floor(seconds));
    return seconds < 60 ? seconds + " s" : minutes(Math.floor(seconds / 60));
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  // -- the chart of today's arrivals by hour ----------------------------------------------
  var canvas = root.querySelector("[data-role=chart]");
  var hoursText = root.querySelector("[data-role=hours-text]");
  var chart = null;
  function labels() { var out = []; for (var h = 0; h < 24; h++) { out.push(h + "h"); } return out; }
  function showHours(byHour) {
    var parts = [];
    byHour.forEach(function (n, hour) { if (n) { parts.push(fill(strings.hour, {hour: hour, n: n})); } });
    hoursText.textContent = parts.length ? parts.join("; ") : strings.no_hours;
    if (!window.Chart || !canvas) { return; }
    if (chart === null) {
      chart = new window.Chart(canvas, {
        type: "bar",
        data: {labels: labels(), datasets: [{label: strings.received, data: byHour.slice(),
                                             backgroundColor: "#2c7be5"}]},
        options: {animation: false, responsive: true, maintainAspectRatio: false,
                  plugins: {legend: {display: false}},
                  scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
      });
    } else {
      chart.data.datasets[0].data = byHour.slice();
      chart.update();
    }
  }

  // -- the numbers ------------------------------------------------------------------------
  function showDepartments(departments) {
    var body = root.querySelector("[data-role=departments]");
    var rows = document.createDocumentFragment();
    departments.forEach(function (d) {
      var tr = el("tr");
      tr.setAttribute("data-department-id", d.id === null ? "" : String(d.id));
      var name = el("th", d.id === null ? strings.unrouted : d.name);
      name.setAttribute("scope", "row");
      tr.appendChild(name);
      var online = d.agents.filter(function (a) { return a.status === "online"; }).length;
      [d.waiting, d.in_progress, d.closed_today, d.received_today, wait(d.longest_wait_s),
       d.id === null ? "—" : online + "/" + d.agents.length].forEach(function (v) { tr.appendChild(el("td", v, "text-right")); });
      rows.appendChild(tr);
    });
    if (!departments.length) {
      var empty = el("tr"), cell = el("td", strings.none, "text-muted");
      cell.setAttribute("colspan", "7");
      empty.appendChild(cell);
      rows.appendChild(empty);
    }
    body.replaceChildren(rows);
  }

  function showAlerts(alerts) {
    var list = root.querySelector("[data-role=alerts]");
    var items = document.createDocumentFragment();
    alerts.forEach(function (a) {
      var li = el("li", null, "text-danger");
      var link = el("a", a.protocol);
      link.href = inbox + "?ticket=" + encodeURIComponent(a.ticket_id);
      li.appendChild(link);
      li.appendChild(document.createTextNode(" · " + (a.department || strings.unrouted) + " · " +
                                             fill(strings.waiting_for, {wait: wait(a.waiting_s)}) + " "));
      li.appendChild(el("span", "(" + fill(strings.target, {wait: minutes(a.limit_minutes)}) + ")", "text-muted"));
      items.appendChild(li);
    });
    if (!alerts.length) {
      var none = el("li", strings.no_alerts, "text-muted");
      none.setAttribute("data-role", "no-alerts");
      items.appendChild(none);
    }
    list.replaceChildren(items);
  }

  function render(data) {
    root.querySelectorAll("[data-key]").forEach(function (node) {
      var value = data.totals[node.getAttribute("data-key")];
      node.textContent = node.getAttribute("data-format") === "wait" ? wait(value) : String(value);
    });
    root.querySelectorAll("[data-agents]").forEach(function (node) {
      node.textContent = String(data.agents[node.getAttribute("data-agents")] || 0);
    });
    showDepartments(data.departments);
    showAlerts(data.alerts);
    showHours(data.by_hour);
    var time = new Date().toLocaleTimeString(lang, {hour: "2-digit", minute: "2-digit", second: "2-digit"});
    root.querySelector("[data-role=updated]").textContent = fill(strings.updated, {time: time});
    root.setAttribute("data-loaded", String(Date.now()));
  }

  // -- refetch, throttled -----------------------------------------------------------------
  var lastFetch = 0, timer = null, inFlight = false, again = false;

  function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    lastFetch = Date.now();
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error(String(r.status))); })
      .then(render)
      .catch(function () { /* the next push, reconnect or period tries again */ })
      .then(function () {
        inFlight = false;
        if (again) { again = false; schedule(); }
      });
  }

  function schedule() {
    if (timer !== null) { return; }  // the trailing fetch already planned covers this push
    timer = setTimeout(function () { timer = null; refresh(); },
                       Math.max(0, lastFetch + MIN_GAP - Date.now()));
  }

  showHours(JSON.parse(canvas.getAttribute("data-by-hour") || "[]"));
  window.setInterval(function () { if (!document.hidden) { schedule(); } }, PERIOD);

  var socket = window.atendeHomeSocket;
  if (!socket) { return; }
  socket.on("dashboard.changed", schedule);
  socket.on("connect", schedule);  // the first connect and every reconnect: pushes may have been missed
  socket.on("resync", schedule);   // so may they have after the server's processes lost Redis
  socket.on("disconnect", function () {
    root.querySelector("[data-role=updated]").textContent = strings.offline;
  });
})();
