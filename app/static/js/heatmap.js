/* Where cases stand on the diagram: per node, the open cases now and the mean dwell (hours) over the
 * chosen range, as bpmn-js overlays; the fill deepens with the number of open cases. Clicking a node
 * lists its cases. */
(function () {
  "use strict";
  var box = document.getElementById("heatmap");
  if (!box || typeof BpmnJS === "undefined") { return; }
  var range = box.querySelector(".heatmap-range");
  var params = new URLSearchParams(window.location.search);
  var query = [];
  ["from", "to"].forEach(function (k) { if (params.get(k)) { query.push(k + "=" + encodeURIComponent(params.get(k))); } });
  if (!query.length && range) {
    ["from", "to"].forEach(function (k) { query.push(k + "=" + encodeURIComponent(range.elements[k].value)); });
  }

  function text(el, value) { el.textContent = value; return el; }

  function listCases(bpmnId, name) {
    var panel = document.getElementById("heatmap-cases");
    var sep = box.dataset.cases.indexOf("?") < 0 ? "?" : "&";
    fetch(box.dataset.cases + sep + "node=" + encodeURIComponent(bpmnId), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        panel.hidden = false;
        text(document.getElementById("heatmap-cases-title"), name + " (" + body.cases.length + ")");
        var tbody = panel.querySelector("tbody");
        tbody.textContent = "";
        if (!body.cases.length) {
          var tr = tbody.insertRow(), td = tr.insertCell();
          td.colSpan = 5;
          text(td, box.dataset.labelNone);
        }
        body.cases.forEach(function (c) {
          var tr = tbody.insertRow();
          var a = document.createElement("a");
          a.href = c.url;
          tr.insertCell().appendChild(text(a, c.number));
          text(tr.insertCell(), c.status);
          text(tr.insertCell(), c.department || "—");
          text(tr.insertCell(), c.deadline ? c.deadline.slice(0, 16).replace("T", " ") : "—");
          text(tr.insertCell(), c.since ? c.since.slice(0, 16).replace("T", " ") : "—");
        });
        panel.scrollIntoView({ behavior: "smooth", block: "nearest" });
      });
  }

  function render(id, xml, nodes, max) {
    var el = document.getElementById(id);
    if (!el) { return; }
    if (!xml) { text(el, box.dataset.labelError); return; }
    var viewer = new BpmnJS({ container: el });
    viewer.importXML(xml).then(function () {
      var canvas = viewer.get("canvas"), overlays = viewer.get("overlays"), registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport", "auto");
      Object.keys(nodes).forEach(function (bpmnId) {
        var element = registry.get(bpmnId);
        if (!element) { return; }
        var n = nodes[bpmnId];
        var level = n.open ? Math.min(4, 1 + Math.floor(4 * n.open / (max + 1))) : 0;
        if (level) { canvas.addMarker(bpmnId, "bh-heat-" + level); }
        var badge = document.createElement("div");
        badge.className = "bh-heat-badge" + (n.open ? " has-open" : "");
        badge.dataset.node = bpmnId;
        badge.title = box.dataset.labelOpen + " " + n.open + " · " + box.dataset.labelHours + " " +
          (n.hours === null || n.hours === undefined ? "—" : n.hours);
        text(badge, n.open + " / " + (n.hours === null || n.hours === undefined ? "—" : n.hours + "h"));
        badge.addEventListener("click", function () {
          listCases(bpmnId, element.businessObject.name || bpmnId);
        });
        overlays.add(bpmnId, { position: { top: -14, right: 10 }, html: badge });
      });
      viewer.get("eventBus").on("element.click", function (e) {
        var bo = e.element.businessObject;
        if (!bo || !nodes[e.element.id] && !/Task|Event/.test(e.element.type)) { return; }
        if (e.element.type === "bpmn:SequenceFlow" || e.element.type === "bpmn:Process") { return; }
        listCases(e.element.id, bo.name || e.element.id);
      });
      el.classList.add("bh-rendered");
    }).catch(function () { text(el, box.dataset.labelError); });
  }

  var sep = box.dataset.src.indexOf("?") < 0 ? "?" : "&";
  fetch(box.dataset.src + sep + query.join("&"), { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (body) {
      if (body.error) { text(document.getElementById("heatmap-lifecycle"), body.error); return; }
      var max = 0;
      Object.keys(body.nodes).forEach(function (k) { max = Math.max(max, body.nodes[k].open); });
      render("heatmap-lifecycle", body.diagrams.lifecycle, body.nodes, max);
      render("heatmap-supervision", body.diagrams.supervision, body.nodes, max);
    })
    .catch(function () { text(document.getElementById("heatmap-lifecycle"), box.dataset.labelError); });
})();
