/* The form editor page: JSON Schema text on the left, the caseworker's form on the right,
 * re-rendered by the server (the same renderer the task pages use) shortly after each edit. */
(function () {
  'use strict';

  var T = window.designerText;
  var config = Designer.readConfig();
  var source = document.getElementById('schema');
  var preview = document.getElementById('preview');
  var timer = null;
  var sequence = 0;

  var editor = new Designer.Editor({
    getText: function () { return Promise.resolve(source.value); }
  });

  function refresh() {
    var mine = ++sequence;
    try {
      JSON.parse(source.value);
    } catch (error) {
      showError(T('不是合法的 JSON：{message}', { message: error.message }));
      return;
    }
    fetch(config.preview_url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'text/html',
                 'X-CSRFToken': document.querySelector('meta[name="csrf-token"]').content },
      body: JSON.stringify({ text: source.value })
    }).then(function (response) {
      if (response.redirected || response.status === 401 || response.status === 403) {
        throw new Error(T('登录已过期，请在新窗口重新登录后再试。'));
      }
      return response.text();
    }).then(function (html) {
      // the server escapes every schema value when rendering; an older response must not win
      if (mine === sequence) { preview.innerHTML = html; }
    }).catch(function (error) {
      if (mine === sequence) { showError(error.message || String(error)); }
    });
  }

  function showError(message) {
    preview.querySelectorAll('.local-error').forEach(function (n) { n.remove(); });
    var box = document.createElement('div');
    box.className = 'form-error local-error';
    box.textContent = message;
    preview.insertBefore(box, preview.firstChild);
  }

  source.addEventListener('input', function () {
    editor.changed();
    clearTimeout(timer);
    timer = setTimeout(refresh, 350);
  });
  document.body.dataset.editorReady = 'yes';
})();
