/* Bihuan's groups in bpmn.io's properties panel, after the panel's own "General" group.
 *
 * The panel's BPMN timer group is replaced by ours: it explains ISO 8601 values only, while our
 * engine evaluates Python expressions (working_days_after…) and needs the reminder flag. */
import { Group } from '@bpmn-io/properties-panel';
import { T } from './util.js';
import RoleGroup from './groups/role.js';
import FormGroup from './groups/form.js';
import TimerGroup from './groups/timer.js';
import ConditionGroup from './groups/condition.js';
import ScriptGroup from './groups/script.js';
import CallGroup from './groups/call.js';

// [group id, label (looked up when drawn), entries of an element]
const GROUPS = [
  ['bihuanRole', () => T('办理角色'), RoleGroup],
  ['bihuanForm', () => T('表单'), FormGroup],
  ['bihuanTimer', () => T('定时器'), TimerGroup],
  ['bihuanCondition', () => T('条件'), ConditionGroup],
  ['bihuanScript', () => T('脚本'), ScriptGroup],
  ['bihuanCall', () => T('调用'), CallGroup]
];
const REPLACED = ['timer'];

export function bihuanGroups(element) {
  return GROUPS.map(([id, label, entries]) => ({ id, label: label(), component: Group, entries: entries(element) }))
    .filter((group) => group.entries.length);
}

function BihuanPropertiesProvider(propertiesPanel) {
  // a lower priority than the BPMN provider's (1000): its groups are there when ours come
  propertiesPanel.registerProvider(500, this);
}
BihuanPropertiesProvider.$inject = ['propertiesPanel'];

BihuanPropertiesProvider.prototype.getGroups = function (element) {
  return (groups) => {
    const kept = groups.filter((group) => REPLACED.indexOf(group.id) < 0);
    const at = kept.findIndex((group) => group.id === 'general') + 1;
    kept.splice(at, 0, ...bihuanGroups(element));
    return kept;
  };
};

export default {
  __init__: ['bihuanPropertiesProvider'],
  bihuanPropertiesProvider: ['type', BihuanPropertiesProvider]
};
