// Draws every chart on the page from its <script type="application/json" data-chart=ID> block.
// Money arrives as decimal strings; Chart.js needs numbers only for drawing. The payload's
// "unit" ("$" or "%") formats the value axis, the tooltips and the doughnut legend; a word
// unit ("tenants") only names the value axis when "y_title" does not; "x_title" names the other.
(function () {
  "use strict";
  var palette = ["#2457c5", "#e07b39", "#3a9d5d", "#b54708", "#7a5af8", "#c11574", "#0e9384", "#667085"];
  function num(v) { return v === null || v === undefined ? null : Number(v); }
  function format(value, unit, tick) {
    if (value === null || value === undefined) { return "n/a"; }
    var n = Number(value);
    if (unit === "$") {
      var digits = tick ? { maximumFractionDigits: 2 } : { minimumFractionDigits: 2, maximumFractionDigits: 2 };
      return (n < 0 ? "−$" : "$") + Math.abs(n).toLocaleString("en-US", digits);
    }
    var text = n.toLocaleString("en-US", { maximumFractionDigits: 2 });
    return unit === "%" ? text + "%" : text;  // a word unit ("tenants") names the axis instead
  }
  function draw(block) {
    var spec = JSON.parse(block.textContent);
    var canvas = document.getElementById(block.getAttribute("data-chart"));
    if (!canvas || typeof Chart === "undefined") { return; }
    var unit = spec.unit || "";
    var datasets;
    if (spec.type === "doughnut") {
      datasets = [{ label: spec.label, data: spec.values.map(num), backgroundColor: palette }];
    } else {
      datasets = spec.datasets.map(function (d, i) {
        return { label: d.label, data: d.values.map(num), backgroundColor: palette[i % palette.length],
                 borderColor: palette[i % palette.length], fill: false, tension: 0.2 };
      });
    }
    var tooltip = { callbacks: { label: function (ctx) {
      var name = spec.type === "doughnut" ? ctx.label : ctx.dataset.label;
      return name + ": " + format(ctx.parsed === null ? null : (spec.type === "doughnut" ? ctx.parsed : ctx.parsed.y), unit, false);
    } } };
    var legend = { position: "bottom" };
    if (spec.type === "doughnut") {
      // Each slice's legend entry carries its amount, so the chart reads without hovering.
      legend.labels = { generateLabels: function (chart) {
        var items = Chart.overrides.doughnut.plugins.legend.labels.generateLabels(chart);
        items.forEach(function (item) { item.text = item.text + " " + format(spec.values[item.index], unit, false); });
        return items;
      } };
    }
    var options = { responsive: true, maintainAspectRatio: false, animation: false,
                    plugins: { legend: legend, tooltip: tooltip } };
    if (spec.type !== "doughnut") {
      options.scales = {
        x: { stacked: !!spec.stacked, title: { display: !!spec.x_title, text: spec.x_title || "" } },
        y: { stacked: !!spec.stacked, beginAtZero: true,
             title: { display: !!(spec.y_title || (unit.length > 1)), text: spec.y_title || unit },
             ticks: { callback: function (value) { return format(value, unit, true); } } }
      };
    }
    canvas.chart = new Chart(canvas, { type: spec.type, data: { labels: spec.labels, datasets: datasets }, options: options });
  }
  document.querySelectorAll("script[data-chart]").forEach(draw);
})();
