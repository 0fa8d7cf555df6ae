/* SpiffWorkflow's extension elements as moddle types, so bpmn-js reads and writes them as typed
 * elements (the panel edits them) instead of opaque XML. Names follow the XML the engine reads
 * (tagAlias lowerCase: type CalledDecisionId <-> <spiffworkflow:calledDecisionId>). Extension
 * elements not listed here still round-trip: moddle keeps unknown elements as generic ones. */
export default {
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
