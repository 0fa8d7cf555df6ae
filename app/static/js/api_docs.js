// The API's interactive documentation: Swagger UI (vendored) over /api/v1/openapi.json.
// A file, not an inline script, so the page keeps the site's Content-Security-Policy.
(function () {
  var node = document.getElementById("swagger-ui");
  if (!node || !window.SwaggerUIBundle) { return; }
  window.SwaggerUIBundle({
    url: node.getAttribute("data-spec-url"),
    domNode: node,
    deepLinking: true,
    tryItOutEnabled: false,
    validatorUrl: null  // never call swagger.io's validator
  });
})();
