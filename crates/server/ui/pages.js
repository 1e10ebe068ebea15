// Every page of the UI, one line each: its address (":name" parts become ctx.params), the
// module under pages/ that renders it, and, for pages in the sidebar, a label and an icon
// (lib/icons.js). A new page is a new module in pages/ and one line here; the server needs no
// change (it serves any page address with index.html and every file under ui/).
export const PAGES = [
  { path: "/", module: "dashboard", nav: "Dashboard", icon: "dashboard" },
  { path: "/runs", module: "runs", nav: "Runs", icon: "runs" },
  { path: "/runs/flow-run/:id", module: "flow-run" },
  { path: "/runs/task-run/:id", module: "task-run" },
  { path: "/flows", module: "flows", nav: "Flows", icon: "flows" },
  { path: "/deployments", module: "deployments", nav: "Deployments", icon: "deployments" },
  { path: "/deployments/deployment/:id", module: "deployment" },
  { path: "/work-pools", module: "work-pools", nav: "Work Pools", icon: "pools" },
  { path: "/work-pools/:name", module: "work-pool" },
  { path: "/automations", module: "automations", nav: "Automations", icon: "automations" },
  { path: "/automations/create", module: "automation-form" },
  { path: "/automations/automation/:id", module: "automation" },
  { path: "/automations/automation/:id/edit", module: "automation-form" },
  { path: "/events", module: "events", nav: "Event Feed", icon: "events" },
  { path: "/concurrency", module: "concurrency", nav: "Concurrency", icon: "concurrency" },
  { path: "/artifacts", module: "artifacts", nav: "Artifacts", icon: "artifacts" },
  { path: "/artifacts/key/:key", module: "artifact" },
  { path: "/variables", module: "variables", nav: "Variables", icon: "variables" },
  { path: "/docs", module: "api-docs", nav: "API", icon: "api" },
];
