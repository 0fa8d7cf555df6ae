/* 网格地图: the grid polygons from the database, drawn by the vendored ECharts (registerMap with
 * GeoJSON, no tiles), coloured by the chosen figure. A click loads the grid's panel (team, open
 * cases, patrol record) from /map/grids/<code>. */
(function () {
  "use strict";
  var node = document.getElementById("map-data");
  var el = document.getElementById("grid-map");
  if (!node || !el || typeof echarts === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  var panel = document.getElementById("grid-panel");
  var panelUrl = document.getElementById("map-panel-url").getAttribute("data-url");
  var byCode = {};
  var max = 0;
  data.grids.forEach(function (g) { byCode[g.code] = g; if (g.value > max) { max = g.value; } });

  echarts.registerMap("bihuan-grids", JSON.parse(document.getElementById("map-geojson").textContent));
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: {
      trigger: "item",
      formatter: function (p) {
        var g = byCode[p.name];
        if (!g) { return ""; }
        var esc = echarts.format.encodeHTML;
        return esc(g.name) + " (" + esc(g.code) + ")<br>" + esc(data.labels.community) + ": " + esc(g.community) +
          "<br>" + esc(data.metric_label) + ": " + esc(String(g.value)) +
          (g.households ? "<br>" + esc(data.labels.households) + ": " + g.households : "");
      }
    },
    visualMap: {
      min: 0, max: Math.max(max, 1), calculable: true, orient: "horizontal", left: "center", bottom: 0,
      inRange: { color: ["#e8f5e9", "#fff59d", "#ffb74d", "#e53935"] }
    },
    series: [{
      type: "map", map: "bihuan-grids", roam: true, aspectScale: 0.82, layoutCenter: ["50%", "46%"], layoutSize: "95%",
      name: data.metric_label,
      label: { show: true, fontSize: 10, formatter: function (p) { return p.name; } },
      itemStyle: { borderColor: "#455a64", borderWidth: 1 },
      emphasis: { label: { show: true }, itemStyle: { areaColor: "#90caf9" } },
      select: { itemStyle: { areaColor: "#64b5f6" } },
      selectedMode: "single",
      data: data.grids.map(function (g) { return { name: g.code, value: g.value }; })
    }]
  });
  el.setAttribute("data-grids", String(data.grids.length));
  el.setAttribute("data-ready", "1");

  function show(code) {
    panel.setAttribute("aria-busy", "true");
    fetch(panelUrl.replace("__CODE__", encodeURIComponent(code)), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { panel.innerHTML = html; panel.removeAttribute("aria-busy"); })
      .catch(function () { panel.removeAttribute("aria-busy"); });
  }
  chart.on("click", function (p) { if (p && byCode[p.name]) { show(p.name); } });
  window.addEventListener("resize", function () { chart.resize(); });
  window.bihuanGridMap = { chart: chart, show: show };
}());
