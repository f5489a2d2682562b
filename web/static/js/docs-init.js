// Starts the vendored Swagger UI on /docs (an inline script would break the CSP).
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const SAFE = ["GET", "HEAD", "OPTIONS"];
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
    // Validation would send the document to validator.swagger.io: nothing leaves the site.
    validatorUrl: null,
    // Signed in through /login, the session cookie authenticates "Try it out"; a change
    // needs the session's CSRF token (a bearer token entered in "Authorize" needs none).
    requestInterceptor: (request) => {
      if (csrf && !SAFE.includes((request.method || "GET").toUpperCase())) {
        request.headers["X-CSRF-Token"] = csrf;
      }
      return request;
    },
  });
})();
