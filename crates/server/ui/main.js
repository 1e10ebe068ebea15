// The UI's entry point: the theme, the sidebar, and the router that shows each page.

import { mount } from "./lib/dom.js";
import { navigation } from "./lib/nav.js";
import { startRouter } from "./lib/router.js";
import { initTheme } from "./lib/theme.js";
import { PAGES } from "./pages.js";

initTheme(document.getElementById("theme"));
const nav = navigation(PAGES);
mount(document.getElementById("nav"), nav.element);
startRouter(PAGES, document.getElementById("app"), nav.highlight);
