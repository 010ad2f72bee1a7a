/* Charts from data embedded in the page: <div data-chart="bar"> holds a
 * <script type="application/json"> with {days: [...], served: [...]}; a plain table
 * inside stays visible when the charting library is missing. */
(function () {
  "use strict";
  if (!window.echarts) return;
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var source = element.querySelector('script[type="application/json"]');
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var holder = document.createElement("div");
    holder.style.height = "100%";
    element.appendChild(holder);
    element.classList.add("ready");
    var chart = window.echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: 32, right: 12, top: 36, bottom: 24 },
      title: { text: element.dataset.chartTitle || "", left: 0, textStyle: { fontSize: 13, fontWeight: "normal" } },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: element.dataset.chartSeries || "", data: data.served, itemStyle: { color: "#0b5cad" } }],
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
