/* The patrol page records where the grid worker stands, when the browser gives a position: it fills
 * the hidden latitude/longitude/accuracy fields of the form (attachments/_macros.html location_fields).
 * Without one the report goes ahead; the server accepts it either way. A static file, not an inline
 * script, so that a Content-Security-Policy without 'unsafe-inline' runs it. */
(function () {
  'use strict';
  var status = document.getElementById('location-status');
  if (!status || !navigator.geolocation) return;
  status.textContent = status.getAttribute('data-waiting');
  navigator.geolocation.getCurrentPosition(function (pos) {
    document.getElementById('latitude').value = pos.coords.latitude;
    document.getElementById('longitude').value = pos.coords.longitude;
    document.getElementById('accuracy').value = pos.coords.accuracy;
    status.textContent = status.getAttribute('data-done') + ' (' + pos.coords.latitude.toFixed(5) + ', ' +
      pos.coords.longitude.toFixed(5) + ')';
  }, function () {
    status.textContent = status.getAttribute('data-failed');
  }, {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000});
}());
