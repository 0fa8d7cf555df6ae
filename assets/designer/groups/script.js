/* 脚本: a script task's script, and the pre-/post-scripts SpiffWorkflow runs around any activity
 * (<spiffworkflow:preScript>, <spiffworkflow:postScript>). All run in the sandbox. */
import { isTextAreaEntryEdited } from '@bpmn-io/properties-panel';
import { h, is, getBusinessObject, useService, T, CodeEntry, extensionValues, setBodyExtension, run }
  from '../util.js';

function ScriptEntry(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  return h(CodeEntry, {
    element, id, debounce, rows: 8, label: T('脚本（Python，沙箱执行）'),
    description: T('可用 now()、working_days_after(start, n)；不可 import，不可使用双下划线名称、while 和 **。'),
    getValue: () => getBusinessObject(element).get('script') || '',
    setValue: (value) => modeling.updateProperties(element, { script: value || undefined })
  });
}

function extensionScript(type, label, help) {
  return function ExtensionScript(props) {
    const { element, id } = props;
    const services = { moddle: useService('moddle'), bpmnFactory: useService('bpmnFactory') };
    const commandStack = useService('commandStack');
    const debounce = useService('debounceInput');
    return h(CodeEntry, {
      element, id, debounce, label: label(), description: help(),
      getValue: () => {
        const current = extensionValues(getBusinessObject(element), type)[0];
        return current ? current.value || '' : '';
      },
      setValue: (value) => run(commandStack, setBodyExtension(element, type, value, services))
    });
  };
}

const PreScript = extensionScript('spiffworkflow:PreScript', () => T('前置脚本'), () => T('任务开始前执行（沙箱）。'));
const PostScript = extensionScript('spiffworkflow:PostScript', () => T('后置脚本'), () => T('任务完成后执行（沙箱）。'));

export default function ScriptGroup(element) {
  const entries = [];
  if (is(element, 'bpmn:ScriptTask')) {
    entries.push({ id: 'bihuanScript', component: ScriptEntry, isEdited: isTextAreaEntryEdited });
  }
  if (is(element, 'bpmn:Activity')) {
    entries.push({ id: 'bihuanPreScript', component: PreScript, isEdited: isTextAreaEntryEdited },
                 { id: 'bihuanPostScript', component: PostScript, isEdited: isTextAreaEntryEdited });
  }
  return entries;
}
