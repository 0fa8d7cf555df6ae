/* The DMN editor page: dmn-js opened on the decision table (not the DRD), one tab per decision,
 * so a designer changes a deadline by typing into a cell. */
(function () {
  'use strict';

  var T = window.designerText;
  var config = Designer.readConfig();
  // dmn-js merges `common` into each view's options but lets a view's additionalModules replace
  // the common ones, so the translation goes to every view type explicitly
  var translated = { additionalModules: [BihuanTranslate.dmn] };
  var modeler = new DmnJS({
    container: '#canvas',
    drd: translated, decisionTable: translated, literalExpression: translated, boxedExpression: translated
  });
  var tabs = document.getElementById('dmn-views');
  var watched = [];
  var editor;
  window.bihuanDmn = modeler;  // for the browser tests and the console

  var VIEW_LABELS = { drd: T('决策需求图'), decisionTable: T('决策表'), literalExpression: T('文字表达式'),
                      boxedExpression: T('表达式') };

  editor = new Designer.Editor({
    getText: function () { return modeler.saveXML({ format: true }).then(function (r) { return r.xml; }); },
    select: select
  });

  function watchActiveViewer() {
    var viewer = modeler.getActiveViewer();
    if (!viewer || watched.indexOf(viewer) >= 0) { return; }
    watched.push(viewer);
    viewer.get('eventBus').on('elements.changed', function () { editor.changed(); });
  }

  function renderTabs() {
    var active = modeler.getActiveView();
    tabs.textContent = '';
    modeler.getViews().forEach(function (view) {
      var link = document.createElement('a');
      link.href = '#';
      link.dataset.view = view.type;
      link.dataset.elementId = view.element.id;
      var name = view.element.name || view.element.id;
      link.textContent = view.type === 'drd' ? VIEW_LABELS.drd
        : T('{kind}：{name}', { kind: VIEW_LABELS[view.type] || view.type, name: name });
      if (active && active.element === view.element && active.type === view.type) { link.className = 'active'; }
      link.addEventListener('click', function (event) { event.preventDefault(); modeler.open(view); });
      tabs.appendChild(link);
    });
  }

  // the element ids a decision's table holds: the decision, its rules, columns and cells
  function idsOf(view) {
    var ids = [view.element.id];
    var table = view.element.decisionLogic;
    if (!table) { return ids; }
    ids.push(table.id);
    (table.input || []).concat(table.output || []).forEach(function (c) { ids.push(c.id); });
    (table.rule || []).forEach(function (rule) {
      ids.push(rule.id);
      (rule.inputEntry || []).concat(rule.outputEntry || []).forEach(function (c) { ids.push(c.id); });
    });
    return ids;
  }

  function select(id) {
    var view = modeler.getViews().filter(function (v) { return v.type !== 'drd' && idsOf(v).indexOf(id) >= 0; })[0];
    if (!view) { return false; }
    var shown = modeler.getActiveView();
    var opened = shown && shown.element === view.element ? Promise.resolve() : modeler.open(view);
    opened.then(function () {
      var container = document.getElementById('canvas');
      var old = container.querySelectorAll('.problem-highlight');
      Array.prototype.forEach.call(old, function (n) { n.classList.remove('problem-highlight'); });
      var safe = window.CSS && CSS.escape ? CSS.escape(id) : id;
      var node = container.querySelector('[data-element-id="' + safe + '"], [data-row-id="' + safe + '"], ' +
                                         '[data-col-id="' + safe + '"]');
      if (node) { node.classList.add('problem-highlight'); node.scrollIntoView({ block: 'center' }); }
    });
    return true;
  }

  modeler.on('views.changed', function () { renderTabs(); watchActiveViewer(); });

  modeler.importXML(config.text).then(function (result) {
    var table = modeler.getViews().filter(function (v) { return v.type === 'decisionTable'; })[0];
    var opened = table ? modeler.open(table) : Promise.resolve();
    return opened.then(function () {
      renderTabs();
      watchActiveViewer();
      if ((result.warnings || []).length) {
        Designer.setStatus(T('导入时有 {n} 条警告：{messages}', { n: result.warnings.length,
          messages: result.warnings.map(function (w) { return w.message; }).join('; ') }), 'error');
      }
      if (config.select) { select(config.select); }
      document.body.dataset.editorReady = 'yes';
    });
  }).catch(function (error) {
    document.getElementById('save').disabled = true;
    var box = document.getElementById('import-messages');
    var item = document.createElement('li');
    item.className = 'import-head error';
    item.textContent = T('无法在编辑器中打开这个决策表：{message}', { message: error.message || error });
    box.appendChild(item);
    box.hidden = false;
    editor.getText = function () { return Promise.resolve(config.text); };
    document.body.dataset.editorReady = 'error';
  });
})();
