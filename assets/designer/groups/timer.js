/* 定时器: a timer event's expression, evaluated by the engine in the sandbox: working-day deadlines
 * are written working_days_after(start, n); and the "reminder" flag of a boundary timer
 * (<spiffworkflow:property name="reminder" value="true">), which tells a 到期预警 apart from the
 * task's deadline. */
import { SelectEntry, CheckboxEntry, isTextAreaEntryEdited, isCheckboxEntryEdited }
  from '@bpmn-io/properties-panel';
import { h, is, getBusinessObject, useService, T, CodeEntry, update, run, getProperty, setProperty }
  from '../util.js';

const KINDS = ['timeDate', 'timeDuration', 'timeCycle'];
// labels looked up when drawn: the page's texts (text.js) are the UI language's
const KIND_LABELS = () => ({
  timeDate: T('时间点 timeDate'), timeDuration: T('时长 timeDuration'), timeCycle: T('周期 timeCycle')
});

export function timerOf(element) {
  const definitions = getBusinessObject(element).get('eventDefinitions') || [];
  return definitions.find((d) => is(d, 'bpmn:TimerEventDefinition'));
}

function kindOf(timer) {
  return KINDS.find((kind) => timer.get(kind)) || 'timeDate';
}

function TimerKind(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const timer = timerOf(element);
  return h(SelectEntry, {
    element, id, label: T('定时器类型'),
    getOptions: () => KINDS.map((kind) => ({ value: kind, label: KIND_LABELS()[kind] })),
    getValue: () => kindOf(timer),
    setValue: (kind) => {
      // the expression moves to the new kind; an empty one is kept so the choice is remembered
      const old = timer.get(kindOf(timer));
      const moved = bpmnFactory.create('bpmn:FormalExpression', { body: old ? old.get('body') : undefined });
      const properties = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
      properties[kind] = moved;
      moved.$parent = timer;
      run(commandStack, [update(element, timer, properties)]);
    }
  });
}

function TimerExpression(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const timer = timerOf(element);
  return h(CodeEntry, {
    element, id, debounce, label: T('定时器表达式'),
    description: T('工作日时限写作 working_days_after(start, n)，例如 working_days_after(dispatched_at, 1)；也可以直接写变量名（如 deadline）。'),
    getValue: () => { const expr = timer.get(kindOf(timer)); return expr ? expr.get('body') || '' : ''; },
    setValue: (value) => {
      const kind = kindOf(timer);
      const expr = timer.get(kind);
      if (expr) {
        run(commandStack, [update(element, expr, { body: value || undefined })]);
      } else {
        const created = bpmnFactory.create('bpmn:FormalExpression', { body: value || undefined });
        created.$parent = timer;
        run(commandStack, [update(element, timer, { [kind]: created })]);
      }
    }
  });
}

function Reminder(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const services = { moddle: useService('moddle'), bpmnFactory: useService('bpmnFactory') };
  return h(CheckboxEntry, {
    element, id, label: T('仅提醒（不是任务时限）'),
    description: T('到期预警、超期提醒：不把这个定时器当作任务的办理时限。'),
    getValue: () => {
      const flag = getProperty(getBusinessObject(element), 'reminder');
      return !!flag && flag.value === 'true';
    },
    setValue: (checked) => run(commandStack, setProperty(element, 'reminder', checked ? 'true' : '', services))
  });
}

export default function TimerGroup(element) {
  if (!timerOf(element)) { return []; }
  const entries = [{ id: 'bihuanTimerKind', component: TimerKind },
                   { id: 'bihuanTimerExpression', component: TimerExpression, isEdited: isTextAreaEntryEdited }];
  if (is(element, 'bpmn:BoundaryEvent')) {
    entries.push({ id: 'bihuanReminder', component: Reminder, isEdited: isCheckboxEntryEdited });
  }
  return entries;
}
