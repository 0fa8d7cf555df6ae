/* Entry of the designer's modeler bundle (npm run build -> app/static/vendor/bihuan-modeler/):
 * bpmn-js's modeler with bpmn.io's properties panel, Bihuan's properties provider and the
 * SpiffWorkflow moddle extension. The page (app/static/js/designer/bpmn_editor.js) uses
 * window.BihuanModeler.create(...); translate.js and text.js stay plain scripts loaded before. */
import Modeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import spiffModdle from './moddle.js';
import BihuanProviderModule from './provider.js';
import KeepLoopDataRefs from './loop_refs.js';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import './panel.css';

/* options: canvas and panel (elements or selectors), translate (a diagram-js module giving the
 * page's `translate`), lists ({roles, forms, decisions, processes} for the suggestions). */
function create(options) {
  return new Modeler({
    container: options.canvas,
    propertiesPanel: { parent: options.panel },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, BihuanProviderModule,
                        KeepLoopDataRefs].concat(options.translate ? [options.translate] : []),
    moddleExtensions: { spiffworkflow: spiffModdle },
    bihuan: options.lists || {}
  });
}

window.BihuanModeler = { create, moddle: spiffModdle };
