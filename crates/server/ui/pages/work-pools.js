// Work pools: each pool with its status (from its workers' heartbeats, or paused), its type,
// how many runs hold its slots against its limit, its queues and its workers online.

import { post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { count, plural } from "../lib/format.js";
import { card, pageHeader } from "../lib/layout.js";
import { table } from "../lib/table.js";
import { concurrency, poolHref, statusBadge } from "../components/pools.js";

/** Each pool with its queues and workers. */
async function load(signal) {
  const pools = await post("/work_pools/filter", { limit: 200 }, { signal });
  pools.sort((a, b) => a.name.localeCompare(b.name));
  return Promise.all(
    pools.map(async (pool) => {
      const path = `/work_pools/${encodeURIComponent(pool.name)}`;
      const [queues, workers] = await Promise.all([post(`${path}/queues/filter`, {}, { signal }), post(`${path}/workers/filter`, {}, { signal })]);
      return { pool, queues, workers };
    }),
  );
}

export default async function workPoolsPage(ctx) {
  ctx.title("Work Pools");
  const total = h("span");
  const pools = table({
    empty: "No work pools yet. Create one with `flowgate work-pool create NAME`, or start a worker: `flowgate worker start --pool NAME`.",
    rowAttrs: (r) => ({ dataset: { pool: r.pool.name } }),
    columns: [
      { label: "Name", cell: (r) => h("a", { href: poolHref(r.pool.name) }, r.pool.name) },
      { label: "Type", cell: (r) => r.pool.type },
      { label: "Status", cell: (r) => statusBadge(r.pool.status) },
      { label: "Concurrency", class: "num", cell: (r) => concurrency(r.pool.active_slots, r.pool.concurrency_limit) },
      { label: "Queues", class: "num", cell: (r) => count(r.queues.length) },
      {
        label: "Workers",
        class: "num",
        cell: (r) => {
          const online = r.workers.filter((w) => w.status === "ONLINE").length;
          return h("span", { title: `${online} online of ${r.workers.length}` }, `${online} / ${r.workers.length} online`);
        },
      },
    ],
  });
  mount(ctx.view, pageHeader({ title: "Work Pools", facts: [total] }), card({ class: "flush" }, pools.element));
  async function refresh() {
    const rows = await load(ctx.signal);
    total.textContent = plural(rows.length, "pool");
    pools.update(rows);
  }
  await refresh();
  ctx.every(5000, refresh);
}
