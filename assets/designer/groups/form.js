/* 表单: the JSON Schema a user task shows, as SpiffWorkflow reads it
 * (<spiffworkflow:property name="formJsonSchemaFilename">). */
import { isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { h, is, getBusinessObject, useService, useLists, T, SuggestEntry, getProperty, setProperty, run }
  from '../util.js';

export const FORM_PROPERTY = 'formJsonSchemaFilename';

function FormEntry(props) {
  const { element, id } = props;
  const services = { moddle: useService('moddle'), bpmnFactory: useService('bpmnFactory') };
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  return h(SuggestEntry, {
    element, id, debounce, label: T('表单（JSON Schema 文件）'),
    description: T('文件在 forms/ 下，例如 dispatch.schema.json。'),
    suggestions: useLists().forms,
    getValue: () => { const p = getProperty(getBusinessObject(element), FORM_PROPERTY); return p ? p.value : ''; },
    setValue: (value) => run(commandStack, setProperty(element, FORM_PROPERTY, (value || '').trim(), services))
  });
}

export default function FormGroup(element) {
  if (!is(element, 'bpmn:UserTask')) { return []; }
  return [{ id: 'bihuanForm', component: FormEntry, isEdited: isTextFieldEntryEdited }];
}
