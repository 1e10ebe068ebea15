//! [`ConcurrencyLimitStore`] on SQL: the `concurrency_limits` table, and settings changes.
//! Slot traffic (acquisitions, releases, renewals, reaping) lives in `concurrency_leases.rs`.

use async_trait::async_trait;
use flowgate_core::Micros;
use flowgate_core::concurrency::acquire::{SetActiveSlots, set_active_slots};
use flowgate_core::concurrency::book::{LimitState, SlotOp, SlotOutcome};
use flowgate_core::concurrency::settings::check_name;
use flowgate_core::concurrency::{
    Holder, HolderKind, Lease, LeaseDuration, LimitSettings, SlotLedger,
};
use uuid::Uuid;

use super::concurrency_leases::{
    apply_ops, delete_leases_of, insert_leases, leases_on, reap, write_limits,
};
use super::{SqlStore, commit, filters, not_found};
use crate::backend::Backend;
use crate::capabilities::concurrency_limits::{
    ConcurrencyLimit, ConcurrencyLimitStore, LimitKey, LimitKind, LimitUpdate, NewLimit,
};
use crate::model::Page;
use crate::sql::{Row, Sql};
use crate::store::{Result, StoreError};

#[async_trait]
impl<B: Backend> ConcurrencyLimitStore for SqlStore<B> {
    async fn create_limit(&self, new: &NewLimit, now: Micros) -> Result<ConcurrencyLimit> {
        let mut tx = self.begin().await?;
        let mut insert = Sql::new(
            "INSERT INTO concurrency_limits (id, created, updated, name, slot_limit, active, \
             slot_decay_per_second, held_slots, drained_at_ns, denied_slots, \
             avg_slot_occupancy_seconds) VALUES ",
        );
        insert
            .rows([vec![
                Uuid::now_v7().into(),
                now.into(),
                now.into(),
                new.name.as_str().into(),
                i64::from(new.settings.limit).into(),
                i64::from(new.settings.active).into(),
                new.slot_decay_per_second.into(),
                i64::from(new.active_slots).into(),
                0i64.into(),
                to_i64(new.denied_slots).into(),
                flowgate_core::concurrency::estimate::DEFAULT_AVERAGE_OCCUPANCY_SECONDS.into(),
            ]])
            .push(" ON CONFLICT (name) DO NOTHING RETURNING *");
        let rows = B::fetch_all(&mut tx, insert).await?;
        let Some(row) = rows.first() else {
            return Err(StoreError::Conflict(format!(
                "a concurrency limit named {:?} already exists; update it, or pick another name",
                new.name
            )));
        };
        let limit = limit_row(row)?;
        commit(tx).await?;
        Ok(limit)
    }

    async fn read_limit(&self, key: &LimitKey) -> Result<ConcurrencyLimit> {
        self.query_one(select_by(key, ""), limit_row, || missing(key))
            .await
    }

    async fn read_limits(&self, kind: LimitKind, page: Page) -> Result<Vec<ConcurrencyLimit>> {
        let mut sql = Sql::new("SELECT * FROM concurrency_limits");
        match kind {
            LimitKind::All => {}
            LimitKind::Global => {
                sql.push(" WHERE substr(name, 1, 4) <> 'tag:'");
            }
            LimitKind::Tag => {
                sql.push(" WHERE substr(name, 1, 4) = 'tag:'");
            }
        }
        sql.push(" ORDER BY name");
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(limit_row).collect()
    }

