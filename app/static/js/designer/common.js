/* What the three editors (BPMN, DMN, form) share: the page config, saving the draft with its
 * revision (a stale revision comes back 409 and the editor keeps its content), validation
 * with clickable problems, and a download of the editor content as a safety net.
 *
 * The page provides <script type="application/json" id="designer-config"> with
 * {path, kind, revision, text, save_url, validate_url, download_name} and the elements
 * #save, #validate, #download, #editor-status, #conflict, #problems.
 */
(function () {
  'use strict';

  var T = window.designerText;

  function $(id) { return document.getElementById(id); }

  function readConfig() {
    return JSON.parse($('designer-config').textContent);
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  // fetch with the CSRF header; resolves to {status, data} whatever the status, data = JSON or null
  function request(method, url, body) {
    var options = {
      method: method,
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json', 'X-CSRFToken': csrfToken() }
    };
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { message: text.slice(0, 300) }; }
        // a redirect (to the login page) is never the answer these JSON endpoints give
        return { status: response.redirected ? 401 : response.status, data: response.redirected ? null : data };
      });
    });
  }

  function failure(status) {
    return status === 401 ? T('登录已过期，请在新窗口重新登录后再试。') : T('服务器返回 {status}', { status: status });
  }

  function setStatus(message, kind) {
    var box = $('editor-status');
    if (!box) { return; }
    box.textContent = message || '';
    box.className = 'editor-status' + (kind ? ' ' + kind : '');
  }

  function downloadText(text, filename) {
    var blob = new Blob([text], { type: 'application/octet-stream' });
    var link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  function problemLabel(problem) {
    var where = problem.element_id || '';
    if (problem.element_name) { where += (where ? '（' + problem.element_name + '）' : problem.element_name); }
    return (where ? where + '：' : '') + problem.message;
  }

  /* One editor page. options: getText() → Promise<string>, select(elementId) → bool (found). */
  function Editor(options) {
    this.config = readConfig();
    this.getText = options.getText;
    this.select = options.select || function () { return false; };
    this.dirty = false;
    this.busy = false;
    var self = this;
    if ($('save')) { $('save').addEventListener('click', function () { self.save(); }); }
    if ($('validate')) { $('validate').addEventListener('click', function () { self.validate(); }); }
    ['download', 'conflict-download'].forEach(function (id) {
      if ($(id)) { $(id).addEventListener('click', function () { self.download(); }); }
    });
    window.addEventListener('beforeunload', function (event) {
      if (self.dirty) { event.preventDefault(); event.returnValue = ''; }
    });
  }

  Editor.prototype.changed = function () {
    this.dirty = true;
    setStatus(T('有未保存的修改'), 'pending');
  };

  Editor.prototype.download = function () {
    var self = this;
    return this.getText().then(function (text) { downloadText(text, self.config.download_name); });
  };

  Editor.prototype.save = function () {
    var self = this;
    if (this.busy) { return Promise.resolve(); }
    this.busy = true;
    setStatus(T('正在保存…'), 'pending');
    return this.getText().then(function (text) {
      return request('POST', self.config.save_url, { text: text, base_revision: self.config.revision });
    }).then(function (result) {
      var data = result.data || {};
      if (result.status === 200 && typeof data.revision === 'number') {
        self.config.revision = data.revision;
        self.dirty = false;
        $('conflict').hidden = true;
        setStatus(T('已保存（草稿修订 {n}）', { n: data.revision }), 'ok');
        document.body.dataset.revision = data.revision;
      } else if (result.status === 409) {
        // someone saved after we opened: keep everything in the editor and offer a download
        $('conflict-message').textContent = T('草稿已被他人修改：{message}', { message: data.message || '' });
        $('conflict').hidden = false;
        setStatus(T('未保存：草稿已被他人修改'), 'error');
      } else {
        setStatus(T('未保存：{message}', { message: data.message || failure(result.status) }), 'error');
      }
    }).catch(function (error) {
      setStatus(T('未保存：{message}', { message: error && error.message ? error.message : error }), 'error');
    }).then(function () { self.busy = false; });
  };

  Editor.prototype.validate = function () {
    var self = this;
    setStatus(T('正在校验草稿…'), 'pending');
    var note = this.dirty ? T('（校验的是已保存的草稿，当前修改尚未保存）') : '';
    return request('GET', this.config.validate_url).then(function (result) {
      if (result.status !== 200) {
        setStatus(T('校验失败：{message}', { message: (result.data && result.data.message) || failure(result.status) }),
                  'error');
        return;
      }
      var problems = result.data.problems || [];
      self.showProblems(problems);
      setStatus((problems.length ? T('发现 {n} 个问题', { n: problems.length }) : T('校验通过，没有发现问题')) + note,
                problems.length ? 'error' : 'ok');
    });
  };

  Editor.prototype.showProblems = function (problems) {
    var self = this;
    var list = $('problems');
    list.textContent = '';
    list.hidden = problems.length === 0;
    problems.forEach(function (problem) {
      var item = document.createElement('li');
      var file = document.createElement('span');
      file.className = 'problem-file';
      file.textContent = problem.file || T('（整个流程包）');
      item.appendChild(file);
      var target;
      if (problem.file === self.config.path && problem.element_id) {
        target = document.createElement('button');
        target.type = 'button';
        target.addEventListener('click', function () {
          if (!self.select(problem.element_id)) { setStatus(T('图中找不到元素 {id}', { id: problem.element_id }), 'error'); }
        });
      } else if (problem.url) {
        target = document.createElement('a');
        target.href = problem.url;
      } else {
        target = document.createElement('span');
      }
      target.className = 'problem';
      target.dataset.elementId = problem.element_id || '';
      target.textContent = problemLabel(problem);
      item.appendChild(target);
      list.appendChild(item);
    });
  };

  window.Designer = { Editor: Editor, request: request, setStatus: setStatus, readConfig: readConfig,
                      downloadText: downloadText };
})();
