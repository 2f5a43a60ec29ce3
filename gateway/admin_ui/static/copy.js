// Copy buttons: <button data-copy="ID" hidden> copies the text of the element with that id.
// They stay hidden where the browser offers no clipboard (plain HTTP off localhost), where
// selecting the text by hand is the way.
"use strict";

if (navigator.clipboard) {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "Copied";
      } catch {
        button.textContent = "Could not copy: select the text and copy it";
      }
    });
  }
}
