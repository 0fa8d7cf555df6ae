/* 条件: an exclusive or inclusive gateway's default flow and the Python condition on each other
 * outgoing flow, editable from the gateway (all of a decision in one place) or from the flow. */
import { SelectEntry, isTextAreaEntryEdited } from '@bpmn-io/properties-panel';
import { h, is, getBusinessObject, useService, T, CodeEntry, Note, expression } from '../util.js';

function isBranching(bo) {
  return bo && (is(bo, 'bpmn:ExclusiveGateway') || is(bo, 'bpmn:InclusiveGateway'));
}

function flowLabel(flow) {
  const target = flow.targetRef;
  return flow.id + (target ? ' → ' + (target.name || target.id) : '');
}

function DefaultFlow(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const bo = getBusinessObject(element);
  return h(SelectEntry, {
    element, id, label: T('默认流'), description: T('没有条件成立时走默认流。'),
    getOptions: () => [{ value: '', label: T('（无默认流）') }].concat(
      (bo.get('outgoing') || []).map((flow) => ({ value: flow.id, label: flowLabel(flow) }))),
    getValue: () => (bo.get('default') ? bo.get('default').id : ''),
    setValue: (value) => {
      const flow = (bo.get('outgoing') || []).find((f) => f.id === value);
      modeling.updateProperties(element, { default: flow || undefined });
    }
  });
}

/* The condition of `flow`, an entry that may sit on the flow's own panel or on its gateway's. */
function conditionEntry(flow, label) {
  return function Condition(props) {
    const { element, id } = props;
    const modeling = useService('modeling');
    const registry = useService('elementRegistry');
    const bpmnFactory = useService('bpmnFactory');
    const debounce = useService('debounceInput');
    return h(CodeEntry, {
      element, id, debounce, rows: 2, label,
      getValue: () => (flow.conditionExpression ? flow.conditionExpression.get('body') || '' : ''),
      setValue: (value) => {
        const shape = registry.get(flow.id);
        if (shape) { modeling.updateProperties(shape, { conditionExpression: expression(bpmnFactory, value) }); }
      }
    });
  };
}

export default function ConditionGroup(element) {
  const bo = getBusinessObject(element);
  if (isBranching(bo)) {
    const entries = [{ id: 'bihuanDefaultFlow', component: DefaultFlow }];
    (bo.get('outgoing') || []).forEach((flow) => {
      if (bo.get('default') === flow) { return; }
      entries.push({ id: 'bihuanCondition-' + flow.id,
                     component: conditionEntry(flow, T('条件：{flow}', { flow: flowLabel(flow) })),
                     isEdited: isTextAreaEntryEdited });
    });
    entries.push({ id: 'bihuanConditionHelp', component: (props) => h(Note, { id: props.id,
      text: T('条件是 Python 表达式，例如 decision == "refuse"、return_count >= 2。') }) });
    return entries;
  }
  if (is(element, 'bpmn:SequenceFlow') && isBranching(bo.sourceRef)) {
    const source = bo.sourceRef;
    if (source.get('default') === bo) {
      return [{ id: 'bihuanDefaultNote', component: (props) => h(Note, { id: props.id,
        text: T('这是网关 {id} 的默认流，不需要条件。', { id: source.id }) }) }];
    }
    return [{ id: 'bihuanCondition', component: conditionEntry(bo, T('条件表达式')), isEdited: isTextAreaEntryEdited }];
  }
  return [];
}
