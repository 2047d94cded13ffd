/* Automações (AUT-8): the conditions/actions editor. Rows of "type + params" built from
   the JSON the page provides (#automation-options: the company's departments, agents,
   tags, ...), written as JSON into the form's hidden fields "conditions" and "actions".
   The server checks everything again (ids of the company only). No HTML is built from
   strings: names are set with textContent. */
(function () {
  "use strict";
  var root = document.getElementById("automation-editor");
  if (!root) { return; }
  var O = JSON.parse(document.getElementById("automation-options").textContent);
  var S = JSON.parse(document.getElementById("automation-strings").textContent);
  var condInput = document.getElementById("conditions");
  var actInput = document.getElementById("actions");
  var form = condInput ? condInput.form : null;
  if (!form || !actInput) { return; }

  // the editor goes inside the form, just before its buttons
  var submit = form.querySelector("[type=submit]");
  var anchor = submit ? (submit.closest(".form-group") || submit.parentNode) : null;
  if (anchor && anchor.parentNode) { anchor.parentNode.insertBefore(root, anchor); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function select(name, choices, value, blank) {
    var s = el("select", {"class": "form-control form-control-sm mr-2 mb-1", "data-key": name});
    if (blank) { s.appendChild(el("option", {value: ""}, blank)); }
    choices.forEach(function (c) {
      var o = el("option", {value: String(c[0])}, c[1]);
      if (value !== undefined && value !== null && String(value) === String(c[0])) { o.selected = true; }
      s.appendChild(o);
    });
    return s;
  }

  function input(name, value, placeholder, multiline) {
    var i = el(multiline ? "textarea" : "input",
               {"class": "form-control form-control-sm mr-2 mb-1", "data-key": name,
                "placeholder": placeholder || ""});
    if (multiline) { i.rows = 2; }
    i.value = value === undefined || value === null ? "" : String(value);
    return i;
  }

  var yesNo = [["true", S.yes], ["false", S.no]];

  // the params of each type: [key, control builder]
  var CONDITIONS = {
    period: function (d) { return [select("period_id", O.periods, d.period_id, S.choose),
                                   select("inside", [["true", S.inside], ["false", S.outside]], String(d.inside !== false))]; },
    channel: function (d) { return [select("kind", O.kinds, d.kind, S.choose)]; },
    connection: function (d) { return [select("connection_id", O.connections, d.connection_id, S.choose)]; },
    department: function (d) { return [select("department_id", O.departments, d.department_id, S.choose)]; },
    tag: function (d) { return [select("has", [["true", S.has], ["false", S.lacks]], String(d.has !== false)),
                                select("tag_id", O.tags, d.tag_id, S.choose)]; },
    contact_field: function (d) { return [select("field", O.fields, d.field, S.choose),
                                          select("op", O.operators, d.op || "equals"),
                                          input("value", d.value, S.value)]; },
    message_contains: function (d) { return [input("text", d.text, S.text)]; },
    variable: function (d) { return [input("name", d.name, S.variable),
                                     select("op", O.operators, d.op || "equals"),
                                     input("value", d.value, S.value)]; }
  };

  function templateChoices(d) {
    var s = el("select", {"class": "form-control form-control-sm mr-2 mb-1", "data-key": "template"});
    s.appendChild(el("option", {value: ""}, S.choose));
    [["template", O.templates, d.template_id, S.templates],
     ["provider", O.provider_templates, d.provider_template_id, S.provider_templates]]
      .forEach(function (g) {
        if (!g[1].length) { return; }
        var group = el("optgroup", {label: g[3]});
        g[1].forEach(function (c) {
          var o = el("option", {value: g[0] + ":" + c[0]}, c[1]);
          if (g[2] !== undefined && g[2] !== null && String(g[2]) === String(c[0])) { o.selected = true; }
          group.appendChild(o);
        });
        s.appendChild(group);
      });
    return [s];
  }

  function mapText(map) {
    return Object.keys(map || {}).map(function (k) { return k + "=" + map[k]; }).join("\n");
  }

  var ACTIONS = {
    move: function (d) { return [select("department_id", O.departments, d.department_id, S.department + ": " + S.none),
                                 select("agent_id", O.agents, d.agent_id, S.agent + ": " + S.none)]; },
    add_tag: function (d) { return [select("tag_id", O.tags, d.tag_id, S.choose)]; },
    remove_tag: function (d) { return [select("tag_id", O.tags, d.tag_id, S.choose)]; },
    send_text: function (d) { return [input("text", d.text, S.text, true)]; },
    send_template: templateChoices,
    favourite: function (d) { return [select("value", yesNo, String(d.value !== false))]; },
    close: function (d) { return [select("reason_id", O.reasons, d.reason_id, S.reason + ": " + S.none),
                                  input("text", d.text, S.message, true)]; },
    http: function (d) { return [select("integration", O.integrations || [], d.integration, S.integration),
                                 select("method", O.methods.map(function (m) { return [m, m]; }), d.method || "POST"),
                                 input("url", d.url, S.url),
                                 input("body", d.body, S.body, true),
                                 input("map", mapText(d.map), S.map, true)]; },
    start_flow: function (d) { return [select("flow_id", O.flows, d.flow_id, S.choose)]; }
  };

  function readRow(row) {
    var data = {type: row.querySelector("[data-key=type]").value};
    row.querySelectorAll(".automation-params [data-key]").forEach(function (c) {
      var key = c.getAttribute("data-key"), v = c.value;
      if (/_id$/.test(key)) {
        data[key] = v === "" ? null : parseInt(v, 10);
      } else if (key === "inside" || key === "has" || key === "value" && c.tagName === "SELECT") {
        data[key] = v === "true";
      } else if (key === "template") {
        var parts = v.split(":");
        if (parts[0] === "provider") { data.provider_template_id = parseInt(parts[1], 10); }
        else { data.template_id = v ? parseInt(parts[1], 10) : null; }
      } else if (key === "map") {
        var map = {};
        v.split("\n").forEach(function (line) {
          var i = line.indexOf("=");
          if (i > 0) { map[line.slice(0, i).trim()] = line.slice(i + 1).trim(); }
        });
        data.map = map;
      } else {
        data[key] = v;
      }
    });
    return data;
  }

  function write() {
    [[condBox, condInput], [actBox, actInput]].forEach(function (pair) {
      var rows = Array.prototype.map.call(pair[0].children, readRow);
      pair[1].value = JSON.stringify(rows);
    });
  }

  function addRow(box, types, builders, data) {
    data = data || {};
    var row = el("div", {"class": "automation-row d-flex flex-wrap align-items-start border rounded p-2 mb-2",
                         "data-testid": "automation-row"});
    var kinds = Object.keys(types).map(function (k) { return [k, types[k]]; });
    var type = select("type", kinds, data.type || kinds[0][0]);
    type.classList.add("automation-type");
    var params = el("div", {"class": "automation-params d-flex flex-wrap flex-grow-1"});
    function fill(d) {
      while (params.firstChild) { params.removeChild(params.firstChild); }
      (builders[type.value] || function () { return []; })(d).forEach(function (c) { params.appendChild(c); });
    }
    type.addEventListener("change", function () { fill({}); write(); });
    fill(data);
    var tools = el("div", {"class": "btn-group btn-group-sm ml-auto"});
    [["up", "↑"], ["down", "↓"], ["remove", "×"]].forEach(function (b) {
      var button = el("button", {type: "button", "class": "btn btn-outline-secondary",
                                 title: S[b[0]], "aria-label": S[b[0]], "data-do": b[0]}, b[1]);
      tools.appendChild(button);
    });
    tools.addEventListener("click", function (ev) {
      var what = ev.target.getAttribute("data-do");
      if (what === "remove") { row.parentNode.removeChild(row); }
      if (what === "up" && row.previousElementSibling) { box.insertBefore(row, row.previousElementSibling); }
      if (what === "down" && row.nextElementSibling) { box.insertBefore(row.nextElementSibling, row); }
      write();
    });
    row.appendChild(type);
    row.appendChild(params);
    row.appendChild(tools);
    box.appendChild(row);
  }

  var condBox = document.getElementById("automation-conditions");
  var actBox = document.getElementById("automation-actions");

  function parse(value) {
    try { var v = JSON.parse(value || "[]"); return Array.isArray(v) ? v : []; }
    catch (e) { return []; }
  }
  parse(condInput.value).forEach(function (d) { addRow(condBox, O.condition_types, CONDITIONS, d); });
  parse(actInput.value).forEach(function (d) { addRow(actBox, O.action_types, ACTIONS, d); });

  document.getElementById("automation-add-condition").addEventListener("click", function () {
    addRow(condBox, O.condition_types, CONDITIONS); write();
  });
  document.getElementById("automation-add-action").addEventListener("click", function () {
    addRow(actBox, O.action_types, ACTIONS); write();
  });
  root.addEventListener("change", write);
  root.addEventListener("input", write);
  form.addEventListener("submit", write);

  // the idle minutes only matter for the "idle" trigger
  var trigger = document.getElementById("trigger");
  var idle = document.getElementById("idle_minutes");
  var idleGroup = idle ? (idle.closest(".form-group") || idle.parentNode) : null;
  function toggleIdle() {
    if (idleGroup && trigger) { idleGroup.style.display = trigger.value === "idle" ? "" : "none"; }
  }
  if (trigger) { trigger.addEventListener("change", toggleIdle); toggleIdle(); }
}());
