// Markdown as elements (never as an HTML string): headings, paragraphs, bullet and numbered
// lists, block quotes, fenced code, rules, pipe tables, and inline code, bold, italics and links. Raw HTML in
// the source is shown as the text it is.

import { h } from "./dom.js";

/**
 * Renders `source` into a `<div class="markdown">`. `headingOffset` demotes headings (1 turns
 * "#" into `<h2>`) so a description sits below the title of the dialog or page showing it.
 */
export function markdown(source, { headingOffset = 0 } = {}) {
  const root = h("div", { class: "markdown" });
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      i++;
    } else if ((m = line.match(/^\s*(```|~~~)/))) {
      const fence = m[1];
      const code = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence); i++) code.push(lines[i]);
      i++;
      root.append(h("pre", {}, h("code", {}, code.join("\n"))));
    } else if ((m = line.match(/^\s*(#{1,6})\s+(.*?)\s*#*\s*$/))) {
      root.append(h(`h${Math.min(6, m[1].length + headingOffset)}`, {}, inline(m[2])));
      i++;
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      root.append(h("hr"));
      i++;
    } else if (/^\s*>/.test(line)) {
      const quoted = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) quoted.push(lines[i].replace(/^\s*>\s?/, ""));
      root.append(h("blockquote", {}, ...markdown(quoted.join("\n"), { headingOffset }).childNodes));
    } else if (TABLE_RULE.test(lines[i + 1] ?? "") && line.includes("|")) {
      const head = cells(line);
      const rows = [];
      for (i += 2; i < lines.length && lines[i].includes("|") && lines[i].trim(); i++) rows.push(cells(lines[i]));
      root.append(
        h(
          "div",
          { class: "table-wrap" },
          h("table", { class: "data" }, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, inline(c))))), h("tbody", {}, rows.map((r) => h("tr", {}, head.map((_, j) => h("td", {}, inline(r[j] ?? ""))))))),
        ),
      );
    } else if (LIST_ITEM.test(line)) {
      const ordered = /^\s*\d+[.)]\s/.test(line);
      const list = h(ordered ? "ol" : "ul");
      for (; i < lines.length && LIST_ITEM.test(lines[i]); i++) {
        list.append(h("li", {}, inline(lines[i].replace(LIST_ITEM, ""))));
      }
      root.append(list);
    } else {
      const para = [];
      for (; i < lines.length && lines[i].trim() && !startsBlock(lines[i]); i++) para.push(lines[i].trim());
      root.append(h("p", {}, inline(para.join(" "))));
    }
  }
  return root;
}

const LIST_ITEM = /^\s*(?:[-*+]|\d+[.)])\s+/;
/** A pipe table's second line: `| --- | :---: |`. */
const TABLE_RULE = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;

/** The cells of a pipe table's row. */
function cells(line) {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

function startsBlock(line) {
  return LIST_ITEM.test(line) || /^\s*(#{1,6}\s|>|```|~~~)/.test(line);
}

// Inline code, bold, italics, links, bare URLs; the first match at each position wins.
const INLINE = /`([^`]+)`|\*\*(.+?)\*\*|__(.+?)__|\*(\S(?:.*?\S)?)\*|\b_(\S(?:.*?\S)?)_\b|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

/** Inline markdown of one line as a list of nodes and strings (strings become text nodes). */
export function inline(source) {
  const text = String(source ?? "");
  const out = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const [, code, bold1, bold2, em1, em2, linkText, linkUrl, bare] = m;
    if (code !== undefined) out.push(h("code", {}, code));
    else if (bold1 !== undefined || bold2 !== undefined) out.push(h("strong", {}, inline(bold1 ?? bold2)));
    else if (em1 !== undefined || em2 !== undefined) out.push(h("em", {}, inline(em1 ?? em2)));
    else if (linkText !== undefined) out.push(link(linkUrl, inline(linkText)));
    else out.push(link(bare, bare));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function link(url, children) {
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, children);
}
