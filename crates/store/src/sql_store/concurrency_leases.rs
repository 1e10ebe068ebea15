//! Slot traffic on SQL: the `concurrency_leases` and `concurrency_lease_limits` tables, batches
//! of slot operations, and the lease reaper's query.
//!
//! Every write to a limit's slots first row-locks the limit (`FOR UPDATE` on PostgreSQL; SQLite
//! has one writer), and leases are read only after their limits are locked, so two replicas
//! never release the same lease twice. A lease is released only together with every limit it
//! holds, so no slot is ever orphaned.

use std::collections::{BTreeMap, BTreeSet};

use flowgate_core::Micros;
use flowgate_core::concurrency::book::{Book, Changes, LimitState, SlotOp, SlotOutcome};
use flowgate_core::concurrency::{Holder, HolderKind, Lease};
use uuid::Uuid;

use super::concurrency_limits::limit_row;
use super::statements::Statements;
use super::whole_transaction::Framing;
use super::{IN_CHUNK, insert_statements};
use crate::backend::Backend;
use crate::sql::{Row, Sql};
use crate::store::{Result, StoreError};

/// The terminal state types, as stored: a run in one of them holds nothing any more.
const FINAL_STATES: &str = "'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'";

/// Columns of a lease with one of its limits, as [`select_leases`] returns them.
const LEASE_COLUMNS: &str = "l.id, l.slots, l.holder_type, l.holder_id, l.acquired_at, \
     l.expires_at, ll.limit_id";

/// What a batch of slot operations names: the limits and leases it must read.
#[derive(Default)]
struct Named {
    /// Limits named by acquisitions, decrements, denials and holder releases.
    names: BTreeSet<String>,
    /// Leases released or renewed.
    leases: BTreeSet<Uuid>,
    /// Holders whose leases are released.
    holders: BTreeSet<Uuid>,
    /// Limits decremented: a decrement must know how many slots leases hold.
    decremented: BTreeSet<String>,
}

impl Named {
    fn of(ops: &[SlotOp]) -> Named {
        let mut named = Named::default();
        for op in ops {
            match op {
                SlotOp::Acquire { names: n, .. } | SlotOp::Deny { names: n, .. } => {
                    named.names.extend(n.iter().cloned());
                }
                SlotOp::Decrement { names: n, .. } => {
                    named.names.extend(n.iter().cloned());
                    named.decremented.extend(n.iter().cloned());
                }
                SlotOp::ReleaseHeldBy { holder, names: n } => {
                    named.names.extend(n.iter().cloned());
                    named.holders.insert(*holder);
                }
                SlotOp::Release { lease } | SlotOp::Renew { lease, .. } => {
                    named.leases.insert(*lease);
                }
            }
        }
        named
    }

    fn refers_to_leases(&self) -> bool {
        !self.leases.is_empty() || !self.holders.is_empty()
    }

    /// Whether `lease`, read because it is named, expired on locked limits or holds a
    /// decremented limit, belongs in the batch's book.
    fn keeps(
        &self,
        lease: &Lease,
        locked: &BTreeSet<Uuid>,
        decremented: &[Uuid],
        now: Micros,
    ) -> bool {
        self.leases.contains(&lease.id)
            || lease.holder.is_some_and(|h| self.holders.contains(&h.id))
            || lease.limits.iter().any(|id| decremented.contains(id))
            // Expired leases on the locked limits are freed now, so a dead holder never
            // blocks a waiter however late the reaper runs (those also holding an unlocked
            // limit wait for it).
            || (lease.is_expired(now)
                && !lease.limits.is_empty()
                && lease.limits.iter().all(|id| locked.contains(id)))
    }
}

/// Runs `ops` on the limits and leases they touch, writes the changes, and returns each op's
/// outcome with the limits that got slots back.
pub(super) async fn apply_ops<B: Backend>(
    conn: &mut B::Connection,
    ops: &[SlotOp],
    now: Micros,
    framing: Framing,
) -> Result<(Vec<SlotOutcome>, Vec<String>)> {
    let named = Named::of(ops);
    let (limits, leases) = if B::SINGLE_WRITER && B::BATCHES_STATEMENTS {
        read_at_once::<B>(conn, &named, now, framing).await?
    } else {
        read_locking::<B>(conn, &named, now).await?
    };
    let mut book = Book::new(limits, leases);
    book.reap_expired(now);
    let outcomes = ops.iter().map(|op| book.apply(op, now)).collect();
    let changes = book.changes();
    framing
        .last_call(change_statements(&changes))
        .execute::<B>(conn)
        .await?;
    Ok((outcomes, changes.freed))
}

