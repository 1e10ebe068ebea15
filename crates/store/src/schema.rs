//! The schema, written once for both backends: TEXT for ids and JSON, BIGINT for microsecond
//! timestamps and counters, DOUBLE PRECISION for durations. Migrations are append-only: a
//! released migration is never edited, a new one is added.

/// Migrations in order; the index + 1 is the version recorded in `schema_migrations`.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE flows (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    tags TEXT NOT NULL,
    labels TEXT NOT NULL
);
CREATE TABLE flow_runs (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    name TEXT NOT NULL,
    flow_id TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    flow_version TEXT,
    deployment_id TEXT,
    work_queue_name TEXT,
    parameters TEXT NOT NULL,
    idempotency_key TEXT,
    context TEXT NOT NULL,
    empirical_policy TEXT NOT NULL,
    tags TEXT NOT NULL,
    labels TEXT NOT NULL,
    parent_task_run_id TEXT,
    job_variables TEXT NOT NULL,
    state_id TEXT,
    state_type TEXT,
    state_name TEXT,
    state_timestamp BIGINT,
    state_body TEXT,
    run_count BIGINT NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    total_run_time DOUBLE PRECISION NOT NULL,
    expected_start_time BIGINT,
    next_scheduled_start_time BIGINT
);
CREATE INDEX flow_runs_flow ON flow_runs(flow_id);
CREATE INDEX flow_runs_created ON flow_runs(created);
CREATE INDEX flow_runs_state_type ON flow_runs(state_type);
CREATE INDEX flow_runs_expected_start ON flow_runs(expected_start_time);
CREATE INDEX flow_runs_start ON flow_runs(start_time);
CREATE INDEX flow_runs_parent_task_run ON flow_runs(parent_task_run_id);
CREATE INDEX flow_runs_deployment ON flow_runs(deployment_id);
CREATE UNIQUE INDEX flow_runs_idempotency ON flow_runs(flow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE flow_run_states (
    id TEXT PRIMARY KEY,
    flow_run_id TEXT NOT NULL REFERENCES flow_runs(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX flow_run_states_run ON flow_run_states(flow_run_id, timestamp);
CREATE TABLE task_runs (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    name TEXT NOT NULL,
    flow_run_id TEXT,
    task_key TEXT NOT NULL,
    dynamic_key TEXT NOT NULL,
    cache_key TEXT,
    task_version TEXT,
    empirical_policy TEXT NOT NULL,
    tags TEXT NOT NULL,
    labels TEXT NOT NULL,
    task_inputs TEXT NOT NULL,
    parameters TEXT NOT NULL,
    state_id TEXT NOT NULL,
    state_type TEXT NOT NULL,
    state_name TEXT NOT NULL,
    state_timestamp BIGINT NOT NULL,
    state_body TEXT NOT NULL,
    run_count BIGINT NOT NULL,
    flow_run_run_count BIGINT NOT NULL,
    expected_start_time BIGINT,
    start_time BIGINT,
    end_time BIGINT,
    total_run_time DOUBLE PRECISION NOT NULL
);
CREATE INDEX task_runs_flow_run ON task_runs(flow_run_id);
CREATE INDEX task_runs_state_type ON task_runs(state_type);
CREATE TABLE logs (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    name TEXT NOT NULL,
    level BIGINT NOT NULL,
    message TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    flow_run_id TEXT,
    task_run_id TEXT
);
CREATE INDEX logs_flow_run ON logs(flow_run_id, timestamp);
CREATE INDEX logs_task_run ON logs(task_run_id);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    occurred BIGINT NOT NULL,
    event TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    related TEXT NOT NULL,
    payload TEXT NOT NULL,
    follows TEXT,
    received BIGINT NOT NULL
);
CREATE INDEX events_occurred ON events(occurred);
CREATE INDEX events_resource ON events(resource_id, occurred);
CREATE INDEX events_name ON events(event, occurred);
CREATE TABLE task_queue (
    id TEXT PRIMARY KEY,
    task_key TEXT NOT NULL,
    flow_run_id TEXT,
    parameters TEXT NOT NULL,
    status TEXT NOT NULL,
    worker TEXT,
    lease_until BIGINT,
    attempts BIGINT NOT NULL,
    result TEXT,
    error TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX task_queue_claim ON task_queue(status, task_key, created);
CREATE TABLE flow_run_inputs (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    flow_run_id TEXT NOT NULL REFERENCES flow_runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    sender TEXT
);
CREATE UNIQUE INDEX flow_run_inputs_key ON flow_run_inputs(flow_run_id, key)
"#,
    // 2: work pools, their queues and workers, and the runs waiting to be handed out (in a
    // pool's queue, or, with no queue, for the process serving their deployment).
    r#"
CREATE TABLE work_pools (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    type TEXT NOT NULL,
    base_job_template TEXT NOT NULL,
    is_paused BIGINT NOT NULL,
    concurrency_limit BIGINT,
    default_queue_id TEXT
);
CREATE TABLE work_queues (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    work_pool_id TEXT NOT NULL REFERENCES work_pools(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    is_paused BIGINT NOT NULL,
    concurrency_limit BIGINT,
    priority BIGINT NOT NULL,
    last_polled BIGINT
);
CREATE UNIQUE INDEX work_queues_name ON work_queues(work_pool_id, name);
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    work_pool_id TEXT NOT NULL REFERENCES work_pools(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last_heartbeat BIGINT NOT NULL,
    heartbeat_interval_seconds DOUBLE PRECISION,
    offline_after BIGINT NOT NULL
);
CREATE UNIQUE INDEX workers_name ON workers(work_pool_id, name);
CREATE TABLE queued_flow_runs (
    flow_run_id TEXT PRIMARY KEY REFERENCES flow_runs(id) ON DELETE CASCADE,
    work_queue_id TEXT REFERENCES work_queues(id) ON DELETE CASCADE,
    work_pool_id TEXT,
    deployment_id TEXT,
    scheduled_time BIGINT NOT NULL,
    auto_scheduled BIGINT NOT NULL,
    holds_slot BIGINT NOT NULL,
    claimed_by TEXT,
    claimed_until BIGINT
);
CREATE INDEX queued_flow_runs_due ON queued_flow_runs(work_queue_id, scheduled_time, flow_run_id);
CREATE INDEX queued_flow_runs_slots ON queued_flow_runs(work_pool_id, holds_slot);
CREATE INDEX queued_flow_runs_claims ON queued_flow_runs(work_pool_id, claimed_until);
CREATE INDEX queued_flow_runs_deployment ON queued_flow_runs(deployment_id, holds_slot)
"#,
    // 3: deployments and their schedules. `plan_at`: when the scheduler looks at it next.
    r#"
CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    flow_id TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version TEXT,
    description TEXT,
    paused BIGINT NOT NULL,
    parameters TEXT NOT NULL,
    parameter_openapi_schema TEXT NOT NULL,
    enforce_parameter_schema BIGINT NOT NULL,
    job_variables TEXT NOT NULL,
    tags TEXT NOT NULL,
    labels TEXT NOT NULL,
    work_queue_id TEXT REFERENCES work_queues(id) ON DELETE SET NULL,
    concurrency_limit BIGINT,
    collision_strategy TEXT NOT NULL,
    late_run_policy TEXT NOT NULL,
    pull_steps TEXT NOT NULL,
    entrypoint TEXT,
    path TEXT,
    last_polled BIGINT,
    plan_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX deployments_name ON deployments(flow_id, name);
CREATE INDEX deployments_plan_at ON deployments(plan_at);
CREATE TABLE deployment_schedules (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    cron TEXT,
    day_or BIGINT NOT NULL,
    interval_seconds DOUBLE PRECISION,
    anchor BIGINT,
    timezone TEXT NOT NULL,
    active BIGINT NOT NULL,
    max_scheduled_runs BIGINT,
    parameters TEXT NOT NULL,
    slug TEXT
);
CREATE INDEX deployment_schedules_deployment ON deployment_schedules(deployment_id)
"#,
    // 4: concurrency limits, the leases that hold their slots, and which limits each lease holds.
    r#"
CREATE TABLE concurrency_limits (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    slot_limit BIGINT NOT NULL,
    active BIGINT NOT NULL,
    slot_decay_per_second DOUBLE PRECISION NOT NULL,
    held_slots BIGINT NOT NULL,
    drained_at_ns BIGINT NOT NULL,
    denied_slots BIGINT NOT NULL,
    avg_slot_occupancy_seconds DOUBLE PRECISION NOT NULL
);
CREATE TABLE concurrency_leases (
    id TEXT PRIMARY KEY,
    slots BIGINT NOT NULL,
    holder_type TEXT,
    holder_id TEXT,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX concurrency_leases_expiry ON concurrency_leases(expires_at);
CREATE INDEX concurrency_leases_holder ON concurrency_leases(holder_id);
CREATE TABLE concurrency_lease_limits (
    lease_id TEXT NOT NULL REFERENCES concurrency_leases(id) ON DELETE CASCADE,
    limit_id TEXT NOT NULL REFERENCES concurrency_limits(id) ON DELETE CASCADE,
    PRIMARY KEY (lease_id, limit_id)
);
CREATE INDEX concurrency_lease_limits_limit ON concurrency_lease_limits(limit_id)
"#,
    // 5: when a paused run's pause times out, indexed, so every expired pause is found.
    r#"
ALTER TABLE flow_runs ADD COLUMN pause_deadline BIGINT;
CREATE INDEX flow_runs_pause_deadline ON flow_runs(pause_deadline)
    WHERE pause_deadline IS NOT NULL
"#,
    // 6: the process id a worker reports for a run (its cancellation stops that process).
    r#"
ALTER TABLE flow_runs ADD COLUMN infrastructure_pid TEXT
"#,
    // 7: variables, unique by name; the value is JSON text (`null` included).
    r#"
CREATE TABLE variables (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    value TEXT NOT NULL,
    tags TEXT NOT NULL
);
CREATE INDEX variables_updated ON variables(updated)
"#,
    // 8: automations, the resources they relate to (owned-by, related-to), the firings their
    // trigger engine decided, the engine's lease and feed position, and events by receive time
    // (the engine's feed).
    r#"
CREATE TABLE automations (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    tags TEXT NOT NULL,
    trigger_doc TEXT NOT NULL,
    actions TEXT NOT NULL,
    actions_on_trigger TEXT NOT NULL,
    actions_on_resolve TEXT NOT NULL,
    engine_state TEXT
);
CREATE INDEX automations_name ON automations(name);
CREATE TABLE automation_resources (
    automation_id TEXT NOT NULL REFERENCES automations(id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL,
    owned BIGINT NOT NULL,
    PRIMARY KEY (automation_id, resource_id)
);
CREATE INDEX automation_resources_resource ON automation_resources(resource_id);
CREATE TABLE automation_firings (
    automation_id TEXT NOT NULL REFERENCES automations(id) ON DELETE CASCADE,
    firing_key TEXT NOT NULL,
    id TEXT NOT NULL,
    state TEXT NOT NULL,
    occurred BIGINT NOT NULL,
    decided BIGINT NOT NULL,
    triggering_event TEXT,
    outcomes TEXT,
    PRIMARY KEY (automation_id, firing_key)
);
CREATE INDEX automation_firings_decided ON automation_firings(automation_id, decided);
CREATE TABLE automation_engine (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires BIGINT NOT NULL,
    received BIGINT NOT NULL,
    received_ids TEXT NOT NULL
);
CREATE INDEX events_received ON events(received, id)
"#,
    // 9: artifacts; a key's latest is its newest row, found through (key, created).
    r#"
CREATE TABLE artifacts (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    key TEXT,
    type TEXT,
    description TEXT,
    data TEXT NOT NULL,
    metadata TEXT,
    flow_run_id TEXT,
    task_run_id TEXT
);
CREATE INDEX artifacts_key ON artifacts(key, created);
CREATE INDEX artifacts_flow_run ON artifacts(flow_run_id);
CREATE INDEX artifacts_task_run ON artifacts(task_run_id)
"#,
    // 10: blocks: types by slug, schemas by checksum and version, documents by type and name.
    r#"
CREATE TABLE block_types (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    slug TEXT NOT NULL UNIQUE,
    logo_url TEXT,
    documentation_url TEXT,
    description TEXT,
    code_example TEXT,
    is_protected BIGINT NOT NULL
);
CREATE TABLE block_schemas (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    checksum TEXT NOT NULL,
    fields TEXT NOT NULL,
    version TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    block_type_id TEXT NOT NULL REFERENCES block_types(id) ON DELETE CASCADE,
    UNIQUE (checksum, version)
);
CREATE INDEX block_schemas_type ON block_schemas(block_type_id);
CREATE TABLE block_documents (
    id TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    is_anonymous BIGINT NOT NULL,
    block_schema_id TEXT NOT NULL REFERENCES block_schemas(id) ON DELETE CASCADE,
    block_type_id TEXT NOT NULL REFERENCES block_types(id) ON DELETE CASCADE,
    UNIQUE (block_type_id, name)
);
CREATE INDEX block_documents_schema ON block_documents(block_schema_id)
"#,
    // 11: retention finds aged records through their time.
    r#"
CREATE INDEX flow_runs_state_timestamp ON flow_runs(state_timestamp);
CREATE INDEX task_runs_state_timestamp ON task_runs(state_timestamp);
CREATE INDEX logs_timestamp ON logs(timestamp)
"#,
    // 12: a hand-out counts the slots a deployment's claimed runs hold through the claim's end.
    r#"
CREATE INDEX queued_flow_runs_deployment_claims ON queued_flow_runs(deployment_id, claimed_until)
"#,
    // 13: the dashboard over 100,000 runs. Its history chart reads one index instead of every
    // row in the window (the index holds what the chart sums), and its failed, late and paused
    // tables find their runs by state within the window, newest first, without a scan.
    r#"
CREATE INDEX flow_runs_history ON flow_runs(expected_start_time, state_type, state_name, start_time, state_timestamp, total_run_time);
DROP INDEX flow_runs_expected_start;
CREATE INDEX flow_runs_state_type_expected ON flow_runs(state_type, expected_start_time);
DROP INDEX flow_runs_state_type;
CREATE INDEX flow_runs_state_name_expected ON flow_runs(state_name, expected_start_time)
"#,
    // 14: a run remembers the queue and pool it was put in (shown with it, filtered on, and kept
    // after it leaves `queued_flow_runs`). Runs queued before are filled in from their queue
    // entry, else from their deployment's pool and their queue's name.
    r#"
ALTER TABLE flow_runs ADD COLUMN work_queue_id TEXT;
ALTER TABLE flow_runs ADD COLUMN work_pool_id TEXT;
ALTER TABLE flow_runs ADD COLUMN work_pool_name TEXT;
UPDATE flow_runs SET work_queue_id = (SELECT e.work_queue_id FROM queued_flow_runs e
    WHERE e.flow_run_id = flow_runs.id) WHERE deployment_id IS NOT NULL;
UPDATE flow_runs SET work_queue_id = (SELECT q.id FROM deployments d
    JOIN work_queues dq ON dq.id = d.work_queue_id
    JOIN work_queues q ON q.work_pool_id = dq.work_pool_id AND q.name = flow_runs.work_queue_name
    WHERE d.id = flow_runs.deployment_id)
    WHERE work_queue_id IS NULL AND deployment_id IS NOT NULL;
UPDATE flow_runs SET work_pool_id = (SELECT q.work_pool_id FROM work_queues q
    WHERE q.id = flow_runs.work_queue_id) WHERE work_queue_id IS NOT NULL;
UPDATE flow_runs SET work_pool_name = (SELECT p.name FROM work_pools p
    WHERE p.id = flow_runs.work_pool_id) WHERE work_pool_id IS NOT NULL;
CREATE INDEX flow_runs_work_queue ON flow_runs(work_queue_id)
"#,
    // 15: the late-run pass (every 5 s) walks the waiting runs due before the late threshold,
    // oldest first, instead of reading every queued run, those still to come included. Partial
    // (runs holding no slot), so the queries counting slot holders never pick it.
    r#"
CREATE INDEX queued_flow_runs_overdue ON queued_flow_runs(scheduled_time) WHERE holds_slot = 0
"#,
    // 16: a queued run remembers that it is Late, and the late-run pass's index leaves Late runs
    // out: they stay queued (due before every run still to be marked), so the pass read every
    // one of them again each time; a pool without workers piles up thousands.
    r#"
ALTER TABLE queued_flow_runs ADD COLUMN late BIGINT NOT NULL DEFAULT 0;
UPDATE queued_flow_runs SET late = 1 WHERE flow_run_id IN (SELECT id FROM flow_runs
    WHERE state_type = 'SCHEDULED' AND state_name = 'Late');
DROP INDEX queued_flow_runs_overdue;
CREATE INDEX queued_flow_runs_overdue ON queued_flow_runs(scheduled_time)
    WHERE holds_slot = 0 AND late = 0
"#,
];

/// Splits a migration into statements (none of ours contains a `;` inside a literal).
pub fn statements(migration: &str) -> impl Iterator<Item = &str> {
    migration
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}
