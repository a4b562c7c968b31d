// Overdue web pages: charts from embedded JSON (no inline scripts: CSP), keyboard shortcuts.
(function () {
  "use strict";

  function drawCharts() {
    if (typeof Plotly === "undefined") { return; }
    document.querySelectorAll("script.chart-data").forEach(function (node) {
      var target = document.getElementById(node.dataset.target);
      if (!target) { return; }
      var fig = JSON.parse(node.textContent);
      Plotly.newPlot(target, fig.data, fig.layout, { displayModeBar: false, responsive: true });
    });
  }

  function typing(event) {
    var el = event.target;
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  function queueKeys(event) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-href]"));
    if (!rows.length) { return false; }
    var current = rows.findIndex(function (r) { return r.classList.contains("selected"); });
    if (event.key === "j" || event.key === "k") {
      var next = current < 0 ? 0 : current + (event.key === "j" ? 1 : -1);
      next = Math.max(0, Math.min(rows.length - 1, next));
      rows.forEach(function (r) { r.classList.remove("selected"); });
      rows[next].classList.add("selected");
      rows[next].scrollIntoView({ block: "nearest" });
      return true;
    }
    if ((event.key === "Enter" || event.key === "o") && current >= 0) {
      window.location.href = rows[current].dataset.href;
      return true;
    }
    return false;
  }

  var CASE_KEYS = { p: "promise_amount", n: "note_body", c: "outcome_channel", t: "transfer_reason" };

  function caseKeys(event) {
    var id = CASE_KEYS[event.key];
    if (id && document.getElementById(id)) {
      document.getElementById(id).focus();
      return true;
    }
    if (event.key === "u" && document.body.dataset.back) {
      window.location.href = document.body.dataset.back;
      return true;
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "?") {
      var help = document.getElementById("shortcuts");
      if (help) { help.hidden = !help.hidden; event.preventDefault(); }
      return;
    }
    var page = document.body.dataset.page;
    var handled = page === "queue" ? queueKeys(event) : page === "case" ? caseKeys(event) : false;
    if (handled) { event.preventDefault(); }
  });

  document.querySelectorAll("tr[data-href]").forEach(function (row) {
    row.addEventListener("click", function () { window.location.href = row.dataset.href; });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawCharts);
  } else {
    drawCharts();
  }
})();
