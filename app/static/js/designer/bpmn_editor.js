/* The BPMN editor page: the modeler bundle (bpmn-js + bpmn.io's properties panel with Bihuan's
 * groups, built from assets/designer/) with Chinese labels; saving, validating and selecting
 * problems come from common.js. */
(function () {
  'use strict';

  var T = window.designerText;
  var editor;
  var config = Designer.readConfig();
  var modeler = BihuanModeler.create({
    canvas: '#canvas',
    panel: '#properties',
    translate: BihuanTranslate.bpmn,
    lists: { roles: config.roles, forms: config.forms, decisions: config.decisions, processes: config.processes }
  });
  window.bihuanModeler = modeler;  // for the browser tests and the console

  // select an element from outside (the problem list, ?select=): open its sub-process, zoom, centre
  function select(id) {
    var registry = modeler.get('elementRegistry');
    var canvas = modeler.get('canvas');
    var element = registry.get(id);
    if (!element) { return false; }
    var root = canvas.findRoot ? canvas.findRoot(element) : null;
    if (root && root !== canvas.getRootElement()) { canvas.setRootElement(root); }
    modeler.get('selection').select(element);
    // a whole-diagram overview is too small to see one element: zoom in, then centre it
    if (canvas.zoom() < 0.8) { canvas.zoom(1); }
    if (typeof element.x === 'number') {
      var box = canvas.viewbox();
      canvas.viewbox({ x: element.x + element.width / 2 - box.width / 2,
                       y: element.y + element.height / 2 - box.height / 2,
                       width: box.width, height: box.height });
    } else if (canvas.scrollToElement) {
      canvas.scrollToElement(element, { top: 80, bottom: 80, left: 80, right: 80 });
    }
    return true;
  }

  editor = new Designer.Editor({
    getText: function () { return modeler.saveXML({ format: true }).then(function (r) { return r.xml; }); },
    select: select
  });

  function showMessages(title, messages, kind) {
    var box = document.getElementById('import-messages');
    box.textContent = '';
    var head = document.createElement('li');
    head.className = 'import-head ' + kind;
    head.textContent = title;
    box.appendChild(head);
    messages.forEach(function (text) {
      var item = document.createElement('li');
      item.textContent = text;
      box.appendChild(item);
    });
    box.hidden = false;
  }

  // fit the whole diagram into the part of the canvas the palette does not cover
  function fitBesidePalette() {
    var canvas = modeler.get('canvas');
    canvas.zoom('fit-viewport');
    var box = canvas.viewbox();
    var palette = document.querySelector('#canvas .djs-palette');
    var container = document.getElementById('canvas').getBoundingClientRect();
    var pad = palette ? palette.getBoundingClientRect().right - container.left + 12 : 0;
    if (!box.inner.width || !box.inner.height || pad >= box.outer.width / 2) { return; }
    var scale = Math.min((box.outer.width - pad - 12) / box.inner.width, (box.outer.height - 24) / box.inner.height, 1);
    canvas.viewbox({ x: box.inner.x - pad / scale, y: box.inner.y - (box.outer.height / scale - box.inner.height) / 2,
                     width: box.outer.width / scale, height: box.outer.height / scale });
  }

  function warningText(warning) {
    return BihuanTranslate.text(warning.message || String(warning));
  }

  modeler.importXML(config.text).then(function (result) {
    var warnings = result.warnings || [];
    if (warnings.length) {
      showMessages(T('导入时有 {n} 条警告（图仍可编辑，但请检查）：', { n: warnings.length }),
                   warnings.map(warningText), 'warning');
    }
    fitBesidePalette();
    modeler.on('commandStack.changed', function () { editor.changed(); });
    if (config.select && !select(config.select)) {
      Designer.setStatus(T('图中找不到元素 {id}', { id: config.select }), 'error');
    }
    document.body.dataset.editorReady = 'yes';
  }).catch(function (error) {
    // without a diagram there is nothing safe to save: saving now would replace the file
    document.getElementById('save').disabled = true;
    var messages = [BihuanTranslate.text(error.message || String(error))];
    (error.warnings || []).forEach(function (w) { messages.push(warningText(w)); });
    showMessages(T('无法在编辑器中打开这个文件：'), messages, 'error');
    Designer.setStatus(T('文件未能打开，保存已停用。可以用“下载”取回原文件，或在流程管理页面导入修正后的文件。'), 'error');
    editor.getText = function () { return Promise.resolve(config.text); };
    document.body.dataset.editorReady = 'error';
  });
})();
