/* Keeps a multi-instance's loopDataInputRef / loopDataOutputRef that names a task-data variable.
 *
 * BPMN types these as references to an ItemAwareElement (a dataObject, dataInput…), so moddle
 * drops a name that no element carries, with an "unresolved reference" warning, and the saved
 * diagram lost the collection the engine iterates: SpiffWorkflow reads the name from task data
 * and needs no such element. After parsing we put back a detached placeholder carrying the name:
 * it is in no container, so only the reference is written on export, unchanged. */
const LOOP_REFS = /^(bpmn:)?loopData(Input|Output)Ref$/;

function KeepLoopDataRefs(eventBus, moddle) {
  eventBus.on('import.parse.complete', (event) => {
    const warnings = event.warnings || [];
    for (let i = warnings.length - 1; i >= 0; i--) {
      const warning = warnings[i];
      const element = warning.element;
      if (!warning.value || !LOOP_REFS.test(warning.property || '') || !element ||
          !element.$instanceOf || !element.$instanceOf('bpmn:MultiInstanceLoopCharacteristics')) {
        continue;
      }
      const name = warning.property.replace(/^bpmn:/, '');
      element.set(name, moddle.create('bpmn:DataInput', { id: warning.value }));
      warnings.splice(i, 1);
    }
  });
}
KeepLoopDataRefs.$inject = ['eventBus', 'moddle'];

export default {
  __init__: ['bihuanKeepLoopDataRefs'],
  bihuanKeepLoopDataRefs: ['type', KeepLoopDataRefs]
};
