/* Atende webchat: the key is unknown or the chat was switched off. Tell the loader
   (widget.js) so it draws no bubble; the message carries nothing private. */
(function () {
  "use strict";
  if (window.parent && window.parent !== window) {
    window.parent.postMessage({ atende: "unavailable" }, "*");
  }
})();
