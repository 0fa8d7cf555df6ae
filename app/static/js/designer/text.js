/* The designer's browser-side texts in the UI language: the page renders the translations of
 * every msgid (app/designer/messages.py) into #designer-messages; msgids are the Chinese text.
 * designerText(msgid, {n: 3}) → the translated text with its {name} placeholders filled. */
(function () {
  'use strict';
  var node = document.getElementById('designer-messages');
  var messages = node ? JSON.parse(node.textContent) : {};
  window.designerText = function (text, params) {
    var out = messages[text] || text;
    return params ? out.replace(/{(\w+)}/g, function (m, key) { return key in params ? params[key] : m; }) : out;
  };
})();
