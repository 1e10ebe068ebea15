//! `flowgate global-concurrency-limit create | ls | inspect | update | enable | disable |
//! delete`: global concurrency limits and rate limits (`/v2/concurrency_limits`). Tag limits
//! (named `tag:<tag>`) have their own command, `flowgate concurrency-limit`.

use anyhow::bail;
use clap::Subcommand;
use flowgate_wire::concurrency_limits::{
    GlobalLimit, GlobalLimitCreate, GlobalLimitUpdate, LimitHolders, LimitPage,
};
use serde::de::DeserializeOwned;

use crate::client::{Client, segment};
use crate::out::{out, outln};
use crate::table;

/// Global-concurrency-limit commands.
#[derive(Subcommand)]
pub enum GlobalLimitCommand {
    /// Create a limit: at most LIMIT slots held at once (with --slot-decay-per-second, a rate
    /// limit whose slots drain by themselves).
    #[command(allow_negative_numbers = true)]
    Create {
        /// Its name.
        name: String,
        /// Slots.
        #[arg(long)]
        limit: i64,
        /// Slots drained per second (0: held until released).
        #[arg(long, default_value_t = 0.0)]
        slot_decay_per_second: f64,
        /// Create it inactive (it limits nothing until enabled).
        #[arg(long)]
        disable: bool,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// List the limits (tag limits: `flowgate concurrency-limit ls`).
    Ls {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a limit, who holds its slots and how many requests wait.
    Inspect {
        /// Its name or id.
        name: String,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Change a limit's settings or counts.
    #[command(allow_negative_numbers = true)]
    Update {
        /// Its name or id.
        name: String,
        /// New slot count.
        #[arg(long)]
        limit: Option<i64>,
        /// New drain rate.
        #[arg(long)]
        slot_decay_per_second: Option<f64>,
        /// Set the occupied count (0 releases every slot, leases included).
        #[arg(long)]
        active_slots: Option<i64>,
        /// Set the count of denied slots.
        #[arg(long)]
        denied_slots: Option<i64>,
    },
    /// Make a limit limit again.
    Enable {
        /// Its name or id.
        name: String,
    },
    /// Make a limit limit nothing (waiters go through at once).
    Disable {
        /// Its name or id.
        name: String,
    },
    /// Delete a limit.
    Delete {
        /// Its name or id.
        name: String,
    },
}

/// Runs a global-concurrency-limit command.
pub async fn run(client: Client, command: GlobalLimitCommand) -> anyhow::Result<()> {
    match command {
        GlobalLimitCommand::Create {
            name,
            limit,
            slot_decay_per_second,
            disable,
            json,
        } => {
            let body = GlobalLimitCreate {
                name,
                limit,
                active: !disable,
                active_slots: 0,
                denied_slots: 0,
                slot_decay_per_second,
            };
            let created: GlobalLimit = client.post("/v2/concurrency_limits/", &body).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                outln!(
                    "Created global concurrency limit {:?} ({}).",
                    created.name,
                    created.id
                );
            }
            Ok(())
        }
        GlobalLimitCommand::Ls { json } => ls(&client, json).await,
        GlobalLimitCommand::Inspect { name, json } => inspect(&client, &name, json).await,
        GlobalLimitCommand::Update {
            name,
            limit,
            slot_decay_per_second,
            active_slots,
            denied_slots,
        } => {
            let update = GlobalLimitUpdate {
                limit,
                slot_decay_per_second,
                active_slots,
                denied_slots,
                ..Default::default()
            };
            if update == GlobalLimitUpdate::default() {
                bail!(
                    "nothing to update: give --limit, --slot-decay-per-second, --active-slots or --denied-slots"
                );
            }
            change(&client, &name, &update, "Updated").await
        }
        GlobalLimitCommand::Enable { name } => {
            let update = GlobalLimitUpdate {
                active: Some(true),
                ..Default::default()
            };
            change(&client, &name, &update, "Enabled").await
        }
        GlobalLimitCommand::Disable { name } => {
            let update = GlobalLimitUpdate {
                active: Some(false),
                ..Default::default()
            };
            change(&client, &name, &update, "Disabled").await
        }
        GlobalLimitCommand::Delete { name } => {
            client
                .delete(&format!("/v2/concurrency_limits/{}", segment(&name)))
                .await?;
            outln!("Deleted global concurrency limit {name:?}.");
            Ok(())
        }
    }
}

/// Every limit a `/filter` route lists, a page at a time.
pub async fn every_limit<T: DeserializeOwned>(
    client: &Client,
    path: &str,
) -> anyhow::Result<Vec<T>> {
    const PAGE: i64 = 200;
    let mut all = Vec::new();
    loop {
        let page = LimitPage {
            limit: Some(PAGE),
            offset: Some(i64::try_from(all.len())?),
        };
        let limits: Vec<T> = client.post(path, &page).await?;
        let last = limits.len() < PAGE as usize;
        all.extend(limits);
        if last {
            return Ok(all);
        }
    }
}

async fn ls(client: &Client, json: bool) -> anyhow::Result<()> {
    let limits: Vec<GlobalLimit> =
        every_limit::<GlobalLimit>(client, "/v2/concurrency_limits/filter")
            .await?
            .into_iter()
            .filter(|l| !l.name.starts_with("tag:"))
            .collect();
    if json {
        outln!("{}", serde_json::to_string_pretty(&limits)?);
        return Ok(());
    }
    if limits.is_empty() {
        eprintln!("No global concurrency limits found.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = limits
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                l.limit.to_string(),
                l.active_slots.to_string(),
                l.slot_decay_per_second.to_string(),
                if l.active { "yes" } else { "no" }.to_owned(),
                l.id.to_string(),
            ]
        })
        .collect();
    out!(
        "{}",
        table::render(
            &[
                "NAME",
                "LIMIT",
                "ACTIVE SLOTS",
                "SLOT DECAY/S",
                "ACTIVE",
                "ID"
            ],
            &rows
        )
    );
    Ok(())
}

async fn inspect(client: &Client, name: &str, json: bool) -> anyhow::Result<()> {
    let path = format!("/v2/concurrency_limits/{}", segment(name));
    let limit: GlobalLimit = client.get(&path).await?;
    let holders: LimitHolders = client.get(&format!("{path}/holders")).await?;
    if json {
        let mut out = serde_json::to_value(&limit)?;
        out["holders"] = serde_json::to_value(&holders)?;
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    outln!("{}", limit.name);
    let fields = [
        ("ID", limit.id.to_string()),
        ("Active", if limit.active { "yes" } else { "no" }.to_owned()),
        ("Limit", limit.limit.to_string()),
        ("Active slots", limit.active_slots.to_string()),
        ("Denied slots", limit.denied_slots.to_string()),
        ("Slot decay/s", limit.slot_decay_per_second.to_string()),
        (
            "Avg held",
            format!("{:.3} s", limit.avg_slot_occupancy_seconds),
        ),
        ("Waiting", holders.waiting.to_string()),
    ];
    for (k, v) in fields {
        outln!("  {k:<13} {v}");
    }
    if !holders.leases.is_empty() {
        let rows: Vec<Vec<String>> = holders
            .leases
            .iter()
            .map(|l| {
                vec![
                    l.id.to_string(),
                    l.slots.to_string(),
                    l.holder
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |h| format!("{} {}", h.kind, h.id)),
                    l.expires_at.to_string(),
                ]
            })
            .collect();
        outln!();
        out!(
            "{}",
            table::render(&["LEASE", "SLOTS", "HOLDER", "EXPIRES"], &rows)
        );
    }
    Ok(())
}

async fn change(
    client: &Client,
    name: &str,
    update: &GlobalLimitUpdate,
    done: &str,
) -> anyhow::Result<()> {
    client
        .patch(&format!("/v2/concurrency_limits/{}", segment(name)), update)
        .await?;
    outln!("{done} global concurrency limit {name:?}.");
    Ok(())
}
