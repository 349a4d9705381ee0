// Live figures on the issue page while a send runs; without JS the Refresh link does the same.
document.addEventListener("DOMContentLoaded", function () {
  var section = document.querySelector("section.progress[data-progress-url]");
  if (!section || section.getAttribute("data-status") !== "sending") { return; }
  var bar = section.querySelector("progress");
  function update(data) {
    Object.keys(data.counts).forEach(function (key) {
      var cell = section.querySelector('[data-count="' + key + '"]');
      if (cell) { cell.textContent = data.counts[key]; }
    });
    section.querySelector('[data-field="planned"]').textContent = data.planned;
    bar.max = Math.max(data.planned, 1);
    bar.value = data.done;
    if (data.status !== "sending") { window.location.reload(); return; }
    window.setTimeout(poll, 3000);
  }
  function poll() {
    fetch(section.getAttribute("data-progress-url"), {credentials: "same-origin"})
      .then(function (answer) { return answer.ok ? answer.json() : Promise.reject(answer.status); })
      .then(update, function () { window.setTimeout(poll, 15000); });
  }
  window.setTimeout(poll, 3000);
});
