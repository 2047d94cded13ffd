/* Atende webchat loader (CHN-5). On any site:
 *
 *   <script src="https://HOST/widget.js" data-key="PUBLIC_KEY" async></script>
 *
 * Draws a round chat bubble (#atende-bubble) at the bottom right and, on click, shows
 * the chat in an iframe (#atende-frame) served by HOST: the site's CSS cannot break it
 * and the site's scripts cannot read the conversation (another origin). The frame loads
 * hidden with the page so agents' answers arrive (and are counted on the bubble) while
 * the chat is closed; the bubble appears once the frame says it is ready, so an unknown
 * key or a switched-off chat draws nothing. No dependency.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[data-key][src*="widget.js"]');
  if (!script || window.__atendeWidget) { return; }
  var key = script.getAttribute("data-key");
  if (!key) {
    if (window.console) { console.warn("Atende: falta o atributo data-key na tag <script> do chat."); }
    return;
  }
  window.__atendeWidget = true;
  var origin = new URL(script.src, window.location.href).origin;
  var frameUrl = origin + "/widget/" + encodeURIComponent(key) + "/";

  // Every declaration !important and scoped by id: the host page's own CSS (even its
  // `button{...!important}`) must not restyle or reveal the widget.
  var RULES = {
    "#atende-bubble": "all:initial;position:fixed;right:20px;bottom:20px;width:56px;height:56px;" +
      "border-radius:50%;background:var(--atende-color,#3c8dbc);color:#fff;cursor:pointer;" +
      "z-index:2147483000;box-shadow:0 4px 12px rgba(0,0,0,.25);display:none;" +
      "align-items:center;justify-content:center;transition:transform .15s ease;margin:0;" +
      "padding:0;border:0",
    "#atende-bubble.atende-ready": "display:flex",
    "#atende-bubble:hover": "transform:scale(1.06)",
    "#atende-bubble:focus-visible": "outline:3px solid #fff;outline-offset:-6px",
    "#atende-bubble svg": "width:28px;height:28px;fill:currentColor;pointer-events:none;display:block",
    "#atende-badge": "all:initial;position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;" +
      "padding:0 5px;box-sizing:border-box;border-radius:10px;background:#d93025;color:#fff;" +
      "font:bold 12px/20px system-ui,sans-serif;text-align:center;display:none",
    "#atende-badge.atende-unread": "display:block",
    "#atende-frame": "position:fixed;right:20px;bottom:88px;width:370px;height:560px;" +
      "max-width:calc(100vw - 40px);max-height:calc(100vh - 108px);border:0;border-radius:12px;" +
      "box-shadow:0 8px 28px rgba(0,0,0,.28);z-index:2147483000;background:#fff;display:none;" +
      "margin:0;padding:0",
    "#atende-frame.atende-open": "display:block"
  };
  var CSS = Object.keys(RULES).map(function (selector) {
    return selector + "{" + RULES[selector].split(";").map(function (d) {
      return d + "!important";
    }).join(";") + "}";
  }).join("") +
    // A phone gets the chat full-screen, and the bubble steps aside while it is open:
    // drawn over the frame it would sit on the chat's own send button (UX-2). The frame's
    // own × closes it there.
    "@media (max-width:480px){#atende-frame{right:0!important;bottom:0!important;" +
    "width:100vw!important;height:100vh!important;height:100dvh!important;" +
    "max-width:100vw!important;max-height:100vh!important;max-height:100dvh!important;" +
    "border-radius:0!important}" +
    "#atende-bubble.atende-ready.atende-chat-open{display:none!important}}";
  var ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3C6.5 3 2 6.9 2 11.7c0 ' +
    '2.4 1.1 4.6 3 6.2L4.2 21.5l4.3-1.9c1.1.3 2.3.5 3.5.5 5.5 0 10-3.9 10-8.7S17.5 3 12 3z"/></svg>';

  function setup() {
    var style = document.createElement("style");
    style.textContent = CSS;
    document.head.appendChild(style);

    var frame = document.createElement("iframe");
    frame.id = "atende-frame";
    frame.title = "Chat";
    frame.src = frameUrl;
    frame.setAttribute("allow", "clipboard-write");

    var bubble = document.createElement("button");
    bubble.id = "atende-bubble";
    bubble.type = "button";
    bubble.setAttribute("aria-label", "Abrir chat");
    bubble.setAttribute("aria-expanded", "false");
    bubble.innerHTML = ICON;   // a constant: nothing from the server or the page
    var badge = document.createElement("span");
    badge.id = "atende-badge";
    bubble.appendChild(badge);

    // Whether the chat was open, so it stays open from page to page of the site. Kept in
    // the site's own storage: a flag, nothing of the conversation.
    var OPEN_KEY = "atende:open:" + key;
    function remembered() {
      try { return window.localStorage.getItem(OPEN_KEY) === "1"; } catch (e) { return false; }
    }
    function remember(open) {
      try { window.localStorage.setItem(OPEN_KEY, open ? "1" : "0"); } catch (e) { /* ignore */ }
    }

    var isOpen = false;
    function tell(message) {
      if (frame.contentWindow) { frame.contentWindow.postMessage(message, origin); }
    }
    function setOpen(open) {
      isOpen = open;
      frame.className = open ? "atende-open" : "";
      bubble.classList.toggle("atende-chat-open", open);
      bubble.setAttribute("aria-expanded", open ? "true" : "false");
      tell({ atende: open ? "open" : "closed" });
      remember(open);
      if (open) { badge.className = ""; }
    }
    bubble.addEventListener("click", function () { setOpen(!isOpen); });

    window.addEventListener("message", function (ev) {
      if (ev.origin !== origin || ev.source !== frame.contentWindow) { return; }
      var msg = ev.data;
      if (!msg || typeof msg !== "object") { return; }
      if (msg.atende === "ready") {
        if (typeof msg.color === "string" && /^#[0-9a-fA-F]{6}$/.test(msg.color)) {
          bubble.style.setProperty("--atende-color", msg.color);
        }
        if (typeof msg.title === "string") {
          bubble.title = msg.title;
          frame.title = msg.title;
        }
        bubble.classList.add("atende-ready");
        setOpen(remembered());
      } else if (msg.atende === "close") {
        setOpen(false);
      } else if (msg.atende === "unread") {
        var count = Math.max(0, parseInt(msg.count, 10) || 0);
        badge.textContent = count > 99 ? "99+" : String(count);
        badge.className = count && !isOpen ? "atende-unread" : "";
      } else if (msg.atende === "unavailable") {
        if (window.console) {
          console.warn("Atende: chat indisponível (chave inexistente ou conexão inativa): " + key);
        }
        frame.remove();
        bubble.remove();
      }
    });

    document.body.appendChild(frame);
    document.body.appendChild(bubble);
  }

  if (document.body) { setup(); } else { document.addEventListener("DOMContentLoaded", setup); }
})();
