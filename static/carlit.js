// carlit's own script. The pages work without it; htmx (served locally by django-htmx)
// swaps the catalogue's results, and this file only smooths the edges.
(function () {
  "use strict";

  // Leave empty fields out of catalogue requests, so the pushed URL holds only the
  // filters in use (a form submitted without JavaScript sends them all).
  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.formData;
    if (!form) { return; }
    Array.from(new Set(form.keys())).forEach(function (name) {
      var values = form.getAll(name).filter(function (value) { return value !== ""; });
      form.delete(name);
      values.forEach(function (value) { form.append(name, value); });
    });
  });

  // After htmx swaps the catalogue, tell screen-reader users the new result count
  // (the heading has role=status) and keep keyboard focus out of removed elements.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "catalogue-body") {
      var active = document.activeElement;
      if (!active || active === document.body) {
        var heading = document.getElementById("results-title");
        if (heading) { heading.setAttribute("tabindex", "-1"); }
      }
    }
  });

  // Keep the search box in step with the URL after the back button restores a page.
  window.addEventListener("popstate", function () {
    var box = document.getElementById("q");
    if (box) { box.value = new URLSearchParams(window.location.search).get("q") || ""; }
  });
})();
