// Reload every data-refresh seconds, keeping the query (and so a key's
// answer), but not while someone is typing another key.
(function () {
  var key = document.getElementById("key"), every = 1000 * Number(document.body.dataset.refresh);
  setInterval(function () {
    if (document.activeElement !== key && key.value === key.defaultValue) location.reload();
  }, every);
  document.body.dataset.reloading = "on";
})();
