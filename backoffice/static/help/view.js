/* ART-1: count one reader of the article shown (a POST: opening a page never writes). */
(function () {
  "use strict";
  var article = document.querySelector("article[data-view-url]");
  if (!article || !window.fetch) { return; }
  fetch(article.getAttribute("data-view-url"), {
    method: "POST", credentials: "same-origin",
    headers: {"X-CSRFToken": article.getAttribute("data-csrf")}
  }).catch(function () { /* a lost count is no error for the reader */ });
})();
