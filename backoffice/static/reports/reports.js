/* REP-1: draws each Relatórios section's chart from the JSON the page carries (labels and
   values come from the server; nothing is written as HTML). A click on a bar (or a slice)
   opens the tickets behind it: each point carries its drill-down link. */
(function () {
  "use strict";
  var source = document.getElementById("report-charts");
  if (!source || !window.Chart) { return; }
  var charts = JSON.parse(source.textContent || "[]");
  var COLORS = ["#3c8dbc", "#00a65a", "#f39c12", "#dd4b39", "#605ca8", "#39cccc"];

  charts.forEach(function (spec) {
    var canvas = document.querySelector('canvas[data-chart="' + spec.name + '"]');
    if (!canvas || !spec.labels.length) { return; }
    var doughnut = spec.type === "doughnut";
    var chart = new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (d, i) {
          return {
            label: d.label,
            data: d.data,
            backgroundColor: doughnut ? [COLORS[1], COLORS[3]] : COLORS[i % COLORS.length]
          };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: doughnut ? {} : {y: {beginAtZero: true, ticks: spec.integer ? {precision: 0} : {}}},
        onHover: function (event, elements) {
          var link = elements.length && linkOf(elements[0]);
          event.native.target.style.cursor = link ? "pointer" : "default";
        },
        onClick: function (_event, elements) {
          var link = elements.length && linkOf(elements[0]);
          if (link) { window.location.href = link; }
        }
      }
    });
    function linkOf(element) {
      var dataset = spec.datasets[element.datasetIndex];
      return dataset && dataset.links ? dataset.links[element.index] : null;
    }
    canvas.reportChart = chart;
  });
})();
