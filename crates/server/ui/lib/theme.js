// Light and dark: follows the system until the reader picks one, then remembers the choice.

import { mount } from "./dom.js";
import { icon } from "./icons.js";

const KEY = "flowgate-theme";

/** The theme in effect: "light" or "dark". */
export function currentTheme() {
  const chosen = document.documentElement.dataset.theme;
  if (chosen) return chosen;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** Applies the remembered theme and makes `button` switch between light and dark. */
export function initTheme(button) {
  const saved = localStorage.getItem(KEY);
  if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
  const paint = () => {
    const dark = currentTheme() === "dark";
    mount(button, icon(dark ? "sun" : "moon"), dark ? "Light theme" : "Dark theme");
  };
  button.addEventListener("click", () => {
    document.documentElement.dataset.theme = currentTheme() === "dark" ? "light" : "dark";
    localStorage.setItem(KEY, document.documentElement.dataset.theme);
    paint();
    window.dispatchEvent(new CustomEvent("themechange"));
  });
  paint();
}
