/* Chinese labels for the bpmn-js and dmn-js editors.
 *
 * Both libraries route every UI string through a `translate` service; replacing it with a
 * dictionary lookup is their documented way to localise. Strings not listed stay English.
 * Exposes window.BihuanTranslate = { bpmn: module, dmn: module }.
 */
(function () {
  'use strict';

  var COMMON = {
    'Activate hand tool': '抓手工具（拖动画布）',
    'Activate lasso tool': '套索工具（框选）',
    'Activate create/remove space tool': '插入/删除空间',
    'Activate global connect tool': '连线工具',
    'Connect to other element': '连线到其他元素',
    'Connect using association': '用关联连线',
    'Connect using data input association': '用数据输入关联连线',
    'Connect using sequence/message flow or association': '用顺序流/消息流或关联连线',
    'Add text annotation': '添加文本注释',
    'Search in diagram': '在图中搜索',
    'Delete': '删除',
    'Remove': '删除',
    'Edit': '编辑',
    'Type': '类型',
    'Value': '值',
    'Values': '值',
    'Yes': '是',
    'No': '否'
  };

  var BPMN = {
    'Create start event': '创建开始事件',
    'Create intermediate/boundary event': '创建中间/边界事件',
    'Create end event': '创建结束事件',
    'Create gateway': '创建网关',
    'Create task': '创建任务',
    'Create Task': '创建任务',
    'Create data object reference': '创建数据对象',
    'Create data store reference': '创建数据存储',
    'Create expanded sub-process': '创建展开的子流程',
    'Create pool/participant': '创建池/参与者',
    'Create group': '创建分组',
    'Append end event': '追加结束事件',
    'Append gateway': '追加网关',
    'Append task': '追加任务',
    'Append Task': '追加任务',
    'Append intermediate/boundary event': '追加中间/边界事件',
    'Append receive task': '追加接收任务',
    'Append compensation activity': '追加补偿活动',
    'Append message intermediate catch event': '追加消息捕获事件',
    'Append timer intermediate catch event': '追加定时器事件',
    'Append conditional intermediate catch event': '追加条件捕获事件',
    'Append signal intermediate catch event': '追加信号捕获事件',
    'Change element': '更改元素类型',
    'Change type': '更改类型',
    'Add lane above': '在上方添加泳道',
    'Add lane below': '在下方添加泳道',
    'Divide into two lanes': '拆分为两条泳道',
    'Divide into three lanes': '拆分为三条泳道',
    'Align elements': '对齐元素',
    'Distribute elements horizontally': '水平均匀分布',
    'Distribute elements vertically': '垂直均匀分布',
    'Toggle non-interrupting': '切换为非中断',
    'Open {element}': '打开 {element}',
    'Loop': '循环',
    'Parallel multi-instance': '并行多实例',
    'Sequential multi-instance': '串行多实例',
    'Collection': '集合',
    'Participant multiplicity': '参与者多重性',
    // the "change element" menu
    'Task': '任务',
    'User task': '用户任务',
    'Script task': '脚本任务',
    'Service task': '服务任务',
    'Send task': '发送任务',
    'Receive task': '接收任务',
    'Manual task': '手工任务',
    'Business rule task': '业务规则任务（决策表）',
    'Call activity': '调用活动',
    'Sub-process': '子流程',
    'Sub-process (collapsed)': '子流程（折叠）',
    'Sub-process (expanded)': '子流程（展开）',
    'Event sub-process': '事件子流程',
    'Transaction': '事务',
    'Start event': '开始事件',
    'End event': '结束事件',
    'Intermediate throw event': '中间抛出事件',
    'Boundary event': '边界事件',
    'Timer start event': '定时开始事件',
    'Message start event': '消息开始事件',
    'Timer intermediate catch event': '定时中间事件',
    'Message intermediate catch event': '消息中间捕获事件',
    'Message intermediate throw event': '消息中间抛出事件',
    'Timer boundary event': '定时边界事件',
    'Timer boundary event (non-interrupting)': '定时边界事件（非中断）',
    'Message boundary event': '消息边界事件',
    'Message boundary event (non-interrupting)': '消息边界事件（非中断）',
    'Error boundary event': '错误边界事件',
    'Message end event': '消息结束事件',
    'Error end event': '错误结束事件',
    'Terminate end event': '终止结束事件',
    'Exclusive gateway': '排他网关',
    'Parallel gateway': '并行网关',
    'Inclusive gateway': '包容网关',
    'Event-based gateway': '事件网关',
    'Complex gateway': '复杂网关',
    'Sequence flow': '顺序流',
    'Default flow': '默认流',
    'Conditional flow': '条件流',
    'Data object reference': '数据对象',
    'Data store reference': '数据存储',
    'Expanded pool/participant': '展开的池/参与者',
    'Empty pool/participant': '空池/参与者',
    // import warnings bpmn-js builds with translate()
    'no diagram to display': '没有可显示的图（文件缺少图形布局 DI）',
    'element {element} referenced by {referenced}#{property} not yet drawn': '元素 {element}（被 {referenced}#{property} 引用）尚未绘制',
    'unknown di {di} for element {semantic}': '元素 {semantic} 的图形信息 {di} 无法识别',
    'missing {semantic}#attachedToRef': '{semantic} 缺少 attachedToRef',
    'multiple DI elements defined for {element}': '{element} 有多个图形定义'
  };

  var DMN = {
    'When': '当',
    'And': '且',
    'Then': '则',
    'Annotation': '备注',
    'Annotations': '备注',
    'Hit policy': '命中策略',
    'Hit policy:': '命中策略：',
    'View DRD': '查看决策需求图',
    'Add rule': '添加规则',
    'Add rule above': '在上方添加规则',
    'Add rule below': '在下方添加规则',
    'Remove rule': '删除规则',
    'Copy rule': '复制规则',
    'Cut rule': '剪切规则',
    'Paste rule above': '粘贴到上方',
    'Paste rule below': '粘贴到下方',
    'Move rule': '移动规则',
    'Add input': '添加输入',
    'Add output': '添加输出',
    'Add input column left': '在左侧添加输入列',
    'Add input column right': '在右侧添加输入列',
    'Add output column left': '在左侧添加输出列',
    'Add output column right': '在右侧添加输出列',
    'Remove input column': '删除输入列',
    'Remove output column': '删除输出列',
    'Input': '输入',
    'Output': '输出',
    'Input label': '输入标签',
    'Output label': '输出标签',
    'Output name': '输出变量名',
    'Input expression': '输入表达式',
    'Input type': '输入类型',
    'Output type': '输出类型',
    'Expression': '表达式',
    'Expression language': '表达式语言',
    'Enter expression': '输入表达式',
    'Strings must be in double quotes': '字符串需要用双引号括起来',
    'Add cell description': '添加单元格说明',
    'Remove cell description': '删除单元格说明',
    'Create decision': '创建决策',
    'Create input data': '创建输入数据',
    'Decision name': '决策名称',
    'Element name': '元素名称'
  };

  // the libraries speak English already; the dictionaries apply when the page is in Chinese
  var chinese = (document.documentElement.lang || '').toLowerCase().indexOf('zh') === 0;

  function dictionaryTranslate(dictionary) {
    return function translate(template, replacements) {
      var text = chinese ? (dictionary[template] || COMMON[template] || template) : template;
      replacements = replacements || {};
      return text.replace(/{([^}]+)}/g, function (_, key) {
        return key in replacements ? replacements[key] : '{' + key + '}';
      });
    };
  }

  window.BihuanTranslate = {
    bpmn: { translate: ['value', dictionaryTranslate(BPMN)] },
    dmn: { translate: ['value', dictionaryTranslate(DMN)] },
    text: dictionaryTranslate(BPMN)
  };
})();
