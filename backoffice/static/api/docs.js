// Swagger UI of /api/docs, fed by this installation's OpenAPI document (no CDN).
(function () {
  var target = document.getElementById("swagger");
  if (!target || typeof SwaggerUIBundle === "undefined") { return; }
  SwaggerUIBundle({
    url: target.getAttribute("data-spec-url"),
    dom_id: "#swagger",
    deepLinking: true,
    persistAuthorization: false,
    tryItOutEnabled: false
  });
})();
