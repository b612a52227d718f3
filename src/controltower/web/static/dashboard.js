// Renders every chart on the page: each <figure data-chart="ID"> has its figure
// (plotly data and layout) in <script type="application/json" id="ID">.
(function () {
  "use strict";
  document.querySelectorAll("[data-chart]").forEach(function (holder) {
    var source = document.getElementById(holder.dataset.chart);
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    var target = holder.querySelector(".chart");
    var layout = Object.assign({
      margin: { l: 50, r: 20, t: 10, b: 40 },
      height: 260,
      font: { family: "system-ui, sans-serif", size: 12 },
      legend: { orientation: "h" }
    }, figure.layout || {});
    Plotly.newPlot(target, figure.data, layout, { displaylogo: false, responsive: true });
  });
})();
