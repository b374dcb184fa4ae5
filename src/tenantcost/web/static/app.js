// Draws every chart on the page from its <script type="application/json" data-chart=ID> block.
// Money arrives as decimal strings; Chart.js needs numbers only for drawing.
(function () {
  "use strict";
  var palette = ["#2457c5", "#e07b39", "#3a9d5d", "#b54708", "#7a5af8", "#c11574", "#0e9384", "#667085"];
  function num(v) { return v === null || v === undefined ? null : Number(v); }
  function draw(block) {
    var spec = JSON.parse(block.textContent);
    var canvas = document.getElementById(block.getAttribute("data-chart"));
    if (!canvas || typeof Chart === "undefined") { return; }
    var datasets;
    if (spec.type === "doughnut") {
      datasets = [{ label: spec.label, data: spec.values.map(num), backgroundColor: palette }];
    } else {
      datasets = spec.datasets.map(function (d, i) {
        return { label: d.label, data: d.values.map(num), backgroundColor: palette[i % palette.length],
                 borderColor: palette[i % palette.length], fill: false, tension: 0.2 };
      });
    }
    var options = { responsive: true, maintainAspectRatio: false, animation: false,
                    plugins: { legend: { position: "bottom" } } };
    if (spec.type !== "doughnut") {
      options.scales = { x: { stacked: !!spec.stacked }, y: { stacked: !!spec.stacked, beginAtZero: true } };
    }
    canvas.chart = new Chart(canvas, { type: spec.type, data: { labels: spec.labels, datasets: datasets }, options: options });
  }
  document.querySelectorAll("script[data-chart]").forEach(draw);
})();
