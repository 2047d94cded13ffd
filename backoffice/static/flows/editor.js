/* Fluxos de chatbot: the visual editor and its test pane (AUT-2).
 *
 * The page gives the flow's draft in the graph format of
 * backoffice/automation/flows/spec.py (JSON block #flow-data); Drawflow draws it.
 * Conversions:
 *   graph -> Drawflow: one Drawflow node per graph node (ids renumbered), one output per
 *     outlet of spec.outlets(node), in order (output_1 = first outlet), one input
 *     (none on "start"); each "next" link becomes a connection;
 *   Drawflow -> graph: node id = Drawflow id as text, x/y = its position, "next" = the
 *     first connection of each output, named by the outlet at that position.
 * The node's fields live in `model` (never in Drawflow's html): every user text reaches
 * the page through textContent or a data- attribute shown by CSS, never as HTML.
 */
(function () {
  "use strict";
  var root = document.getElementById("flow-editor");
  if (!root || typeof Drawflow === "undefined") { return; }
  var DATA = JSON.parse(document.getElementById("flow-data").textContent);
  var T = JSON.parse(document.getElementById("flow-strings").textContent);
  var SPEC = DATA.spec;
  var CSRF = root.getAttribute("data-csrf");
  var canEdit = !!DATA.can_edit;

  var container = document.getElementById("drawflow");
  var editor = new Drawflow(container);
  editor.reroute = false;
  // a reader may move things around and select steps to read their fields; the palette,
  // the fields and the save buttons are theirs only with flows.edit
  editor.editor_mode = "edit";
  editor.start();

  var model = {};  // Drawflow id (text) -> {type, data}
  var selected = null;

  // -- helpers ------------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "className") { node.className = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function fill(template, values) {
    return String(template).replace(/\{(\w)\}/g, function (m, k) {
      return values[k] !== undefined ? values[k] : m;
    });
  }
  function typeLabel(type) {
    return (SPEC.types[type] && SPEC.types[type].label) || type;
  }
  function clone(value) { return JSON.parse(JSON.stringify(value === undefined ? null : value)); }

  // spec.outlets(node), the same order
  function outlets(type, data) {
    var kind = SPEC.types[type];
    if (!kind) { return []; }
    var names = [];
    if (type === "menu") {
      var options = (data && Array.isArray(data.options)) ? data.options : [];
      options.forEach(function (o, i) { names.push("option:" + i); });
    }
    return names.concat(kind.outlets);
  }
  function outletLabel(type, data, name) {
    if (name.indexOf("option:") === 0) {
      var i = parseInt(name.slice(7), 10);
      var text = (data.options || [])[i];
      return (i + 1) + ". " + (text || "");
    }
    return SPEC.outlet_labels[name] || name;
  }

  function defaults(type) {
    switch (type) {
      case "message": return {text: ""};
      case "menu": return {text: "", options: [fill(T.option, {n: 1}), fill(T.option, {n: 2})],
                           invalid_text: "", max_tries: 3};
      case "question": return {text: "", validate: "text", retry_text: "", max_tries: 3};
      case "condition": return {condition: {type: "message_contains", text: ""}};
      case "http": return {method: "GET", url: "", body: "", map: {}};
      case "wait": return {minutes: 5};
      case "end": return {text: "", close: true};
      default: return {};
    }
  }

  function summary(type, data) {
    var d = data || {};
    if (d.text) { return d.text; }
    if (type === "http") { return d.integration || ((d.method || "") + " " + (d.url || "")); }
    if (type === "wait") { return (d.minutes || "") + " min"; }
    if (type === "tag") { return nameOf(DATA.tags, d.tag_id); }
    if (type === "transfer") { return nameOf(DATA.departments, d.department_id) || nameOf(DATA.agents, d.agent_id); }
    if (type === "condition" && d.condition) { return nameOf(DATA.condition_types, d.condition.type); }
    return "";
  }
  function nameOf(list, id) {
    for (var i = 0; i < list.length; i++) { if (String(list[i].id) === String(id)) { return list[i].name; } }
    return "";
  }

  function nodeEl(id) { return document.getElementById("node-" + id); }
  function dfNode(id) { return editor.getNodeFromId(id); }

  // what the node shows: its type, a summary, the label of each output
  function refresh(id) {
    var item = model[id], box = nodeEl(id);
    if (!item || !box) { return; }
    box.querySelector(".flow-node-title").textContent = typeLabel(item.type);
    box.querySelector(".flow-node-summary").textContent = summary(item.type, item.data);
    var names = outlets(item.type, item.data);
    box.querySelectorAll(".outputs .output").forEach(function (out) {
      var m = /output_(\d+)/.exec(out.className);
      var name = m ? names[parseInt(m[1], 10) - 1] : null;
      var label = name ? outletLabel(item.type, item.data, name) : "";
      out.setAttribute("data-label", label);
      out.setAttribute("title", label);
      out.setAttribute("data-outlet", name || "");
    });
  }

  var NODE_HTML = '<div class="flow-node-title"></div><div class="flow-node-summary"></div>';

  function addNode(type, data, x, y) {
    var outs = outlets(type, data).length;
    var id = String(editor.addNode(type, type === "start" ? 0 : 1, outs, x, y, type, {}, NODE_HTML));
    model[id] = {type: type, data: data};
    var box = nodeEl(id);
    if (box) { box.setAttribute("data-type", type); box.setAttribute("data-testid", "flow-node-" + type); }
    refresh(id);
    return id;
  }

  // -- graph <-> Drawflow -------------------------------------------------------------
  function load(graph) {
    var nodes = (graph && graph.nodes) || {};
    var ids = {};
    Object.keys(nodes).forEach(function (key) {
      var n = nodes[key];
      if (!n || !SPEC.types[n.type]) { return; }
      var data = n.data && typeof n.data === "object" && !Array.isArray(n.data) ? clone(n.data) : {};
      ids[key] = addNode(n.type, data, Number(n.x) || 0, Number(n.y) || 0);
    });
    if (!Object.keys(model).some(function (k) { return model[k].type === "start"; })) {
      addNode("start", {}, 60, 160);
    }
    Object.keys(ids).forEach(function (key) {
      var n = nodes[key], next = n.next || {};
      outlets(n.type, model[ids[key]].data).forEach(function (name, i) {
        var target = ids[next[name]];
        if (target && target !== ids[key]) {
          editor.addConnection(ids[key], target, "output_" + (i + 1), "input_1");
        }
      });
    });
  }

  function graph() {
    var data = editor.export().drawflow.Home.data;
    var nodes = {};
    Object.keys(data).forEach(function (key) {
      var n = data[key], item = model[String(key)];
      if (!item) { return; }
      var next = {};
      outlets(item.type, item.data).forEach(function (name, i) {
        var out = n.outputs["output_" + (i + 1)];
        if (out && out.connections.length) { next[name] = String(out.connections[0].node); }
      });
      nodes[String(key)] = {type: item.type, x: Math.round(n.pos_x), y: Math.round(n.pos_y),
                            data: clone(item.data), next: next};
    });
    return {nodes: nodes};
  }

  // -- Drawflow rules: one link per output, the start node stays --------------------
  editor.on("connectionCreated", function (c) {
    var out = dfNode(c.output_id).outputs[c.output_class];
    (out ? out.connections.slice() : []).forEach(function (other) {
      if (String(other.node) !== String(c.input_id)) {
        editor.removeSingleConnection(c.output_id, other.node, c.output_class, other.output);
      }
    });
  });
  var removeNode = editor.removeNodeId.bind(editor);
  editor.removeNodeId = function (domId) {
    var id = String(domId).replace("node-", "");
    var active = document.activeElement;
    if (model[id] && model[id].type === "start") { return; }
    // Delete typed in a field of the side panel or the test pane is for the field
    if (active && !container.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) { return; }
    removeNode(domId);
  };
  editor.on("nodeRemoved", function (id) {
    delete model[String(id)];
    if (selected === String(id)) { selected = null; showPanel(null); }
  });
  editor.on("nodeSelected", function (id) { selected = String(id); showPanel(selected); });
  editor.on("nodeUnselected", function () { selected = null; showPanel(null); });

  // The menu's outputs follow its options: `order[k]` is the old output index of the
  // new output k (-1: a new one); links are moved along.
  function reshape(id, oldCount, order) {
    var node = dfNode(id), targets = [];
    for (var k = 1; k <= oldCount; k++) {
      var out = node.outputs["output_" + k];
      targets.push(out && out.connections.length ? out.connections[0] : null);
    }
    targets.forEach(function (t, k) {
      if (t) { editor.removeSingleConnection(id, t.node, "output_" + (k + 1), t.output); }
    });
    var count = oldCount;
    while (count < order.length) { editor.addNodeOutput(id); count++; }
    while (count > order.length) { editor.removeNodeOutput(id, "output_" + count); count--; }
    order.forEach(function (old, k) {
      var t = old >= 0 ? targets[old] : null;
      if (t) { editor.addConnection(id, t.node, "output_" + (k + 1), t.output); }
    });
    editor.updateConnectionNodes("node-" + id);
  }

  // -- side panel -----------------------------------------------------------------------
  var panel = document.getElementById("flow-panel");
  var panelEmpty = panel.innerHTML;

  function changed(id) {
    refresh(id);
  }

  function group(label, input, help) {
    var g = el("div", {className: "form-group"});
    var idFor = "flow-f-" + Math.random().toString(36).slice(2, 9);
    input.id = idFor;
    if (input.type === "checkbox") {
      g.className = "form-check mb-2";
      input.className = "form-check-input";
      g.appendChild(input);
      g.appendChild(el("label", {"for": idFor, className: "form-check-label"}, label));
    } else {
      g.appendChild(el("label", {"for": idFor}, label));
      g.appendChild(input);
    }
    if (help) {
      var more = el("details", {className: "small text-muted"});
      more.appendChild(el("summary", {}, T.variables_title));
      more.appendChild(el("div", {}, help));
      g.appendChild(more);
    }
    return g;
  }
  function textInput(value, multiline, onChange) {
    var input = el(multiline ? "textarea" : "input", {className: "form-control form-control-sm"});
    if (multiline) { input.rows = 3; } else { input.type = "text"; }
    input.value = value === undefined || value === null ? "" : String(value);
    input.disabled = !canEdit;
    input.addEventListener("input", function () { onChange(input.value); });
    return input;
  }
  function numberInput(value, min, max, onChange) {
    var input = el("input", {className: "form-control form-control-sm", type: "number",
                             min: String(min), max: String(max)});
    input.value = value === undefined || value === null ? "" : String(value);
    input.disabled = !canEdit;
    input.addEventListener("input", function () {
      var n = parseInt(input.value, 10);
      onChange(isNaN(n) ? null : n);
    });
    return input;
  }
  function selectInput(list, value, blank, onChange, numeric) {
    var input = el("select", {className: "form-control form-control-sm"});
    if (blank) { input.appendChild(el("option", {value: ""}, T.none)); }
    list.forEach(function (o) {
      var opt = el("option", {value: String(o.id)}, o.name);
      if (value !== undefined && value !== null && String(o.id) === String(value)) { opt.selected = true; }
      input.appendChild(opt);
    });
    input.disabled = !canEdit;
    input.addEventListener("change", function () {
      var v = input.value;
      onChange(v === "" ? null : (numeric ? parseInt(v, 10) : v));
    });
    return input;
  }
  function checkInput(value, onChange) {
    var input = el("input", {type: "checkbox"});
    input.checked = !!value;
    input.disabled = !canEdit;
    input.addEventListener("change", function () { onChange(input.checked); });
    return input;
  }
  function setter(id, obj, key) {
    return function (v) {
      if (v === null || v === undefined) { delete obj[key]; } else { obj[key] = v; }
      changed(id);
    };
  }
  function mapToLines(map) {
    return Object.keys(map || {}).map(function (k) { return k + " = " + map[k]; }).join("\n");
  }
  function linesToMap(text) {
    var map = {};
    String(text || "").split("\n").forEach(function (line) {
      var at = line.indexOf("=");
      if (at < 0) { return; }
      var name = line.slice(0, at).trim(), path = line.slice(at + 1).trim();
      if (name) { map[name] = path; }
    });
    return map;
  }
  var LIST = function (obj) { return Object.keys(obj).map(function (k) { return {id: k, name: obj[k]}; }); };
  var METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"].map(function (m) { return {id: m, name: m}; });

  function showPanel(id) {
    panel.textContent = "";
    if (id === null || !model[id]) { panel.innerHTML = panelEmpty; return; }
    var item = model[id], d = item.data, type = item.type;
    panel.appendChild(el("div", {className: "font-weight-bold mb-2"}, typeLabel(type)));
    var add = function (node) { panel.appendChild(node); };
    var textHelp = T.variables + " " + T.flow_variables;
    if (type === "start") { add(el("p", {className: "small text-muted"}, T.start_help)); return; }
    if (["message", "menu", "question"].indexOf(type) >= 0) {
      add(group(T.text, textInput(d.text, true, setter(id, d, "text")), textHelp));
    }
    if (type === "message") {
      add(group(T.template, selectInput(DATA.templates, d.template_id, true, setter(id, d, "template_id"), true)));
    }
    if (type === "menu") { menuOptions(id, d); }
    if (type === "menu") {
      add(group(T.invalid_text, textInput(d.invalid_text, true, setter(id, d, "invalid_text"))));
    }
    if (type === "question") {
      add(group(T.field, selectInput(DATA.fields, d.field, true, setter(id, d, "field"))));
      add(group(T.variable, textInput(d.variable, false, setter(id, d, "variable"))));
      add(group(T.validate, selectInput(LIST(SPEC.validations), d.validate || "text", false, setter(id, d, "validate"))));
      add(group(T.retry_text, textInput(d.retry_text, true, setter(id, d, "retry_text"))));
    }
    if (type === "menu" || type === "question") {
      add(group(T.max_tries, numberInput(d.max_tries, 1, 10, setter(id, d, "max_tries"))));
    }
    if (type === "condition") { conditionFields(id, d); }
    if (type === "tag") {
      add(group(T.tag, selectInput(DATA.tags, d.tag_id, true, setter(id, d, "tag_id"), true)));
    }
    if (type === "transfer") {
      add(group(T.department, selectInput(DATA.departments, d.department_id, true, setter(id, d, "department_id"), true)));
      add(group(T.agent, selectInput(DATA.agents, d.agent_id, true, setter(id, d, "agent_id"), true)));
      add(group(T.transfer_text, textInput(d.text, true, setter(id, d, "text")), textHelp));
    }
    if (type === "http") {
      add(group(T.integration, selectInput(DATA.integrations || [], d.integration, true, setter(id, d, "integration")), T.integration_help));
      add(group(T.method, selectInput(METHODS, d.method || "GET", false, setter(id, d, "method"))));
      add(group(T.url, textInput(d.url, false, setter(id, d, "url"))));
      add(group(T.body, textInput(d.body, true, setter(id, d, "body"))));
      add(group(T.map, textInput(mapToLines(d.map), true, function (v) { d.map = linesToMap(v); changed(id); })));
    }
    if (type === "wait") {
      add(group(T.minutes, numberInput(d.minutes, 1, 10080, setter(id, d, "minutes"))));
    }
    if (type === "end") {
      add(group(T.end_text, textInput(d.text, true, setter(id, d, "text")), textHelp));
      add(group(T.close, checkInput(d.close, setter(id, d, "close"))));
    }
  }

  function menuOptions(id, d) {
    var box = el("div", {className: "form-group"});
    box.appendChild(el("label", {}, T.options));
    if (!Array.isArray(d.options)) { d.options = []; }
    d.options.forEach(function (text, i) {
      var row = el("div", {className: "flow-option-row"});
      var input = textInput(text, false, function (v) { d.options[i] = v; changed(id); });
      input.setAttribute("data-testid", "flow-option");
      row.appendChild(input);
      var remove = el("button", {type: "button", className: "btn btn-outline-danger btn-sm"}, "×");
      remove.title = T.remove;
      remove.disabled = !canEdit || d.options.length <= 1;
      remove.addEventListener("click", function () {
        var old = d.options.length + 1, order = [];
        for (var k = 0; k < old; k++) { if (k !== i) { order.push(k); } }
        d.options.splice(i, 1);
        reshape(id, old, order);
        changed(id);
        showPanel(id);
      });
      row.appendChild(remove);
      box.appendChild(row);
    });
    var more = el("button", {type: "button", className: "btn btn-outline-secondary btn-sm",
                             "data-testid": "flow-add-option"}, T.add_option);
    more.disabled = !canEdit || d.options.length >= 10;
    more.addEventListener("click", function () {
      var n = d.options.length, order = [];
      for (var k = 0; k < n; k++) { order.push(k); }
      order.push(-1, n);  // the new option, then "fail" (was output n+1)
      d.options.push(fill(T.option, {n: n + 1}));
      reshape(id, n + 1, order);
      changed(id);
      showPanel(id);
    });
    box.appendChild(more);
    panel.appendChild(box);
  }

  function conditionFields(id, d) {
    if (!d.condition || typeof d.condition !== "object") { d.condition = {type: "message_contains"}; }
    var c = d.condition;
    var params = el("div");
    panel.appendChild(group(T.condition_type, selectInput(DATA.condition_types, c.type, false, function (v) {
      d.condition = {type: v};
      changed(id);
      showPanel(id);
    })));
    panel.appendChild(params);
    var add = function (node) { params.appendChild(node); };
    var set = function (key) { return setter(id, c, key); };
    switch (c.type) {
      case "period":
        if (c.inside === undefined) { c.inside = true; }
        add(group(T.period, selectInput(DATA.periods, c.period_id, true, set("period_id"), true)));
        add(group(T.inside, checkInput(c.inside, set("inside"))));
        break;
      case "channel":
        add(group(T.channel, selectInput(DATA.channels, c.kind, true, set("kind"))));
        break;
      case "connection":
        add(group(T.connection, selectInput(DATA.connections, c.connection_id, true, set("connection_id"), true)));
        break;
      case "department":
        add(group(T.department, selectInput(DATA.departments, c.department_id, true, set("department_id"), true)));
        break;
      case "tag":
        if (c.has === undefined) { c.has = true; }
        add(group(T.tag, selectInput(DATA.tags, c.tag_id, true, set("tag_id"), true)));
        add(group(T.has_tag, checkInput(c.has, set("has"))));
        break;
      case "contact_field":
        add(group(T.contact_field, selectInput(DATA.contact_fields, c.field, true, set("field"))));
        add(group(T.operator, selectInput(DATA.operators, c.op || "equals", false, set("op"))));
        add(group(T.value, textInput(c.value, false, set("value"))));
        break;
      case "message_contains":
        add(group(T.searched_text, textInput(c.text, false, set("text"))));
        break;
      case "variable":
        add(group(T.variable_name, textInput(c.name, false, set("name"))));
        add(group(T.operator, selectInput(DATA.operators, c.op || "equals", false, set("op"))));
        add(group(T.value, textInput(c.value, false, set("value"))));
        break;
    }
  }

  // -- palette ------------------------------------------------------------------------------
  var palette = document.getElementById("flow-palette-buttons");
  // the first place of a grid over the visible canvas where no node is drawn yet
  function freeSpot() {
    var w = container.clientWidth || 800, h = container.clientHeight || 600;
    var cols = Math.max(1, Math.floor((w - 40) / 240)), rows = Math.max(1, Math.floor((h - 40) / 120));
    var boxes = Object.keys(model).map(function (id) {
      var n = dfNode(id);
      return n ? {x: n.pos_x, y: n.pos_y} : null;
    }).filter(Boolean);
    for (var spot = 0; spot < cols * rows; spot++) {
      var x = 40 + (spot % cols) * 240 - editor.canvas_x, y = 30 + Math.floor(spot / cols) * 120 - editor.canvas_y;
      var free = boxes.every(function (b) { return Math.abs(b.x - x) >= 220 || Math.abs(b.y - y) >= 100; });
      if (free) { return {x: x, y: y}; }
    }
    return {x: 40 - editor.canvas_x, y: 30 - editor.canvas_y};
  }
  if (canEdit) {
    // the order of spec.NODE_TYPES (a JSON object's keys arrive sorted)
    (DATA.type_order || Object.keys(SPEC.types)).forEach(function (type) {
      if (type === "start" || !SPEC.types[type]) { return; }
      var button = el("button", {type: "button", className: "btn btn-outline-dark btn-sm",
                                 "data-node-type": type, "data-testid": "flow-add-" + type},
                      typeLabel(type));
      button.addEventListener("click", function () {
        var spot = freeSpot();
        var id = addNode(type, defaults(type), spot.x, spot.y);
        selected = id;
        showPanel(id);
      });
      palette.appendChild(button);
    });
  }

  // -- save and publish -------------------------------------------------------------------
  var alertBox = document.getElementById("flow-alert");
  function showAlert(kind, title, reasons) {
    alertBox.hidden = false;
    alertBox.className = "alert alert-" + kind;
    document.getElementById("flow-alert-title").textContent = title;
    var list = document.getElementById("flow-alert-reasons");
    list.textContent = "";
    (reasons || []).forEach(function (r) { list.appendChild(el("li", {}, r)); });
  }
  function call(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": CSRF},
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        return {ok: resp.ok, status: resp.status, data: data};
      });
    });
  }
  function send(url, button) {
    button.disabled = true;
    return call(url, {graph: graph()}).then(function (r) {
      if (r.ok) {
        showAlert("success", r.data.message || T.saved, []);
        if (r.data.version) {
          document.getElementById("flow-version").textContent = fill(T.published, {n: r.data.version});
        }
      } else {
        showAlert("danger", r.data.error || T.failed, r.data.reasons || []);
      }
    }).catch(function () {
      showAlert("danger", T.failed, []);
    }).then(function () { button.disabled = false; });
  }
  var saveButton = document.getElementById("flow-save");
  var publishButton = document.getElementById("flow-publish");
  if (saveButton) { saveButton.addEventListener("click", function () { send(DATA.urls.save, saveButton); }); }
  if (publishButton) { publishButton.addEventListener("click", function () { send(DATA.urls.publish, publishButton); }); }

  // -- test pane ---------------------------------------------------------------------------
  var log = document.getElementById("flow-test-log");
  var outcomeBox = document.getElementById("flow-test-outcome");
  var form = document.getElementById("flow-test-form");
  var textBox = document.getElementById("flow-test-text");
  var state = null, finished = false, busy = false;

  function say(kind, text) {
    var line = el("div", {className: "msg " + kind, "data-kind": kind}, text);
    log.appendChild(line);
    log.scrollTop = log.scrollHeight;
  }
  function outcomeText(outcome) {
    if (!outcome) { return ""; }
    var o = String(outcome);
    if (o === "end" || o.indexOf("end") === 0) { return T.outcome_end; }
    if (o.indexOf("transfer") === 0) {
      var name = o.indexOf(":") >= 0 ? o.slice(o.indexOf(":") + 1).trim() : "";
      return name ? fill(T.outcome_transfer, {n: name}) : T.outcome_handover;
    }
    if (o.indexOf("handover") === 0 || o.indexOf("queue") === 0) { return T.outcome_handover; }
    return o;
  }
  function restart() {
    state = null; finished = false;
    log.textContent = "";
    outcomeBox.textContent = "";
    textBox.disabled = false;
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy || finished) { return; }
    var text = textBox.value;
    if (!text.trim() && state !== null) { return; }
    busy = true;
    if (text) { say("customer", text); }
    textBox.value = "";
    call(DATA.urls.simulate, {graph: graph(), state: state, text: text}).then(function (r) {
      if (!r.ok) {
        say("system", r.data.error || T.failed);
        (r.data.reasons || []).forEach(function (reason) { say("system", reason); });
        return;
      }
      (r.data.replies || []).forEach(function (reply) {
        say(reply.kind === "system" ? "system" : "bot", reply.text);
      });
      state = r.data.state === undefined ? null : r.data.state;
      if (r.data.outcome) { outcomeBox.textContent = fill(T.outcome, {o: outcomeText(r.data.outcome)}); }
      if (r.data.finished) { finished = true; textBox.disabled = true; }
    }).catch(function () {
      say("system", T.failed);
    }).then(function () { busy = false; });
  });
  document.getElementById("flow-test-restart").addEventListener("click", restart);
  document.getElementById("flow-test").addEventListener("click", function () {
    document.getElementById("flow-test-pane").scrollIntoView({block: "nearest"});
    textBox.focus();
  });

  load(DATA.graph);
  root.setAttribute("data-ready", "1");
})();
