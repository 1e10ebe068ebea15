// Tables described by their columns. A column is `{label, cell(row) → node or text, class?}`;
// `table()` shows rows it is given, `pagedTable()` asks for one page at a time and says how many
// rows there are in all (from a count, never from the length of a capped list).

import { h, mount } from "./dom.js";
import { count } from "./format.js";
import { icon } from "./icons.js";

/**
 * A table with `columns`; `update(rows)` shows rows (or `empty` when there are none). A row for
 * which `detail(row)` gives a node is followed by a full-width `tr.detail` row holding it (an
 * expanded row's panel).
 */
export function table({ columns, empty = "Nothing here yet.", rowAttrs = () => ({}), detail = () => null }) {
  const body = h("tbody");
  const element = h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "data" }, h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.class }, c.label)))), body),
  );
  return {
    element,
    update(rows) {
      mount(
        body,
        rows.length
          ? rows.flatMap((row) => {
              const tr = h("tr", rowAttrs(row), columns.map((c) => h("td", { class: c.class }, c.cell(row))));
              const more = detail(row);
              return more ? [tr, h("tr", { class: "detail" }, h("td", { colSpan: columns.length }, more))] : [tr];
            })
          : h("tr", {}, h("td", { class: "empty", colSpan: columns.length }, empty)),
      );
    },
  };
}

/**
 * A table that shows one page of `pageSize` rows. `load(offset, limit)` resolves to
 * `{rows, total}` (`total` from the API's count route). `page` is the first page to show
 * (0-based) and `onPage(page)` hears of changes (a page keeps it in its URL). `refresh()`
 * reloads the page shown (e.g. on a timer) and resolves to the total; `restart()` goes back to the first page (after the
 * filters changed).
 */
export function pagedTable({ columns, empty, pageSize = 50, page = 0, load, onPage = () => {}, rowAttrs }) {
  const inner = table({ columns, empty, rowAttrs });
  const status = h("span", { class: "pager-status" });
  const prev = h("button", { type: "button", class: "secondary small", title: "Previous page", onclick: () => go(page - 1) }, icon("left"));
  const next = h("button", { type: "button", class: "secondary small", title: "Next page", onclick: () => go(page + 1) }, icon("right"));
  const pager = h("div", { class: "pager" }, status, h("div", { class: "pager-buttons" }, prev, next));
  const element = h("div", { class: "paged" }, inner.element, pager);
  let total = 0;

  async function refresh() {
    const answer = await load(page * pageSize, pageSize);
    total = answer.total;
    if (page > 0 && page * pageSize >= total) {
      // The rows shrank under us (or the URL asked for too far): show the last page.
      page = Math.max(0, Math.ceil(total / pageSize) - 1);
      onPage(page);
      return refresh();
    }
    inner.update(answer.rows);
    const first = total === 0 ? 0 : page * pageSize + 1;
    status.textContent = total === 0 ? "None" : `${count(first)}–${count(page * pageSize + answer.rows.length)} of ${count(total)}`;
    pager.hidden = total <= pageSize;
    prev.disabled = page === 0;
    next.disabled = (page + 1) * pageSize >= total;
    return total;
  }

  async function go(to) {
    if (to < 0 || to * pageSize >= Math.max(total, 1)) return;
    page = to;
    onPage(page);
    await refresh();
  }

  async function restart() {
    page = 0;
    await refresh();
  }

  return { element, refresh, restart };
}
