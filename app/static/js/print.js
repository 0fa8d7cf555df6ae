/* The print pages' button: a static file instead of an inline onclick (Content-Security-Policy). */
(function () {
  'use strict';
  document.addEventListener('click', function (event) {
    if (event.target.closest && event.target.closest('[data-print]')) { window.print(); }
  });
}());
