// Ampel cockpit: small progressive enhancements; every page works without
// this script.
(function () {
  "use strict";
  // Ask before marking a group "not a duplicate": it keeps its records
  // apart from then on.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (!f.classList || !f.classList.contains("review")) return;
    var sel = f.querySelector("select[name=mark]");
    if (sel && sel.value === "not_a_duplicate" && f.dataset.confirm !== "no") {
      var msg = document.documentElement.lang === "de"
        ? "Als keine Dublette markieren? Die Datensätze werden danach nicht mehr gruppiert."
        : "Mark as not a duplicate? The records are not grouped together again.";
      if (!window.confirm(msg)) ev.preventDefault();
    }
  });
  // Filters: a changed select applies at once.
  document.querySelectorAll("form.filters select").forEach(function (s) {
    s.addEventListener("change", function () { s.form.requestSubmit(); });
  });
  // Focus the saved notice so screen readers hear it.
  var saved = document.getElementById("saved");
  if (saved) { saved.setAttribute("tabindex", "-1"); saved.focus(); }
})();
