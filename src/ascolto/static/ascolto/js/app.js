/* Ascolto shell behaviour: small, progressive. Every page works without it. */
(function () {
  "use strict";

  function liveRegion() {
    return document.getElementById("live-region");
  }

  function announce(html, isText) {
    var region = liveRegion();
    if (!region) return;
    if (isText) {
      region.textContent = html;
    } else {
      region.innerHTML = html;
    }
    region.hidden = false;
  }

  // "/" jumps to the page's search field, as in most consoles.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) {
      return;
    }
    var search = document.querySelector("[data-search-field]");
    if (search) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });

  // Forms that return to "this page" go back to the address htmx last pushed, with its filters.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-keep-location")) return;
    var next = form.querySelector("input[name=next]");
    if (next) next.value = window.location.pathname + window.location.search;
  });

  // Results that are being refreshed say so to assistive technology.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target) target.setAttribute("aria-busy", "true");
    var region = liveRegion();
    if (region) region.hidden = true;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target;
    if (target) target.removeAttribute("aria-busy");
  });

  // A refused request shows the server's explanation; anything else a generic message.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    // bad_request() answers htmx with a short fragment; other errors are whole pages.
    if (xhr && xhr.status === 400 && xhr.responseText.length < 4000) {
      announce(xhr.responseText, false);
    } else {
      announce(document.body.getAttribute("data-error-generic") || "Error", true);
    }
  });
  document.addEventListener("htmx:sendError", function () {
    announce(document.body.getAttribute("data-error-offline") || "Offline", true);
  });
})();
