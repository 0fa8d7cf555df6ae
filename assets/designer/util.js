/* Helpers shared by the property groups: the page's translation, reading Bihuan's extension
 * elements, and building the undoable commands that change them.
 *
 * Every change goes through the command stack (one 'properties-panel.multi-command-executor' per
 * edit), so undo/redo and the editor's "unsaved changes" status keep working. */
import { h } from '@bpmn-io/properties-panel/preact';
import { useEffect } from '@bpmn-io/properties-panel/preact/hooks';
import { TextFieldEntry, TextAreaEntry } from '@bpmn-io/properties-panel';
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import { useService } from 'bpmn-js-properties-panel';

export { h, is, getBusinessObject, useService };

/* The page's texts (text.js): msgids are Chinese, #designer-messages carries the UI language. */
export function T(text, params) {
  return window.designerText ? window.designerText(text, params) : text;
}

/* Bihuan's lists (roles, forms, decisions, processes), passed as the modeler's `bihuan` config. */
export function useLists() {
  return useService('config.bihuan', false) || {};
}

export function extensionValues(bo, type) {
  const ext = bo && bo.get('extensionElements');
  return ext ? (ext.get('values') || []).filter((value) => is(value, type)) : [];
}

export function update(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

export function run(commandStack, commands) {
  if (commands.length) { commandStack.execute('properties-panel.multi-command-executor', commands); }
}

/* Commands adding `value` to bo's extension elements, creating <bpmn:extensionElements> if needed. */
export function addExtension(element, bo, value, bpmnFactory) {
  const commands = [];
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    commands.push(update(element, bo, { extensionElements: ext }));
  }
  value.$parent = ext;
  commands.push(update(element, ext, { values: (ext.get('values') || []).concat([value]) }));
  return commands;
}

export function removeExtension(element, bo, value) {
  const ext = bo.get('extensionElements');
  return ext ? [update(element, ext, { values: ext.get('values').filter((v) => v !== value) })] : [];
}

/* <spiffworkflow:property name=NAME> under the element's <spiffworkflow:properties>. */
export function getProperty(bo, name) {
  for (const holder of extensionValues(bo, 'spiffworkflow:Properties')) {
    const found = (holder.get('properties') || []).find((p) => p.name === name);
    if (found) { return found; }
  }
  return undefined;
}

/* Commands setting the property NAME to `value`; an empty value removes the property (and the
 * <spiffworkflow:properties> holder if nothing else is in it). */
export function setProperty(element, name, value, { moddle, bpmnFactory }) {
  const bo = getBusinessObject(element);
  const current = getProperty(bo, name);
  if (!value) {
    if (!current) { return []; }
    const holder = current.$parent;
    const rest = holder.get('properties').filter((p) => p !== current);
    return rest.length ? [update(element, holder, { properties: rest })] : removeExtension(element, bo, holder);
  }
  if (current) { return [update(element, current, { value })]; }
  const property = moddle.create('spiffworkflow:Property', { name, value });
  const holder = extensionValues(bo, 'spiffworkflow:Properties')[0];
  if (holder) {
    property.$parent = holder;
    return [update(element, holder, { properties: (holder.get('properties') || []).concat([property]) })];
  }
  const created = moddle.create('spiffworkflow:Properties', { properties: [property] });
  property.$parent = created;
  return addExtension(element, bo, created, bpmnFactory);
}

/* Commands setting the body of a single-valued extension element (calledDecisionId, preScript…);
 * empty removes it, so an untouched task gets no empty element. */
export function setBodyExtension(element, type, value, { moddle, bpmnFactory }) {
  const bo = getBusinessObject(element);
  const current = extensionValues(bo, type)[0];
  if (!value) { return current ? removeExtension(element, bo, current) : []; }
  if (current) { return [update(element, current, { value })]; }
  return addExtension(element, bo, moddle.create(type, { value }), bpmnFactory);
}

export function expression(bpmnFactory, body) {
  return body && body.trim() ? bpmnFactory.create('bpmn:FormalExpression', { body }) : undefined;
}

/* The panel's text field with the browser's own suggestion list (<datalist>): free text stays
 * possible (a form not yet uploaded, a process from another package) and validation reports it. */
export function SuggestEntry(props) {
  const { id, suggestions } = props;
  const listId = 'bihuan-suggest-' + id;
  useEffect(() => {
    const input = document.getElementById('bio-properties-panel-' + id);
    if (input) { input.setAttribute('list', listId); }
  });
  return h('div', null,
    h(TextFieldEntry, props),
    h('datalist', { id: listId }, (suggestions || []).map((value) => h('option', { value }))));
}

export function CodeEntry(props) {
  return h(TextAreaEntry, Object.assign({ monospace: true, rows: 4, autoResize: true }, props));
}

/* A read-only line of help in the panel's look. */
export function Note(props) {
  return h('div', { class: 'bio-properties-panel-entry bihuan-note', 'data-entry-id': props.id },
    h('p', { class: 'bio-properties-panel-description' }, props.text));
}
