// Draw each ```mermaid block as a diagram with the mermaid.min.js shipped beside this file
// (make docs copies it from the npm package): the site needs no network to show it.
document.addEventListener("DOMContentLoaded", function () {
  var blocks = document.querySelectorAll("pre > code.language-mermaid");
  blocks.forEach(function (code) {
    var diagram = document.createElement("div");
    diagram.className = "mermaid";
    diagram.textContent = code.textContent;
    code.parentNode.replaceWith(diagram);
  });
  if (blocks.length && window.mermaid) {
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
    window.mermaid.run({ querySelector: "div.mermaid" });
  }
});