/// The limits and leases of a batch in one call, where the transaction is the database's only
/// writer from its start (nothing read can change before it commits) and one call carries two
/// statements: the limits named or held by the leases named, then the leases named, the
/// expired leases on those limits and the leases on decremented limits (after the transaction's
/// `BEGIN`, when the batch opens it).
async fn read_at_once<B: Backend>(
    conn: &mut B::Connection,
    named: &Named,
    now: Micros,
    framing: Framing,
) -> Result<(Vec<LimitState>, Vec<Lease>)> {
    let mut limits = Sql::new("SELECT 'limit' AS row_of, * FROM concurrency_limits WHERE ");
    limits_named(&mut limits, named);
    limits.push(" ORDER BY id");
    let mut leases = select_marked_leases("'lease' AS row_of, ", "WHERE ");
    let mut any = false;
    if named.refers_to_leases() {
        referenced(&mut leases, &named.leases, &named.holders);
        any = true;
    }
    leases
        .push(if any { " OR " } else { "" })
        .push(
            "l.id IN (SELECT x.id FROM concurrency_leases x JOIN concurrency_lease_limits xl \
             ON xl.lease_id = x.id WHERE x.expires_at <= ",
        )
        .arg(now)
        .push(" AND xl.limit_id IN (SELECT id FROM concurrency_limits WHERE ");
    limits_named(&mut leases, named);
    leases.push("))");
    if !named.decremented.is_empty() {
        leases
            .push(
                " OR l.id IN (SELECT lease_id FROM concurrency_lease_limits WHERE limit_id IN \
                 (SELECT id FROM concurrency_limits WHERE name IN (",
            )
            .arg_list(named.decremented.iter().map(String::as_str))
            .push(")))");
    }
    let mut both = framing.first_call::<B>();
    both.push(limits);
    both.push(leases);
    let (limit_rows, lease_rows): (Vec<Row>, Vec<Row>) = both
        .fetch_all::<B>(conn)
        .await?
        .into_iter()
        .partition(|r| r.get::<String>("row_of").is_ok_and(|of| of == "limit"));
    let limits = limit_rows
        .iter()
        .map(|r| limit_row(r).map(|l| l.state()))
        .collect::<Result<Vec<_>>>()?;
    let (locked, decremented) = locked_and_decremented(&limits, named);
    let leases = leases_of_rows(&lease_rows)?
        .into_iter()
        .filter(|l| named.keeps(l, &locked, &decremented, now))
        .collect();
    Ok((limits, leases))
}

/// `name IN (…) OR id IN (limits of the leases named)` for a batch.
fn limits_named(sql: &mut Sql, named: &Named) {
    let mut any = false;
    if !named.names.is_empty() {
        sql.push("name IN (")
            .arg_list(named.names.iter().map(String::as_str))
            .push(")");
        any = true;
    }
    if named.refers_to_leases() {
        sql.push(if any { " OR " } else { "" }).push(
            "id IN (SELECT ll.limit_id FROM concurrency_lease_limits ll \
             JOIN concurrency_leases l ON l.id = ll.lease_id WHERE ",
        );
        referenced(sql, &named.leases, &named.holders);
        sql.push(")");
        any = true;
    }
    if !any {
        sql.push("0 = 1");
    }
}

/// The ids of the limits read (locked), and of those the batch decrements.
fn locked_and_decremented(limits: &[LimitState], named: &Named) -> (BTreeSet<Uuid>, Vec<Uuid>) {
    let locked = limits.iter().map(|l| l.slots.id).collect();
    let decremented = limits
        .iter()
        .filter(|l| named.decremented.contains(&l.slots.name))
        .map(|l| l.slots.id)
        .collect();
    (locked, decremented)
}

