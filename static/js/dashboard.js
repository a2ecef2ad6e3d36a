/* The dashboard's charts, drawn with the vendored Chart.js from the JSON blob
 * #dashboard-charts (built by incidents/views/dashboard.py). Each dataset
 * carries a `links` list parallel to its data: clicking a bar, slice or point
 * opens the incidents behind it. The same numbers, with the same links, are
 * in each chart's "Show the numbers" table, for keyboards and screen readers.
 * No inline code or styles: the CSP allows only this file and Chart.js. */
(function () {
  "use strict";

  var blob = document.getElementById("dashboard-charts");
  if (!blob || typeof window.Chart === "undefined") return;
  var specs = JSON.parse(blob.textContent);
  var Chart = window.Chart;

  var style = getComputedStyle(document.body);
  Chart.defaults.font.family = style.fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = "#4a5360";
  Chart.defaults.borderColor = "#e6e9ed";
  if (window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
    Chart.defaults.animation = false;
  }

  function rgba(hex, alpha) {
    var value = parseInt(hex.slice(1), 16);
    return "rgba(" + ((value >> 16) & 255) + "," + ((value >> 8) & 255) + "," + (value & 255) + "," + alpha + ")";
  }

  function hours(value) {
    if (value === null || value === undefined) return "no data";
    if (value < 1) return Math.round(value * 60) + " min";
    if (value < 48) return (Math.round(value * 10) / 10) + " h";
    return (Math.round(value / 2.4) / 10) + " d";
  }

  function formatValue(spec, value) {
    if (spec.unit === "hours") return hours(value);
    return value + " " + (value === 1 ? spec.unit.replace(/s$/, "") : spec.unit);
  }

  function dataset(spec, ds) {
    var line = spec.type === "line";
    var round = spec.type === "doughnut";
    var color = ds.color || "#1f5fbf";
    return {
      label: ds.label,
      data: ds.data,
      links: ds.links || [],
      backgroundColor: ds.colors ? ds.colors : line ? rgba(color, 0.12) : color,
      borderColor: round ? "#ffffff" : color,
      borderWidth: round ? 2 : line ? 2.5 : 0,
      borderRadius: line || round ? 0 : 3,
      hoverOffset: round ? 6 : 0,
      fill: line && ds.fill ? "origin" : false,
      tension: 0.25,
      pointRadius: line ? 4 : 0,
      pointHoverRadius: line ? 7 : 0,
      pointBackgroundColor: color,
      maxBarThickness: 48,
    };
  }

  function options(spec, width) {
    var round = spec.type === "doughnut";
    var horizontal = !!spec.horizontal;
    var valueAxis = {
      beginAtZero: true,
      stacked: !!spec.stacked,
      grid: { color: "#eef0f3" },
      ticks: spec.unit === "hours" ? { callback: function (v) { return hours(v); } } : { precision: 0 },
    };
    var categoryAxis = { stacked: !!spec.stacked, grid: { display: false } };
    var opts = {
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: horizontal ? "y" : "x",
      interaction: { mode: "nearest", intersect: true },
      plugins: {
        legend: {
          display: round || spec.datasets.length > 1,
          // A doughnut's legend sits beside it when there is room, below it when not.
          position: round && width >= 460 ? "right" : "bottom",
          labels: { boxWidth: 12, boxHeight: 12, usePointStyle: false },
        },
        tooltip: {
          callbacks: {
            label: function (context) {
              var value = horizontal ? context.parsed.x : context.parsed.y;
              if (round) {
                var total = context.dataset.data.reduce(function (a, b) { return a + (b || 0); }, 0);
                var share = total ? Math.round((context.parsed / total) * 100) : 0;
                return " " + context.label + ": " + formatValue(spec, context.parsed) + " (" + share + "%)";
              }
              return " " + context.dataset.label + ": " + formatValue(spec, value);
            },
            footer: function (items) {
              var item = items[0];
              return item && item.dataset.links[item.dataIndex] ? "Click to list the incidents" : "";
            },
          },
        },
      },
      onClick: function (event, elements, chart) {
        if (!elements.length) return;
        var element = elements[0];
        var url = chart.data.datasets[element.datasetIndex].links[element.index];
        if (url) window.location.assign(url);
      },
      onHover: function (event, elements, chart) {
        var clickable = elements.length && chart.data.datasets[elements[0].datasetIndex].links[elements[0].index];
        chart.canvas.style.cursor = clickable ? "pointer" : "default";
      },
    };
    if (round) {
      opts.cutout = "58%";
    } else {
      opts.scales = horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis };
    }
    return opts;
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = specs[canvas.dataset.chart];
    if (!spec) return;
    if (spec.horizontal) {
      // One row per label: the box grows with them (CSSOM, which the CSP allows).
      canvas.parentElement.style.height = Math.max(140, 30 * spec.labels.length + 60) + "px";
    }
    new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (ds) { return dataset(spec, ds); }),
      },
      options: options(spec, canvas.parentElement.clientWidth),
    });
  });
})();
