/* Side by side: the old and the new diagram of a changed BPMN file, changed elements marked.
 * Each pair is drawn the first time its <details> is opened (bpmn-js needs a visible container). */
(function () {
  'use strict';

  var T = window.designerText;
  var diagrams = JSON.parse(document.getElementById('diff-config').textContent);
  var MARKERS = { added: 'diff-added', removed: 'diff-removed', changed: 'diff-changed' };

  function draw(container, xml, changes, side) {
    if (!xml) {
      container.textContent = side === 'old' ? T('（此前没有这个文件）') : T('（这个文件已删除）');
      return;
    }
    var viewer = new BpmnJS({ container: container });
    viewer.importXML(xml).then(function () {
      var canvas = viewer.get('canvas');
      var registry = viewer.get('elementRegistry');
      canvas.zoom('fit-viewport');
      Object.keys(changes).forEach(function (id) {
        var change = changes[id];
        // an added element exists only on the new side, a removed one only on the old side
        if ((change === 'added' && side === 'old') || (change === 'removed' && side === 'new')) { return; }
        if (registry.get(id) && MARKERS[change]) { canvas.addMarker(id, MARKERS[change]); }
      });
    }).catch(function (error) {
      container.textContent = T('无法显示这个流程图：{message}', { message: error.message || error });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('details.diff-diagrams'), function (details) {
    var diagram = diagrams[Number(details.dataset.diffIndex)];
    var drawn = false;
    details.addEventListener('toggle', function () {
      if (!details.open || drawn) { return; }
      drawn = true;
      draw(details.querySelector('.diff-old'), diagram.old, diagram.changes, 'old');
      draw(details.querySelector('.diff-new'), diagram['new'], diagram.changes, 'new');
    });
  });
})();
