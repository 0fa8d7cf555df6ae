/* 调用: the decision a business rule task evaluates (<spiffworkflow:calledDecisionId>, a decision
 * id of rules/*.dmn) and the process a call activity starts (calledElement, a process id). */
import { isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { h, is, getBusinessObject, useService, useLists, T, SuggestEntry, extensionValues, setBodyExtension, run }
  from '../util.js';

function DecisionEntry(props) {
  const { element, id } = props;
  const services = { moddle: useService('moddle'), bpmnFactory: useService('bpmnFactory') };
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  const type = 'spiffworkflow:CalledDecisionId';
  return h(SuggestEntry, {
    element, id, debounce, label: T('决策表 ID'), suggestions: useLists().decisions,
    description: T('对应 rules/*.dmn 中 decision 的 id，例如 deadlines。'),
    getValue: () => { const v = extensionValues(getBusinessObject(element), type)[0]; return v ? v.value || '' : ''; },
    setValue: (value) => run(commandStack, setBodyExtension(element, type, (value || '').trim(), services))
  });
}

function ProcessEntry(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  return h(SuggestEntry, {
    element, id, debounce, label: T('被调用流程 ID'), suggestions: useLists().processes,
    description: T('例如 supervision_escalation。'),
    getValue: () => getBusinessObject(element).get('calledElement') || '',
    setValue: (value) => modeling.updateProperties(element, { calledElement: (value || '').trim() || undefined })
  });
}

export default function CallGroup(element) {
  if (is(element, 'bpmn:BusinessRuleTask')) {
    return [{ id: 'bihuanCalledDecision', component: DecisionEntry, isEdited: isTextFieldEntryEdited }];
  }
  if (is(element, 'bpmn:CallActivity')) {
    return [{ id: 'bihuanCalledElement', component: ProcessEntry, isEdited: isTextFieldEntryEdited }];
  }
  return [];
}
