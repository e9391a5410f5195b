// Progressive enhancement: every page works without this file.
"use strict";
document.documentElement.classList.add("js");

function bindCopyButtons(root) {
  root.querySelectorAll("button[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Copy failed";
      }
    });
  });
}

// The shorten form posts to the same URL without a reload, and shows the page the server rendered.
function bindShortenForm() {
  const form = document.querySelector("form.shorten");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const response = await fetch(form.action, { method: "POST", body: new FormData(form) });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const main = page.querySelector("#main");
      if (!main) throw new Error("unexpected answer");
      document.querySelector("#main").replaceWith(main);
      const servedBy = page.querySelector("footer .served-by");
      if (servedBy) document.querySelector("footer .served-by").textContent = servedBy.textContent;
      bindShortenForm();
      bindCopyButtons(document);
      (document.querySelector("#short-link") || document.querySelector("[aria-invalid=true]") || main).focus();
    } catch {
      form.submit(); // fall back to the plain form post
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  bindShortenForm();
  bindCopyButtons(document);
});
