/* Article suggestions as the customer types (ART-1), for every [data-help-suggest] box
 * made by templates/help/_suggest.html: the portal's Novo contato and the website widget.
 *
 * - Debounced: one request 400 ms after the last key, only for 3 characters or more, and
 *   an answer that arrives after a newer request was sent is dropped. Text already in the
 *   field when the script starts is looked up too.
 * - Everything from the server goes into the page with textContent (never innerHTML);
 *   links are followed only when they are of this site (relative or same origin).
 * - "Isso resolveu?": Sim / Não posts {article, solved} once per click, then thanks.
 */
(function () {
  "use strict";

  var DELAY = 400;
  var MIN_CHARS = 3;

  function sameSite(url) {
    try { return new URL(url, window.location.href).origin === window.location.origin; }
    catch (e) { return false; }
  }

  function setup(box) {
    if (box.getAttribute("data-ready")) { return; }
    box.setAttribute("data-ready", "1");
    var target = document.getElementById(box.getAttribute("data-target"));
    if (!target) { return; }
    var label = function (name) { return box.getAttribute("data-label-" + name) || ""; };
    var timer = null;
    var asked = 0;
    var last = "";

    function post(articleId, solved, row) {
      var headers = { "Content-Type": "application/json", "Accept": "application/json" };
      var token = box.getAttribute("data-csrf");
      if (token) { headers["X-CSRFToken"] = token; }
      row.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      fetch(box.getAttribute("data-feedback-url"), {
        method: "POST", headers: headers, credentials: "same-origin",
        body: JSON.stringify({ article: articleId, solved: solved })
      }).then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        while (row.firstChild) { row.removeChild(row.firstChild); }
        var thanks = document.createElement("span");
        thanks.className = "help-suggest-thanks";
        thanks.textContent = label("thanks");
        row.appendChild(thanks);
      }).catch(function () {
        row.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      });
    }

    function item(a) {
      var li = document.createElement("li");
      li.className = "help-suggest-item";
      var link = document.createElement("a");
      link.textContent = a.title || "";
      if (typeof a.url === "string" && sameSite(a.url)) { link.href = a.url; }
      link.target = "_blank";
      link.rel = "noopener";
      li.appendChild(link);
      if (a.summary) {
        var p = document.createElement("div");
        p.className = "help-suggest-summary";
        p.textContent = a.summary;
        li.appendChild(p);
      }
      var row = document.createElement("div");
      row.className = "help-suggest-ask";
      row.appendChild(document.createTextNode(label("ask")));
      [[true, "yes"], [false, "no"]].forEach(function (choice) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = label(choice[1]);
        b.setAttribute("data-solved", choice[0] ? "sim" : "nao");
        b.addEventListener("click", function () { post(a.id, choice[0], row); });
        row.appendChild(b);
      });
      li.appendChild(row);
      return li;
    }

    function show(list) {
      while (box.firstChild) { box.removeChild(box.firstChild); }
      if (!list || !list.length) { box.hidden = true; return; }
      var title = document.createElement("div");
      title.className = "help-suggest-title";
      title.textContent = label("title");
      var ul = document.createElement("ul");
      ul.className = "help-suggest-list";
      list.forEach(function (a) { ul.appendChild(item(a)); });
      box.appendChild(title);
      box.appendChild(ul);
      box.hidden = false;
    }

    function ask() {
      var text = (target.value || "").slice(-200);
      if (text.trim().length < MIN_CHARS) { show([]); last = ""; return; }
      if (text === last) { return; }
      last = text;
      var mine = ++asked;
      var url = box.getAttribute("data-suggest-url");
      url += (url.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(text);
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { articles: [] }; })
        .then(function (body) { if (mine === asked) { show(body.articles || []); } })
        .catch(function () { /* suggestions are a help, never an error for the customer */ });
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY);
    }
    target.addEventListener("input", later);
    // This script is deferred: a customer quick to type (or a form the browser restored)
    // may have text in the field before it runs, and no keystroke may follow.
    if ((target.value || "").trim()) { later(); }
  }

  function init() {
    document.querySelectorAll("[data-help-suggest]").forEach(setup);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