/// The limits and leases of a batch where other transactions may write meanwhile: the limits
/// are row-locked in id order before their leases are read.
async fn read_locking<B: Backend>(
    conn: &mut B::Connection,
    named: &Named,
    now: Micros,
) -> Result<(Vec<LimitState>, Vec<Lease>)> {
    // The limits of the leases named, only their ids: the leases themselves are read again
    // once their limits are locked.
    let mut limit_ids: BTreeSet<Uuid> = BTreeSet::new();
    if named.refers_to_leases() {
        let mut peek = Sql::new(
            "SELECT DISTINCT ll.limit_id FROM concurrency_lease_limits ll \
             JOIN concurrency_leases l ON l.id = ll.lease_id WHERE ",
        );
        referenced(&mut peek, &named.leases, &named.holders);
        for row in B::fetch_all(conn, peek).await? {
            limit_ids.insert(row.uuid("limit_id")?);
        }
    }
    let limits = lock_limits::<B>(conn, &named.names, &limit_ids).await?;
    let (locked, decremented) = locked_and_decremented(&limits, named);
    let mut leases: BTreeMap<Uuid, Lease> = BTreeMap::new();
    if named.refers_to_leases() {
        for l in read_referenced::<B>(conn, &named.leases, &named.holders).await? {
            leases.insert(l.id, l);
        }
    }
    for l in expired_on::<B>(conn, &locked, now).await? {
        if named.keeps(&l, &locked, &decremented, now) {
            leases.insert(l.id, l);
        }
    }
    for l in leases_on::<B>(conn, &decremented).await? {
        leases.insert(l.id, l);
    }
    Ok((limits, leases.into_values().collect()))
}

/// Frees up to `batch` leases that expired or whose holder run finished, on limits no other
/// transaction is reaping; returns the limits that got slots back.
pub(super) async fn reap<B: Backend>(
    conn: &mut B::Connection,
    now: Micros,
    batch: u32,
) -> Result<Vec<String>> {
    // A lease whose holder run is over is as dead as an expired one.
    let mut finished = Sql::new("UPDATE concurrency_leases SET expires_at = ");
    finished
        .arg(now)
        .push(" WHERE expires_at > ")
        .arg(now)
        .push(
            " AND holder_id IS NOT NULL AND ( \
             (holder_type = 'task_run' AND EXISTS (SELECT 1 FROM task_runs t \
              WHERE t.id = concurrency_leases.holder_id AND t.state_type IN ({FINAL}))) \
             OR (holder_type = 'flow_run' AND EXISTS (SELECT 1 FROM flow_runs f \
              WHERE f.id = concurrency_leases.holder_id AND f.state_type IN ({FINAL}))))"
                .replace("{FINAL}", FINAL_STATES)
                .as_str(),
        );
    B::execute(conn, finished).await?;
    // Leases holding no limit hold nothing: delete them outright.
    let mut empty = Sql::new("DELETE FROM concurrency_leases WHERE expires_at <= ");
    empty.arg(now).push(
        " AND NOT EXISTS (SELECT 1 FROM concurrency_lease_limits ll WHERE ll.lease_id = concurrency_leases.id)",
    );
    B::execute(conn, empty).await?;
    let mut candidates = Sql::new(
        "SELECT DISTINCT ll.limit_id FROM concurrency_lease_limits ll \
         JOIN concurrency_leases l ON l.id = ll.lease_id WHERE l.expires_at <= ",
    );
    candidates.arg(now).push(" LIMIT ").arg(i64::from(batch));
    let ids: BTreeSet<Uuid> = B::fetch_all(conn, candidates)
        .await?
        .iter()
        .map(|r| r.uuid("limit_id"))
        .collect::<Result<_>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut lock = Sql::new("SELECT * FROM concurrency_limits WHERE id IN (");
    lock.arg_list(ids.iter().copied())
        .push(") ORDER BY id")
        .push(B::SKIP_LOCKED);
    let limits = B::fetch_all(conn, lock)
        .await?
        .iter()
        .map(|r| limit_row(r).map(|l| l.state()))
        .collect::<Result<Vec<_>>>()?;
    let locked: BTreeSet<Uuid> = limits.iter().map(|l| l.slots.id).collect();
    if locked.is_empty() {
        // Another replica is reaping every one of them.
        return Ok(Vec::new());
    }
    let dead: Vec<Lease> = expired_on::<B>(conn, &locked, now)
        .await?
        .into_iter()
        .filter(|l| l.limits.iter().all(|id| locked.contains(id)))
        .collect();
    let mut book = Book::new(limits, dead);
    book.reap_expired(now);
    let changes = book.changes();
    change_statements(&changes).execute::<B>(conn).await?;
    Ok(changes.freed)
}

/// Every lease holding a slot of any of `limits` (expired or not), with all its limits.
pub(super) async fn leases_on<B: Backend>(
    conn: &mut B::Connection,
    limits: &[Uuid],
) -> Result<Vec<Lease>> {
    if limits.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = select_leases(
        "WHERE l.id IN (SELECT lease_id FROM concurrency_lease_limits WHERE limit_id IN (",
    );
    sql.arg_list(limits.iter().copied()).push("))");
    read_leases::<B>(conn, sql).await
}

