// The subscribe form's proof of work: find a number that makes SHA-256(puzzle ":" number) start with enough
// zero bits, in the background as soon as the page loads. The server puts a puzzle in the form only past its
// abuse limits (many subscriptions from one network just now); a person hardly notices, a script pays for
// every submission.
(function () {
  "use strict";
  var BITS = 16;

  function zeroBits(bytes) {
    var count = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { count += 8; continue; }
      return count + Math.clz32(bytes[i]) - 24;
    }
    return count;
  }

  async function solve(puzzle) {
    var encoder = new TextEncoder();
    for (var n = 0; ; n++) {
      var digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(puzzle + ":" + n)));
      if (zeroBits(digest) >= BITS) { return String(n); }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-puzzle]");
    if (!form || !window.crypto || !crypto.subtle) { return; }
    var puzzle = form.querySelector("input[name=puzzle]");
    var proof = form.querySelector("input[name=proof]");
    if (!puzzle || !puzzle.value) { return; }
    var solving = solve(puzzle.value).then(function (answer) { proof.value = answer; });
    form.addEventListener("submit", function (event) {
      if (proof.value) { return; }
      event.preventDefault();  // solved within a second or two: submit as soon as it is
      solving.then(function () { form.submit(); });
    });
  });
})();
