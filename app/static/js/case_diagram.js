/* The case page's process diagrams: bpmn-js NavigatedViewer with the path the case took.
 * Completed elements (and flows between them) turn green, current tasks red, waiting timers amber.
 * Any failure (no layout in the BPMN, bad XML, a network error) shows a plain message instead. */
(function () {
  "use strict";
  var box = document.getElementById("case-diagram");
  if (!box) { return; }

  function message(el, text) {
    el.textContent = "";
    var p = document.createElement("p");
    p.className = "diagram-message";
    p.textContent = text;
    el.appendChild(p);
  }

  function toSet(list) {
    var set = {};
    (list || []).forEach(function (id) { set[id] = true; });
    return set;
  }

  function mark(viewer, path) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var done = toSet(path.completed), current = toSet(path.ready), waiting = toSet(path.waiting);
    function add(id, cls) { if (registry.get(id)) { canvas.addMarker(id, cls); } }
    Object.keys(done).forEach(function (id) { if (!current[id]) { add(id, "bh-done"); } });
    Object.keys(waiting).forEach(function (id) { add(id, "bh-waiting"); });
    Object.keys(current).forEach(function (id) {
      var el = registry.get(id);
      // An expanded subprocess that is running would be one big red block: outline it only.
      var container = el && el.type === "bpmn:SubProcess" && el.collapsed !== true && el.children && el.children.length;
      add(id, container ? "bh-current-container" : "bh-current");
    });
    // A flow was taken when both ends were passed, or it leads from a passed element to where the case is now.
    registry.filter(function (el) { return el.type === "bpmn:SequenceFlow"; }).forEach(function (flow) {
      var source = flow.source && flow.source.id, target = flow.target && flow.target.id;
      if (done[source] && (done[target] || current[target] || waiting[target])) {
        canvas.addMarker(flow.id, "bh-done-flow");
      }
    });
  }

  // 联动处置: every co-handler's part, by unit, under the co-handling subprocess (each unit runs
  // its own instance of the same elements, so the diagram's colours are the union of them all).
  function coParts(viewer, parts) {
    if (!parts || !parts.length || !viewer.get("elementRegistry").get("co_handling")) { return; }
    var list = document.createElement("div");
    list.className = "co-parts";
    parts.forEach(function (p) {
      var item = document.createElement("span");
      item.className = "co-part co-" + (p.status || "dispatched");
      item.setAttribute("data-unit", p.unit || "");
      item.textContent = (p.name || p.unit) + "：" + (p.label || p.status || "");
      list.appendChild(item);
    });
    viewer.get("overlays").add("co_handling", { position: { top: -4 - 18 * parts.length, left: 0 }, html: list });
  }

  // The diagram opens fitted to the box: all of it when that stays readable; a wide process is fitted
  // to the box's height instead (every lane shows) and scrolled so that where the case stands is in view.
  function focus(viewer, path) {
    var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    var box = canvas.viewbox(), inner = box.inner, outer = box.outer, pad = 12;
    function found(ids) {
      return (ids || []).map(function (id) { return registry.get(id); }).filter(function (el) {
        return el && !el.waypoints && !(el.type === "bpmn:SubProcess" && el.children && el.children.length);
      });
    }
    // A ready task first, then what the case waits on (boundary timers last: they sit on their host).
    var waiting = found(path.waiting);
    var candidates = found(path.ready).concat(
      waiting.filter(function (el) { return el.type !== "bpmn:BoundaryEvent"; }),
      waiting.filter(function (el) { return el.type === "bpmn:BoundaryEvent"; }),
      found((path.completed || []).slice(-1)));
    var target = candidates[0];
    var scale = Math.min(1, outer.height / (inner.height + 2 * pad));
    if (!target || !inner.width || scale <= box.scale * 1.05) { return; }
    var w = outer.width / scale, h = outer.height / scale;
    var centre = target.x + target.width / 2;
    // Centred on the current task, without scrolling past either end of the diagram.
    var x = Math.max(inner.x - pad, Math.min(centre - w / 2, inner.x + inner.width + pad - w));
    canvas.viewbox({ x: x, y: inner.y + inner.height / 2 - h / 2, width: w, height: h });
  }

  function render(el, path, errorText) {
    if (!path || !path.xml || typeof BpmnJS === "undefined") {
      message(el, errorText);
      return Promise.resolve(false);
    }
    el.textContent = "";
    var viewer = new BpmnJS({ container: el });
    return viewer.importXML(path.xml).then(function () {
      mark(viewer, path);
      coParts(viewer, path.co_handling);
      focus(viewer, path);
      addFitButton(el, viewer);
      el.classList.add("bh-rendered");
      return true;
    }).catch(function (err) {
      viewer.destroy();
      message(el, errorText);
      el.classList.add("bh-failed");
      if (window.console) { console.warn("diagram import failed:", err && err.message); }
      return false;
    });
  }

  function addFitButton(el, viewer) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "diagram-fit";
    button.textContent = box.getAttribute("data-fit");
    button.addEventListener("click", function () { viewer.get("canvas").zoom("fit-viewport", "auto"); });
    el.appendChild(button);
  }

  var errorText = box.getAttribute("data-error");
  message(box, box.getAttribute("data-loading"));
  fetch(box.getAttribute("data-src"), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(function (data) {
      render(box, data, errorText);
      if (data.supervision) {
        var wrap = document.getElementById("supervision-diagram-box");
        wrap.hidden = false;
        render(document.getElementById("supervision-diagram"), data.supervision, errorText);
      }
    })
    .catch(function () { message(box, errorText); box.classList.add("bh-failed"); });
}());