/// Stores new leases and the limits they hold.
pub(super) async fn insert_leases<B: Backend>(
    conn: &mut B::Connection,
    leases: &[Lease],
) -> Result<()> {
    let mut inserts = Statements::default();
    inserts.extend(lease_inserts(leases));
    inserts.execute::<B>(conn).await
}

/// The statements storing new leases and the limits they hold.
fn lease_inserts(leases: &[Lease]) -> Vec<Sql> {
    let rows = leases
        .iter()
        .map(|l| {
            vec![
                l.id.into(),
                i64::from(l.slots).into(),
                l.holder.map(|h| h.kind.as_str().to_owned()).into(),
                l.holder.map(|h| h.id).into(),
                l.acquired_at.into(),
                l.expires_at.into(),
            ]
        })
        .collect();
    let holds = leases
        .iter()
        .flat_map(|l| {
            l.limits
                .iter()
                .map(|limit| vec![l.id.into(), (*limit).into()])
        })
        .collect();
    let mut sqls = insert_statements(
        "INSERT INTO concurrency_leases (id, slots, holder_type, holder_id, acquired_at, expires_at) VALUES ",
        "",
        rows,
    );
    sqls.extend(insert_statements(
        "INSERT INTO concurrency_lease_limits (lease_id, limit_id) VALUES ",
        "",
        holds,
    ));
    sqls
}

/// Removes every lease's hold on `limit` (its slots are being reset or the limit deleted);
/// leases left holding nothing are deleted.
pub(super) async fn delete_leases_of<B: Backend>(
    conn: &mut B::Connection,
    limit: Uuid,
) -> Result<()> {
    let mut holding = Sql::new("SELECT lease_id FROM concurrency_lease_limits WHERE limit_id = ");
    holding.arg(limit);
    let leases: Vec<Uuid> = B::fetch_all(conn, holding)
        .await?
        .iter()
        .map(|r| r.uuid("lease_id"))
        .collect::<Result<_>>()?;
    let mut detach = Sql::new("DELETE FROM concurrency_lease_limits WHERE limit_id = ");
    detach.arg(limit);
    B::execute(conn, detach).await?;
    for chunk in leases.chunks(500) {
        let mut empty = Sql::new("DELETE FROM concurrency_leases WHERE id IN (");
        empty.arg_list(chunk.iter().copied()).push(
            ") AND NOT EXISTS (SELECT 1 FROM concurrency_lease_limits ll WHERE ll.lease_id = concurrency_leases.id)",
        );
        B::execute(conn, empty).await?;
    }
    Ok(())
}

/// Writes limits' slot counters (not their settings).
pub(super) async fn write_limits<B: Backend>(
    conn: &mut B::Connection,
    limits: &[LimitState],
) -> Result<()> {
    let mut updates = Statements::default();
    updates.extend(limits.iter().map(limit_update));
    updates.execute::<B>(conn).await
}

/// The statement writing a limit's slot counters.
fn limit_update(l: &LimitState) -> Sql {
    let mut sql = Sql::new("UPDATE concurrency_limits SET held_slots = ");
    sql.arg(i64::from(l.slots.ledger.held))
        .push(", drained_at_ns = ")
        .arg(l.slots.ledger.drained_at_ns)
        .push(", denied_slots = ")
        .arg(i64::try_from(l.denied_slots).unwrap_or(i64::MAX))
        .push(", avg_slot_occupancy_seconds = ")
        .arg(l.average_occupancy_seconds)
        .push(" WHERE id = ")
        .arg(l.slots.id);
    sql
}

/// The statements writing a batch's changes: counters, new leases, released ones, renewals.
fn change_statements(changes: &Changes) -> Statements {
    let mut all = Statements::default();
    all.extend(changes.limits.iter().map(limit_update));
    all.extend(lease_inserts(&changes.inserted));
    for chunk in changes.deleted.chunks(IN_CHUNK) {
        let mut delete = Sql::new("DELETE FROM concurrency_leases WHERE id IN (");
        delete.arg_list(chunk.iter().copied()).push(")");
        all.push(delete);
    }
    for (id, expires_at) in &changes.renewed {
        let mut renew = Sql::new("UPDATE concurrency_leases SET expires_at = ");
        renew.arg(*expires_at).push(" WHERE id = ").arg(*id);
        all.push(renew);
    }
    all
}