    async fn update_limit(
        &self,
        key: &LimitKey,
        update: &LimitUpdate,
        now: Micros,
    ) -> Result<ConcurrencyLimit> {
        let mut tx = self.begin().await?;
        let old = lock_limit::<B>(&mut tx, key).await?;
        let mut new = old.clone();
        if let Some(name) = &update.name {
            check_name(name).map_err(|e| StoreError::Invalid(e.to_string()))?;
            new.name.clone_from(name);
        }
        let decay = update
            .slot_decay_per_second
            .unwrap_or(old.slot_decay_per_second);
        new.settings = LimitSettings::new(
            i64::from(update.limit.unwrap_or(old.settings.limit)),
            decay,
            update.active.unwrap_or(old.settings.active),
        )
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        new.slot_decay_per_second = decay;
        new.ledger = old
            .ledger
            .redecay(old.settings.decay, new.settings.decay, now);
        if let Some(asked) = update.active_slots {
            let leases = leases_on::<B>(&mut tx, &[old.id]).await?;
            let leased = leases
                .iter()
                .map(|l| l.slots)
                .fold(0u32, u32::saturating_add);
            match set_active_slots(&old.state().slots, asked, leased) {
                Ok(SetActiveSlots::Reset) => {
                    delete_leases_of::<B>(&mut tx, old.id).await?;
                    new.ledger = SlotLedger::empty();
                }
                Ok(SetActiveSlots::Held(ledger)) => new.ledger = ledger,
                Err(e) => return Err(StoreError::Invalid(e.to_string())),
            }
        }
        if let Some(denied) = update.denied_slots {
            new.denied_slots = denied;
        }
        new.updated = now;
        save_settings::<B>(&mut tx, &new).await?;
        commit(tx).await?;
        Ok(new)
    }

    async fn delete_limit(&self, key: &LimitKey) -> Result<ConcurrencyLimit> {
        let mut tx = self.begin().await?;
        let limit = lock_limit::<B>(&mut tx, key).await?;
        delete_leases_of::<B>(&mut tx, limit.id).await?;
        let mut delete = Sql::new("DELETE FROM concurrency_limits WHERE id = ");
        delete.arg(limit.id);
        B::execute(&mut tx, delete).await?;
        commit(tx).await?;
        Ok(limit)
    }

    async fn reset_limit(
        &self,
        key: &LimitKey,
        task_runs: &[Uuid],
        now: Micros,
    ) -> Result<ConcurrencyLimit> {
        let mut tx = self.begin().await?;
        let mut limit = lock_limit::<B>(&mut tx, key).await?;
        delete_leases_of::<B>(&mut tx, limit.id).await?;
        let mut runs = task_runs.to_vec();
        runs.sort();
        runs.dedup();
        let leases: Vec<Lease> = runs
            .iter()
            .map(|run| {
                Lease::grant(
                    Uuid::now_v7(),
                    vec![limit.id],
                    1,
                    Some(Holder {
                        kind: HolderKind::TaskRun,
                        id: *run,
                    }),
                    now,
                    LeaseDuration::until_released(),
                )
            })
            .collect();
        insert_leases::<B>(&mut tx, &leases).await?;
        limit.ledger = SlotLedger {
            held: u32::try_from(leases.len()).unwrap_or(u32::MAX),
            drained_at_ns: 0,
        };
        limit.denied_slots = 0;
        let state: LimitState = limit.state();
        write_limits::<B>(&mut tx, std::slice::from_ref(&state)).await?;
        commit(tx).await?;
        Ok(limit)
    }

    async fn leases_of_limit(&self, limit: Uuid, now: Micros) -> Result<Vec<Lease>> {
        let mut conn = self
            .read
            .acquire()
            .await
            .map_err(crate::backend::driver_error)?;
        let mut leases = leases_on::<B>(&mut conn, &[limit]).await?;
        leases.retain(|l| !l.is_expired(now));
        leases.sort_by_key(|l| (l.acquired_at, l.id));
        Ok(leases)
    }

    async fn apply_slot_ops(
        &self,
        ops: &[SlotOp],
        now: Micros,
    ) -> Result<(Vec<SlotOutcome>, Vec<String>)> {
        let (done, _held) = self
            .write_framed(async |conn, framing| apply_ops::<B>(conn, ops, now, framing).await)
            .await?;
        Ok(done)
    }

