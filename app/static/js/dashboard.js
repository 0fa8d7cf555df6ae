/* 领导驾驶舱 charts (vendored ECharts). Every bar, point and slice opens the ledger rows behind it:
 * the page embeds each segment's /ledgers link next to its value. */
(function () {
  "use strict";
  var node = document.getElementById("dashboard-data");
  if (!node || typeof echarts === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  var L = data.labels;

  function chart(id, option, urlOf) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var c = echarts.init(el);
    c.setOption(option);
    c.on("click", function (p) {
      var url = urlOf(p);
      if (url) { window.location.href = url; }
    });
    window.addEventListener("resize", function () { c.resize(); });
  }

  var weeks = data.trend;
  chart("chart-trend", {
    tooltip: { trigger: "axis" },
    legend: { top: 0, data: [L.registered, L.closed, L.on_time] },
    grid: { left: 40, right: 50, top: 36, bottom: 24 },
    xAxis: { type: "category", data: weeks.map(function (w) { return w.label; }) },
    yAxis: [{ type: "value" }, { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }],
    series: [
      { name: L.registered, type: "bar", data: weeks.map(function (w) { return w.registered; }) },
      { name: L.closed, type: "bar", data: weeks.map(function (w) { return w.closed; }) },
      { name: L.on_time, type: "line", yAxisIndex: 1,
        data: weeks.map(function (w) { return w.on_time_rate === null ? null : Math.round(w.on_time_rate * 1000) / 10; }) }
    ]
  }, function (p) {
    var w = weeks[p.dataIndex];
    if (!w) { return null; }
    return p.seriesIndex === 0 ? w.registered_url : p.seriesIndex === 1 ? w.closed_url : w.on_time_url;
  });

  var channels = data.channels;
  chart("chart-channels", {
    tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
    legend: { bottom: 0, type: "scroll" },
    series: [{ type: "pie", radius: ["30%", "55%"], center: ["50%", "45%"],
      label: { formatter: "{d}%" },
      data: channels.map(function (c) { return { name: c.label, value: c.value }; }) }]
  }, function (p) { return channels[p.dataIndex] && channels[p.dataIndex].url; });
})();
