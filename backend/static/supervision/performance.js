/* 绩效 charts (ECharts from /static/vendor, no CDN):
 *  - ranking bars: data embedded in the page (the table below is the fallback);
 *  - trend lines and the heat map: fetched from the page's JSON endpoints in
 *    parallel, so the slower queries never delay the ranking table. */
(function () {
  "use strict";
  var charts = [];

  function holder(element) {
    element.innerHTML = "";
    var div = document.createElement("div");
    div.style.height = "100%";
    element.appendChild(div);
    element.classList.add("ready");
    var chart = window.echarts.init(div, null, { renderer: "svg" });
    charts.push(chart);
    return chart;
  }

  function ranking(element) {
    var source = element.querySelector('script[type="application/json"]');
    var data = JSON.parse(source.textContent);
    var names = data.names.slice().reverse();
    var chart = holder(element);
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 40, top: 28, bottom: 8, containLabel: true },
      legend: { top: 0, data: [element.dataset.labelScore, element.dataset.labelPrevious] },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: names, axisLabel: { width: 120, overflow: "truncate" } },
      series: [
        { name: element.dataset.labelScore, type: "bar", data: data.scores.slice().reverse(),
          itemStyle: { color: "#0b5cad" }, label: { show: names.length <= 25, position: "right", formatter: "{c}" } },
        { name: element.dataset.labelPrevious, type: "bar", data: data.previous.slice().reverse(),
          itemStyle: { color: "#b9c4ce" } }
      ]
    });
    element.dataset.chartReady = "1";
  }

  function percent(value) { return value === null || value === undefined ? null : Math.round(value * 1000) / 10; }
  function minutes(value) { return value === null || value === undefined ? null : Math.round(value / 6) / 10; }

  function trend(element, data) {
    var labels = JSON.parse(element.dataset.labels);
    var points = data.points;
    var chart = holder(element);
    var x = points.map(function (p) { return p.bucket; });
    chart.setOption({
      animation: false,
      grid: { left: 44, right: 48, top: 36, bottom: 28 },
      legend: { top: 0 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: x },
      yAxis: [{ type: "value", min: 0, max: 100, name: "%" }, { type: "value", name: labels.served, minInterval: 1 }],
      series: [
        { name: labels.score, type: "line", data: points.map(function (p) { return p.score; }), itemStyle: { color: "#0b5cad" }, lineStyle: { width: 3 } },
        { name: labels.satisfaction, type: "line", data: points.map(function (p) { return percent(p.satisfaction); }), itemStyle: { color: "#2f7d32" } },
        { name: labels.on_time, type: "line", data: points.map(function (p) { return percent(p.on_time_rate); }), itemStyle: { color: "#b26a00" } },
        { name: labels.p90, type: "line", data: points.map(function (p) { return minutes(p.p90_wait_seconds); }), itemStyle: { color: "#b3261e" }, lineStyle: { type: "dashed" } },
        { name: labels.served, type: "bar", yAxisIndex: 1, data: points.map(function (p) { return p.tickets_served; }), itemStyle: { color: "rgba(11,92,173,.15)" } }
      ]
    });
    element.dataset.chartReady = "1";
  }

  function heatmap(element, data) {
    var weekdays = JSON.parse(element.dataset.weekdays);
    var hours = [];
    for (var h = 8; h <= 17; h++) hours.push(h);
    data.cells.forEach(function (c) { if (hours.indexOf(c.hour) < 0) hours.push(c.hour); });
    hours.sort(function (a, b) { return a - b; });
    var max = 0, min = null;
    var values = data.cells.filter(function (c) { return c.avg_wait_seconds !== null; }).map(function (c) {
      var wait = minutes(c.avg_wait_seconds);
      if (wait > max) max = wait;
      if (min === null || wait < min) min = wait;
      return [hours.indexOf(c.hour), c.weekday - 1, wait, c.tickets];
    });
    var chart = holder(element);
    chart.setOption({
      animation: false,
      grid: { left: 48, right: 16, top: 8, bottom: 84 },
      tooltip: { formatter: function (p) {
        return weekdays[p.value[1]] + " " + hours[p.value[0]] + ":00<br>" + element.dataset.labelWait + " " + p.value[2] +
          "<br>" + element.dataset.labelTickets + " " + p.value[3];
      } },
      xAxis: { type: "category", data: hours.map(function (h) { return h + ":00"; }), splitArea: { show: true } },
      yAxis: { type: "category", data: weekdays, inverse: true, splitArea: { show: true } },
      // The colour scale spans this period's own range, so differences show.
      visualMap: { dimension: 2, min: Math.floor(min || 0), max: Math.max(Math.ceil(max), Math.floor(min || 0) + 1), calculable: true, orient: "horizontal", left: "center", bottom: 0,
                   inRange: { color: ["#f7fbff", "#ffd54a", "#f08c00", "#b3261e"] } },
      series: [{ type: "heatmap", data: values, label: { show: true, fontSize: 11 } }]
    });
    element.dataset.chartReady = "1";
  }

  function load(element, draw) {
    fetch(element.dataset.src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (data) { draw(element, data); })
      .catch(function () { element.querySelector(".pf-loading").textContent = "—"; });
  }

  function start() {
    if (!window.echarts) return; // the table and the downloads still work
    document.querySelectorAll('[data-pf-chart="ranking"]').forEach(ranking);
    document.querySelectorAll('[data-pf-chart="trend"]').forEach(function (e) { load(e, trend); });
    document.querySelectorAll('[data-pf-chart="heatmap"]').forEach(function (e) { load(e, heatmap); });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
