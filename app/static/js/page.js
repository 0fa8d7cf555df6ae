/* Behaviour every page may use, declared in markup instead of inline handlers (the
 * Content-Security-Policy runs no inline handler):
 *   <form data-confirm="...">        asks before submitting;
 *   <select data-navigate>            goes to the chosen option's value (a URL);
 *   <form data-no-submit>             never submits (previews);
 *   <a data-print>                    prints the page. */
(function () {
  'use strict';
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form.hasAttribute('data-no-submit')) { event.preventDefault(); return; }
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('[data-print]');
    if (link) { event.preventDefault(); window.print(); }
  });
  document.addEventListener('change', function (event) {
    var select = event.target;
    if (select.matches && select.matches('select[data-navigate]') && select.value) {
      window.location.href = select.value;
    }
  });
}());
