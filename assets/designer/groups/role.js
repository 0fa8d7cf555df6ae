/* 办理角色: a lane's id is the role whose members handle the user tasks in it (the engine's
 * lane = role rule); a flow node shows which lane, i.e. which role, it sits in. */
import { SelectEntry } from '@bpmn-io/properties-panel';
import { h, is, getBusinessObject, useService, useLists, T, Note } from '../util.js';

function LaneRole(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const roles = useLists().roles || [];
  const current = getBusinessObject(element).id;
  const getOptions = () => {
    const options = roles.map(([role, label]) => ({ value: role, label: role + ' · ' + label }));
    if (!roles.some(([role]) => role === current)) {
      options.unshift({ value: current, label: T('{id}（不是已知角色）', { id: current }) });
    }
    return options;
  };
  // an id is unique in the whole diagram: two lanes of one role would clash, say so instead
  const validate = (value) => value !== getBusinessObject(element).id && moddle.ids.assigned(value)
    ? T('已有元素使用 ID “{id}”（可能是另一条泳道），不能重复。', { id: value }) : null;
  return h(SelectEntry, {
    element, id, label: T('泳道 ID = 角色'), getOptions, validate,
    description: T('泳道中的用户任务由该角色办理；承办部门任务归案件所在部门。'),
    getValue: () => getBusinessObject(element).id,
    setValue: (value, error) => { if (!error && value) { modeling.updateProperties(element, { id: value }); } }
  });
}

function lanesOf(element) {
  const bo = getBusinessObject(element);
  return (bo.get ? bo.get('lanes') : bo.lanes) || [];
}

export default function RoleGroup(element) {
  if (is(element, 'bpmn:Lane')) {
    return [{ id: 'bihuanLaneRole', component: LaneRole }];
  }
  if (is(element, 'bpmn:FlowNode')) {
    const lanes = lanesOf(element);
    if (!lanes.length) { return []; }
    const text = lanes.map((lane) => lane.id + (lane.name ? '（' + lane.name + '）' : '')).join('、');
    return [{ id: 'bihuanLaneInfo', component: (props) => h(Note, { id: props.id,
      text: T('所在泳道（角色）：{lanes}', { lanes: text }) }) }];
  }
  return [];
}