/// Row-locks the limits named in `names` or with ids in `ids`, in id order (so that two
/// transactions never wait on each other in a cycle).
async fn lock_limits<B: Backend>(
    conn: &mut B::Connection,
    names: &BTreeSet<String>,
    ids: &BTreeSet<Uuid>,
) -> Result<Vec<LimitState>> {
    if names.is_empty() && ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT * FROM concurrency_limits WHERE ");
    if !names.is_empty() {
        sql.push("name IN (")
            .arg_list(names.iter().map(String::as_str))
            .push(")");
    }
    if !ids.is_empty() {
        if !names.is_empty() {
            sql.push(" OR ");
        }
        sql.push("id IN (").arg_list(ids.iter().copied()).push(")");
    }
    sql.push(" ORDER BY id").push(B::FOR_UPDATE);
    B::fetch_all(conn, sql)
        .await?
        .iter()
        .map(|r| limit_row(r).map(|l| l.state()))
        .collect()
}

/// Expired leases holding any of `limits`, with all their limits.
async fn expired_on<B: Backend>(
    conn: &mut B::Connection,
    limits: &BTreeSet<Uuid>,
    now: Micros,
) -> Result<Vec<Lease>> {
    if limits.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = select_leases(
        "WHERE l.id IN (SELECT x.id FROM concurrency_leases x JOIN concurrency_lease_limits xl \
         ON xl.lease_id = x.id WHERE x.expires_at <= ",
    );
    sql.arg(now)
        .push(" AND xl.limit_id IN (")
        .arg_list(limits.iter().copied())
        .push("))");
    read_leases::<B>(conn, sql).await
}

/// The leases an op batch names, by id or by holder.
async fn read_referenced<B: Backend>(
    conn: &mut B::Connection,
    leases: &BTreeSet<Uuid>,
    holders: &BTreeSet<Uuid>,
) -> Result<Vec<Lease>> {
    let mut sql = select_leases("WHERE ");
    referenced(&mut sql, leases, holders);
    read_leases::<B>(conn, sql).await
}

/// `l.id IN (…) OR l.holder_id IN (…)` for the leases and holders an op batch names.
fn referenced(sql: &mut Sql, leases: &BTreeSet<Uuid>, holders: &BTreeSet<Uuid>) {
    let mut any = false;
    if !leases.is_empty() {
        sql.push("l.id IN (")
            .arg_list(leases.iter().copied())
            .push(")");
        any = true;
    }
    if !holders.is_empty() {
        if any {
            sql.push(" OR ");
        }
        sql.push("l.holder_id IN (")
            .arg_list(holders.iter().copied())
            .push(")");
    }
}

/// `SELECT` of leases joined with their limits, then `tail` (a `WHERE` on `l`).
fn select_leases(tail: &str) -> Sql {
    select_marked_leases("", tail)
}

/// [`select_leases`] with `marker` (columns and a comma) before the lease's columns: a batch's
/// read tells its lease rows from its limit rows by it.
fn select_marked_leases(marker: &str, tail: &str) -> Sql {
    Sql::new(&format!(
        "SELECT {marker}{LEASE_COLUMNS} FROM concurrency_leases l \
         LEFT JOIN concurrency_lease_limits ll ON ll.lease_id = l.id {tail}"
    ))
}

/// Reads leases from rows of [`LEASE_COLUMNS`], one row per (lease, limit).
async fn read_leases<B: Backend>(conn: &mut B::Connection, sql: Sql) -> Result<Vec<Lease>> {
    leases_of_rows(&B::fetch_all(conn, sql).await?)
}

/// Leases from rows of [`LEASE_COLUMNS`], one row per (lease, limit).
fn leases_of_rows(rows: &[Row]) -> Result<Vec<Lease>> {
    let mut leases: BTreeMap<Uuid, Lease> = BTreeMap::new();
    for row in rows {
        let id = row.uuid("id")?;
        let lease = match leases.entry(id) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(lease_row(row)?),
        };
        if let Some(limit) = row.opt_uuid("limit_id")? {
            lease.limits.push(limit);
        }
    }
    Ok(leases.into_values().collect())
}

fn lease_row(row: &Row) -> Result<Lease> {
    let slots: i64 = row.get("slots")?;
    let kind: Option<String> = row.get("holder_type")?;
    let holder = match (kind, row.opt_uuid("holder_id")?) {
        (Some(kind), Some(id)) => Some(Holder {
            kind: HolderKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("lease holder type {kind:?}")))?,
            id,
        }),
        _ => None,
    };
    Ok(Lease {
        id: row.uuid("id")?,
        limits: Vec::new(),
        slots: u32::try_from(slots)
            .map_err(|e| StoreError::Corrupt(format!("lease slots: {e}")))?,
        holder,
        acquired_at: row.micros("acquired_at")?,
        expires_at: row.micros("expires_at")?,
    })
}
