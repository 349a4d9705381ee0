// Copy buttons (share page, sending domain records). Without JS (or clipboard access) the fields stay selectable by hand.
document.addEventListener("DOMContentLoaded", function () {
  var status = document.querySelector(".copied");
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      navigator.clipboard.writeText(field.value).then(function () {
        if (status) { status.textContent = status.getAttribute("data-copied-text"); }
      });
    });
  });
});
