// Charts of the weekly 专报 (vendored ECharts): 13-week trend, channels, department scores.
// Reads the report's figures from <script type="application/json" id="weekly-figures">.
(function () {
  var node = document.getElementById("weekly-figures");
  if (!node || typeof echarts === "undefined") { return; }
  var f = JSON.parse(node.textContent);
  var labels = JSON.parse(document.getElementById("weekly-labels").textContent);
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var c = echarts.init(el, null, { renderer: "svg" });
    c.setOption(Object.assign({ animation: false, tooltip: { trigger: "axis" }, grid: { left: 40, right: 16, top: 36, bottom: 64 } }, option));
    window.addEventListener("resize", function () { c.resize(); });
  }
  chart("chart-trend", {
    legend: { top: 0, data: [labels.new, labels.closed] },
    xAxis: { type: "category", data: f.trend.map(function (w) { return w.week; }), axisLabel: { rotate: 45 } },
    yAxis: { type: "value" },
    series: [{ name: labels.new, type: "line", data: f.trend.map(function (w) { return w.new; }) },
             { name: labels.closed, type: "line", data: f.trend.map(function (w) { return w.closed; }) }]
  });
  chart("chart-channels", {
    legend: { top: 0, data: [labels.new, labels.closed, labels.overdue] },
    xAxis: { type: "category", data: f.channels.map(function (c) { return c.label; }) },
    yAxis: { type: "value" },
    series: ["new", "closed", "overdue"].map(function (k) {
      return { name: labels[k], type: "bar", data: f.channels.map(function (c) { return c[k]; }) };
    })
  });
  chart("chart-departments", {
    xAxis: { type: "category", data: f.departments.map(function (d) { return d.label; }), axisLabel: { rotate: 30 } },
    yAxis: { type: "value" },
    series: [{ name: labels.score, type: "bar", data: f.departments.map(function (d) { return d.score; }) }]
  });
})();
