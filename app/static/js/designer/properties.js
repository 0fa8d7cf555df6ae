/* A small properties panel for the bpmn-js modeler: just what the engine reads.
 *
 * bpmn-js-properties-panel needs a bundler, so this edits the few properties our process uses
 * through the modeler's own services (modeling, moddle, bpmnFactory), which keeps undo/redo:
 * names; lane id = role; a user task's form (spiffworkflow:property formJsonSchemaFilename);
 * timer expressions; gateway conditions and default flow; script text; the called decision
 * of a business rule task; the called process of a call activity.
 *
 * Exposes window.BihuanProperties(modeler, container, {roles: [[id, label]], forms: [name]})
 * and window.BihuanSpiffModdle (the moddle descriptor for the SpiffWorkflow namespace).
 */
(function () {
  'use strict';

  var T = window.designerText;

  var FORM_PROPERTY = 'formJsonSchemaFilename';
  var TIMER_KINDS = [['timeDate', T('时间点 timeDate')], ['timeDuration', T('时长 timeDuration')],
                     ['timeCycle', T('周期 timeCycle')]];
  var TYPE_LABELS = {
    'bpmn:UserTask': T('用户任务'), 'bpmn:ScriptTask': T('脚本任务'), 'bpmn:BusinessRuleTask': T('业务规则任务'),
    'bpmn:CallActivity': T('调用活动'), 'bpmn:SubProcess': T('子流程'), 'bpmn:Task': T('任务'),
    'bpmn:StartEvent': T('开始事件'), 'bpmn:EndEvent': T('结束事件'), 'bpmn:BoundaryEvent': T('边界事件'),
    'bpmn:IntermediateCatchEvent': T('中间捕获事件'), 'bpmn:IntermediateThrowEvent': T('中间抛出事件'),
    'bpmn:ExclusiveGateway': T('排他网关'), 'bpmn:ParallelGateway': T('并行网关'),
    'bpmn:InclusiveGateway': T('包容网关'), 'bpmn:EventBasedGateway': T('事件网关'),
    'bpmn:SequenceFlow': T('顺序流'), 'bpmn:Lane': T('泳道（角色）'), 'bpmn:Participant': T('池/参与者'),
    'bpmn:Process': T('流程'), 'bpmn:Collaboration': T('协作'), 'bpmn:TextAnnotation': T('文本注释')
  };

  // SpiffWorkflow's extension elements, so moddle reads and writes them as typed elements.
  window.BihuanSpiffModdle = {
    name: 'SpiffWorkflow',
    prefix: 'spiffworkflow',
    uri: 'http://spiffworkflow.org/bpmn/schema/1.0/core',
    xml: { tagAlias: 'lowerCase' },
    associations: [],
    types: [
      { name: 'Properties', superClass: ['Element'],
        properties: [{ name: 'properties', type: 'Property', isMany: true }] },
      { name: 'Property', superClass: ['Element'],
        properties: [{ name: 'name', type: 'String', isAttr: true },
                     { name: 'value', type: 'String', isAttr: true }] },
      { name: 'CalledDecisionId', superClass: ['Element'],
        properties: [{ name: 'value', type: 'String', isBody: true }] },
      { name: 'PreScript', superClass: ['Element'],
        properties: [{ name: 'value', type: 'String', isBody: true }] },
      { name: 'PostScript', superClass: ['Element'],
        properties: [{ name: 'value', type: 'String', isBody: true }] },
      { name: 'InstructionsForEndUser', superClass: ['Element'],
        properties: [{ name: 'value', type: 'String', isBody: true }] }
    ]
  };

  function is(bo, type) { return bo && bo.$instanceOf && bo.$instanceOf(type); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'className') { node.className = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function Panel(modeler, container, options) {
    this.modeler = modeler;
    this.container = container;
    this.roles = options.roles || [];
    this.forms = options.forms || [];
    this.decisions = options.decisions || [];
    this.modeling = modeler.get('modeling');
    this.moddle = modeler.get('moddle');
    this.factory = modeler.get('bpmnFactory');
    this.registry = modeler.get('elementRegistry');
    this.canvas = modeler.get('canvas');
    this.element = null;
    this.stale = false;
    var self = this;
    var events = modeler.get('eventBus');
    events.on('selection.changed', function (event) {
      self.show(event.newSelection.length === 1 ? event.newSelection[0] : null);
    });
    events.on('elements.changed', function (event) {
      var mine = event.elements.some(function (e) { return self.element && e.id === self.element.id; });
      if (!mine && self.element && !self.registry.get(self.element.id)) { mine = true; self.element = null; }
      if (!mine) { return; }
      // re-drawing under the user's cursor would lose their focus; wait until they leave the panel
      if (container.contains(document.activeElement)) { self.stale = true; } else { self.show(self.element); }
    });
    container.addEventListener('focusout', function (event) {
      if (self.stale && !container.contains(event.relatedTarget)) { self.stale = false; self.show(self.element); }
    });
    events.on('import.done', function () { self.show(null); });
  }

  Panel.prototype.show = function (element) {
    this.element = element && this.registry.get(element.id) ? element : null;
    var target = this.element || this.canvas.getRootElement();
    var bo = target && target.businessObject;
    this.container.textContent = '';
    if (!bo) { return; }
    var head = el('div', { className: 'prop-head' });
    head.appendChild(el('strong', {}, TYPE_LABELS[bo.$type] || bo.$type.replace('bpmn:', '')));
    head.appendChild(el('code', { className: 'prop-id', 'data-testid': 'prop-id' }, bo.id || ''));
    this.container.appendChild(head);
    if (!this.element) {
      this.container.appendChild(el('p', { className: 'help' }, T('在图中选择一个元素以编辑其属性。')));
    }
    if (!is(bo, 'bpmn:Collaboration')) { this.nameField(target, bo); }
    if (is(bo, 'bpmn:Lane')) { this.laneFields(target, bo); }
    if (is(bo, 'bpmn:FlowNode') && !is(bo, 'bpmn:Lane')) { this.laneInfo(bo); }
    if (is(bo, 'bpmn:UserTask')) { this.formField(target, bo); }
    if (is(bo, 'bpmn:ScriptTask')) { this.scriptField(target, bo); }
    if (is(bo, 'bpmn:BusinessRuleTask')) { this.decisionField(target, bo); }
    if (is(bo, 'bpmn:CallActivity')) { this.calledElementField(target, bo); }
    var timer = (bo.eventDefinitions || []).filter(function (d) { return is(d, 'bpmn:TimerEventDefinition'); })[0];
    if (timer) { this.timerFields(target, timer); }
    if (is(bo, 'bpmn:ExclusiveGateway') || is(bo, 'bpmn:InclusiveGateway')) { this.gatewayFields(target, bo); }
    if (is(bo, 'bpmn:SequenceFlow')) { this.flowFields(target, bo); }
  };

  // -- building blocks ----------------------------------------------------------------------
  Panel.prototype.field = function (label, control, help) {
    var id = 'prop-' + Math.random().toString(36).slice(2, 9);
    var wrap = el('div', { className: 'prop-field' });
    var lab = el('label', { 'for': id }, label);
    control.id = id;
    wrap.appendChild(lab);
    wrap.appendChild(control);
    if (help) { wrap.appendChild(el('div', { className: 'help' }, help)); }
    this.container.appendChild(wrap);
    return control;
  };

  Panel.prototype.input = function (label, name, value, onChange, help) {
    var input = el('input', { type: 'text', name: name, autocomplete: 'off' });
    input.value = value || '';
    input.addEventListener('change', function () { onChange(input.value); });
    return this.field(label, input, help);
  };

  Panel.prototype.textarea = function (label, name, value, onChange, help) {
    var area = el('textarea', { name: name, spellcheck: 'false', className: 'code', rows: '4' });
    area.value = value || '';
    area.addEventListener('change', function () { onChange(area.value); });
    return this.field(label, area, help);
  };

  Panel.prototype.error = function (message) {
    var box = this.container.querySelector('.prop-error');
    if (!box) { box = el('div', { className: 'prop-error field-error', role: 'alert' }); this.container.appendChild(box); }
    box.textContent = message;
  };

  Panel.prototype.expression = function (body) {
    return body && body.trim() ? this.factory.create('bpmn:FormalExpression', { body: body }) : undefined;
  };

  // the extension element of `type` under bo.extensionElements; created with `attrs` when asked
  Panel.prototype.extension = function (element, type, attrs) {
    var bo = element.businessObject;
    var ext = bo.extensionElements;
    var found = ext && (ext.values || []).filter(function (v) { return is(v, type); })[0];
    if (found || !attrs) { return found; }
    if (!ext) {
      ext = this.factory.create('bpmn:ExtensionElements', { values: [] });
      ext.$parent = bo;
      this.modeling.updateProperties(element, { extensionElements: ext });
    }
    var value = this.moddle.create(type, attrs);
    value.$parent = ext;
    this.modeling.updateModdleProperties(element, ext, { values: (ext.values || []).concat([value]) });
    return value;
  };

  // -- sections -----------------------------------------------------------------------------
  Panel.prototype.nameField = function (element, bo) {
    var modeling = this.modeling;
    this.input(T('名称'), 'name', bo.name, function (value) {
      modeling.updateProperties(element, { name: value || undefined });
    });
  };

  Panel.prototype.laneFields = function (element, bo) {
    var self = this;
    var select = el('select', { name: 'lane_role' });
    var known = this.roles.some(function (r) { return r[0] === bo.id; });
    if (!known) { select.appendChild(el('option', { value: bo.id }, T('{id}（不是已知角色）', { id: bo.id }))); }
    this.roles.forEach(function (role) {
      var option = el('option', { value: role[0] }, role[0] + ' · ' + role[1]);
      if (role[0] === bo.id) { option.selected = true; }
      select.appendChild(option);
    });
    select.addEventListener('change', function () {
      var id = select.value;
      if (id === bo.id) { return; }
      if (self.moddle.ids.assigned(id)) {
        self.error(T('已有元素使用 ID “{id}”（可能是另一条泳道），不能重复。', { id: id }));
        select.value = bo.id;
        return;
      }
      self.modeling.updateProperties(element, { id: id });
    });
    this.field(T('泳道 ID = 角色'), select, T('泳道中的用户任务由该角色办理；承办部门任务归案件所在部门。'));
  };

  Panel.prototype.laneInfo = function (bo) {
    var lanes = (bo.get ? bo.get('lanes') : bo.lanes) || [];
    if (!lanes.length) { return; }
    var text = lanes.map(function (lane) { return lane.id + (lane.name ? '（' + lane.name + '）' : ''); }).join('、');
    this.container.appendChild(el('p', { className: 'help prop-lane' }, T('所在泳道（角色）：{lanes}', { lanes: text })));
  };

  Panel.prototype.formField = function (element, bo) {
    var self = this;
    var props = this.extension(element, 'spiffworkflow:Properties');
    var current = props && (props.properties || []).filter(function (p) { return p.name === FORM_PROPERTY; })[0];
    var listId = 'known-forms';
    if (!document.getElementById(listId)) {
      var list = el('datalist', { id: listId });
      this.forms.forEach(function (name) { list.appendChild(el('option', { value: name })); });
      document.body.appendChild(list);
    }
    var input = this.input(T('表单（JSON Schema 文件）'), 'form', current ? current.value : '', function (value) {
      value = value.trim();
      var holder = self.extension(element, 'spiffworkflow:Properties', { properties: [] });
      var prop = (holder.properties || []).filter(function (p) { return p.name === FORM_PROPERTY; })[0];
      if (prop) {
        self.modeling.updateModdleProperties(element, prop, { value: value });
      } else {
        prop = self.moddle.create('spiffworkflow:Property', { name: FORM_PROPERTY, value: value });
        prop.$parent = holder;
        self.modeling.updateModdleProperties(element, holder, { properties: (holder.properties || []).concat([prop]) });
      }
    }, T('文件在 forms/ 下，例如 dispatch.schema.json。'));
    input.setAttribute('list', listId);
  };

  Panel.prototype.scriptField = function (element, bo) {
    var modeling = this.modeling;
    var area = this.textarea(T('脚本（Python，沙箱执行）'), 'script', bo.script, function (value) {
      modeling.updateProperties(element, { script: value });
    }, T('可用 now()、working_days_after(start, n)；不可 import，不可使用双下划线名称、while 和 **。'));
    area.rows = 8;
  };

  Panel.prototype.decisionField = function (element, bo) {
    var self = this;
    var current = this.extension(element, 'spiffworkflow:CalledDecisionId');
    var input = this.input(T('决策表 ID'), 'called_decision', current ? current.value : '', function (value) {
      var holder = self.extension(element, 'spiffworkflow:CalledDecisionId', { value: value.trim() });
      self.modeling.updateModdleProperties(element, holder, { value: value.trim() });
    }, T('对应 rules/*.dmn 中 decision 的 id，例如 deadlines。'));
    if (this.decisions.length) {
      var list = el('datalist', { id: 'known-decisions' });
      this.decisions.forEach(function (id) { list.appendChild(el('option', { value: id })); });
      this.container.appendChild(list);
      input.setAttribute('list', 'known-decisions');
    }
  };

  Panel.prototype.calledElementField = function (element, bo) {
    var modeling = this.modeling;
    this.input(T('被调用流程 ID'), 'called_element', bo.calledElement, function (value) {
      modeling.updateProperties(element, { calledElement: value.trim() || undefined });
    }, T('例如 supervision_escalation。'));
  };

  Panel.prototype.timerFields = function (element, timer) {
    var self = this;
    var kind = TIMER_KINDS.filter(function (k) { return timer[k[0]]; }).map(function (k) { return k[0]; })[0] || 'timeDate';
    var select = el('select', { name: 'timer_kind' });
    TIMER_KINDS.forEach(function (k) {
      var option = el('option', { value: k[0] }, k[1]);
      if (k[0] === kind) { option.selected = true; }
      select.appendChild(option);
    });
    this.field(T('定时器类型'), select);
    var current = timer[kind] ? timer[kind].body : '';
    var area = this.textarea(T('定时器表达式'), 'timer_expression', current, apply,
                             T('工作日时限写作 working_days_after(start, n)，例如 working_days_after(dispatched_at, 1)；也可以直接写变量名（如 deadline）。'));
    select.addEventListener('change', function () { apply(area.value); });

    function apply(body) {
      var update = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
      update[select.value] = self.expression(body);
      self.modeling.updateModdleProperties(element, timer, update);
    }
  };

  Panel.prototype.conditionFor = function (flow, label) {
    var self = this;
    var flowElement = this.registry.get(flow.id);
    var body = flow.conditionExpression ? flow.conditionExpression.body : '';
    return this.textarea(label, 'condition_' + flow.id, body, function (value) {
      if (!flowElement) { return; }
      self.modeling.updateProperties(flowElement, { conditionExpression: self.expression(value) });
    }, null);
  };

  Panel.prototype.gatewayFields = function (element, bo) {
    var self = this;
    var outgoing = bo.outgoing || [];
    var select = el('select', { name: 'default_flow' });
    select.appendChild(el('option', { value: '' }, T('（无默认流）')));
    outgoing.forEach(function (flow) {
      var target = flow.targetRef;
      var option = el('option', { value: flow.id },
                      flow.id + (target ? ' → ' + (target.name || target.id) : ''));
      if (bo['default'] && bo['default'].id === flow.id) { option.selected = true; }
      select.appendChild(option);
    });
    select.addEventListener('change', function () {
      var flow = outgoing.filter(function (f) { return f.id === select.value; })[0];
      self.modeling.updateProperties(element, { 'default': flow || undefined });
    });
    this.field(T('默认流'), select, T('没有条件成立时走默认流。'));
    outgoing.forEach(function (flow) {
      if (bo['default'] && bo['default'].id === flow.id) { return; }
      var target = flow.targetRef;
      self.conditionFor(flow, T('条件：{flow}', { flow: flow.id + (target ? ' → ' + (target.name || target.id) : '') }));
    });
    this.container.appendChild(el('p', { className: 'help' },
      T('条件是 Python 表达式，例如 decision == "refuse"、return_count >= 2。')));
  };

  Panel.prototype.flowFields = function (element, bo) {
    var source = bo.sourceRef;
    if (source && source['default'] && source['default'].id === bo.id) {
      this.container.appendChild(el('p', { className: 'help' }, T('这是网关 {id} 的默认流，不需要条件。', { id: source.id })));
      return;
    }
    if (source && (is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway'))) {
      this.conditionFor(bo, T('条件表达式'));
    }
  };

  // -- selecting an element from outside (problem list, ?select=) ---------------------------
  Panel.prototype.select = function (id) {
    var element = this.registry.get(id);
    if (!element) { return false; }
    var root = this.canvas.findRoot ? this.canvas.findRoot(element) : null;
    if (root && root !== this.canvas.getRootElement()) { this.canvas.setRootElement(root); }
    this.modeler.get('selection').select(element);
    // a whole-diagram overview is too small to see one element: zoom in, then centre it
    if (this.canvas.zoom() < 0.8) { this.canvas.zoom(1); }
    if (typeof element.x === 'number') {
      var box = this.canvas.viewbox();
      this.canvas.viewbox({ x: element.x + element.width / 2 - box.width / 2,
                            y: element.y + element.height / 2 - box.height / 2,
                            width: box.width, height: box.height });
    } else if (this.canvas.scrollToElement) {
      this.canvas.scrollToElement(element, { top: 80, bottom: 80, left: 80, right: 80 });
    }
    return true;
  };

  window.BihuanProperties = function (modeler, container, options) {
    return new Panel(modeler, container, options || {});
  };
})();