    async fn reap_leases(&self, now: Micros, batch: u32) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let freed = reap::<B>(&mut tx, now, batch).await?;
        commit(tx).await?;
        Ok(freed)
    }

    async fn next_lease_expiry(&self) -> Result<Option<Micros>> {
        let rows = self
            .query(Sql::new(
                "SELECT MIN(expires_at) AS next FROM concurrency_leases",
            ))
            .await?;
        rows.first().map_or(Ok(None), |r| r.opt_micros("next"))
    }
}

fn missing(key: &LimitKey) -> StoreError {
    not_found("concurrency limit", key)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `SELECT * FROM concurrency_limits WHERE <key>` with `suffix` (a row lock) appended.
fn select_by(key: &LimitKey, suffix: &str) -> Sql {
    let mut sql = Sql::new("SELECT * FROM concurrency_limits WHERE ");
    match key {
        LimitKey::Id(id) => sql.push("id = ").arg(*id),
        LimitKey::Name(name) => sql.push("name = ").arg(name.as_str()),
    };
    sql.push(suffix);
    sql
}

/// Reads and row-locks one limit.
async fn lock_limit<B: Backend>(
    conn: &mut B::Connection,
    key: &LimitKey,
) -> Result<ConcurrencyLimit> {
    let rows = B::fetch_all(conn, select_by(key, B::FOR_UPDATE)).await?;
    rows.first().map(limit_row).ok_or_else(|| missing(key))?
}

/// Writes a limit's settings and counters back.
async fn save_settings<B: Backend>(conn: &mut B::Connection, l: &ConcurrencyLimit) -> Result<()> {
    let mut sql = Sql::new("UPDATE concurrency_limits SET name = ");
    sql.arg(l.name.as_str())
        .push(", slot_limit = ")
        .arg(i64::from(l.settings.limit))
        .push(", active = ")
        .arg(i64::from(l.settings.active))
        .push(", slot_decay_per_second = ")
        .arg(l.slot_decay_per_second)
        .push(", held_slots = ")
        .arg(i64::from(l.ledger.held))
        .push(", drained_at_ns = ")
        .arg(l.ledger.drained_at_ns)
        .push(", denied_slots = ")
        .arg(to_i64(l.denied_slots))
        .push(", updated = ")
        .arg(l.updated)
        .push(" WHERE id = ")
        .arg(l.id)
        .push(" AND NOT EXISTS (SELECT 1 FROM concurrency_limits other WHERE other.name = ")
        .arg(l.name.as_str())
        .push(" AND other.id <> ")
        .arg(l.id)
        .push(")");
    if B::execute(conn, sql).await? == 0 {
        return Err(StoreError::Conflict(format!(
            "a concurrency limit named {:?} already exists; pick another name",
            l.name
        )));
    }
    Ok(())
}

/// Reads a `concurrency_limits` row.
pub(super) fn limit_row(row: &Row) -> Result<ConcurrencyLimit> {
    let limit: i64 = row.get("slot_limit")?;
    let decay: f64 = row.get("slot_decay_per_second")?;
    let active: i64 = row.get("active")?;
    let settings = LimitSettings::new(limit, decay, active != 0)
        .map_err(|e| StoreError::Corrupt(format!("concurrency limit settings: {e}")))?;
    let held: i64 = row.get("held_slots")?;
    let denied: i64 = row.get("denied_slots")?;
    Ok(ConcurrencyLimit {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        name: row.get("name")?,
        settings,
        slot_decay_per_second: decay,
        ledger: SlotLedger {
            held: u32::try_from(held)
                .map_err(|e| StoreError::Corrupt(format!("held_slots: {e}")))?,
            drained_at_ns: row.get("drained_at_ns")?,
        },
        denied_slots: u64::try_from(denied).unwrap_or(0),
        avg_slot_occupancy_seconds: row.get("avg_slot_occupancy_seconds")?,
    })
}
