// Charts of the 分析影响 (what-if) result page (vendored ECharts, no inline script: CSP).
// Reads the figures from <script type="application/json" id="whatif-chart-data">.
(function () {
  var node = document.getElementById("whatif-chart-data");
  if (!node || typeof echarts === "undefined") { return; }
  var f = JSON.parse(node.textContent);
  var L = f.labels;
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var c = echarts.init(el, null, { renderer: "svg" });
    c.setOption(Object.assign({ animation: false, tooltip: { trigger: "axis" }, legend: { top: 0, data: [L.deployed, L.draft] },
                                grid: { left: 48, right: 16, top: 36, bottom: 64 } }, option));
    window.addEventListener("resize", function () { c.resize(); });
  }
  var names = f.departments.map(function (d) { return d.label; });
  function pct(v) { return v === null || v === undefined ? null : Math.round(v * 1000) / 10; }
  chart("whatif-chart-rate", {
    title: { text: L.rate, left: "center", textStyle: { fontSize: 13 } },
    xAxis: { type: "category", data: names, axisLabel: { rotate: 30 } },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: [{ name: L.deployed, type: "bar", data: f.departments.map(function (d) { return pct(d.deployed_rate); }) },
             { name: L.draft, type: "bar", data: f.departments.map(function (d) { return pct(d.draft_rate); }) }]
  });
  chart("whatif-chart-points", {
    title: { text: L.points, left: "center", textStyle: { fontSize: 13 } },
    xAxis: { type: "category", data: names, axisLabel: { rotate: 30 } },
    yAxis: { type: "value" },
    series: [{ name: L.deployed, type: "bar", data: f.departments.map(function (d) { return d.deployed_points; }) },
             { name: L.draft, type: "bar", data: f.departments.map(function (d) { return d.draft_points; }) }]
  });
  chart("whatif-chart-tiers", {
    title: { text: L.tiers, left: "center", textStyle: { fontSize: 13 } },
    xAxis: { type: "category", data: ["1", "2", "3"] },
    yAxis: { type: "value" },
    series: [{ name: L.deployed, type: "bar", data: f.tiers.deployed }, { name: L.draft, type: "bar", data: f.tiers.draft }]
  });
})();
