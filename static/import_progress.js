// A background job's page (an import's check or import, an export) while it runs: the figures are fetched again
// every two seconds and put in place; once the job is over the page reloads to show the report (or the download).
// Without JS the Refresh link does it.
document.addEventListener("DOMContentLoaded", function () {
  var section = document.querySelector("section.progress[data-job-status]");
  if (!section) { return; }
  var started = section.getAttribute("data-job-status");
  function update(data) {
    if (data.status !== started) { window.location.reload(); return; }
    section.innerHTML = data.html;
    window.setTimeout(poll, 2000);
  }
  function poll() {
    fetch(section.getAttribute("data-progress-url"), {credentials: "same-origin"})
      .then(function (answer) { return answer.ok ? answer.json() : Promise.reject(answer.status); })
      .then(update, function () { window.setTimeout(poll, 15000); });
  }
  window.setTimeout(poll, 2000);
});
