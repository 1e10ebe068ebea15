//! `flowgate work-pool create | ls | inspect | update | pause | resume | delete`: work pools
//! by name, with their queues and workers.

use clap::Subcommand;
use flowgate_wire::work_pools::{
    WorkPool, WorkPoolCreate, WorkPoolFilterRequest, WorkPoolUpdate, WorkQueue,
    WorkQueueFilterRequest, Worker, WorkerFilterRequest,
};

use crate::client::{Client, segment};
use crate::flow_run_cmd::short_time;
use crate::out::{out, outln};
use crate::table;

/// A concurrency limit given on the command line: a number, or `none` for no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(pub Option<i64>);

impl std::str::FromStr for Limit {
    type Err = String;

    fn from_str(s: &str) -> Result<Limit, String> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(Limit(None));
        }
        match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Limit(Some(n))),
            _ => Err(format!(
                "{s:?} is not a limit; give a whole number, 0 or more, or `none` for no limit"
            )),
        }
    }
}

/// How a limit reads in a table: the number, or `-` for none.
pub fn limit_cell(limit: Option<i64>) -> String {
    limit.map_or_else(|| "-".to_owned(), |l| l.to_string())
}

/// Work-pool commands.
#[derive(Subcommand)]
pub enum WorkPoolCommand {
    /// Create a work pool (with its queue `default`).
    Create {
        /// The pool's name.
        name: String,
        /// The kind of worker that serves it.
        #[arg(long = "type", default_value = "process")]
        pool_type: String,
        /// Flow runs at once, at most (`none`: no limit).
        #[arg(long, allow_hyphen_values = true)]
        limit: Option<Limit>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// Create it paused (it hands out nothing until resumed).
        #[arg(long)]
        paused: bool,
        /// Print the new pool as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List work pools.
    Ls {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a pool with its queues and workers.
    Inspect {
        /// The pool's name.
        name: String,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Change a pool's limit or description.
    Update {
        /// The pool's name.
        name: String,
        /// Flow runs at once, at most (`none`: no limit).
        #[arg(long, allow_hyphen_values = true)]
        limit: Option<Limit>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// Pause a pool: it hands out no runs until resumed.
    Pause {
        /// The pool's name.
        name: String,
    },
    /// Resume a paused pool.
    Resume {
        /// The pool's name.
        name: String,
    },
    /// Delete a pool with its queues and workers.
    Delete {
        /// The pool's name.
        name: String,
    },
}

/// Runs a work-pool command.
pub async fn run(client: Client, command: WorkPoolCommand) -> anyhow::Result<()> {
    match command {
        WorkPoolCommand::Create {
            name,
            pool_type,
            limit,
            description,
            paused,
            json,
        } => {
            let body = WorkPoolCreate {
                name,
                description,
                pool_type,
                is_paused: paused,
                concurrency_limit: limit.and_then(|l| l.0),
                ..Default::default()
            };
            let pool: WorkPool = client.post("/work_pools/", &body).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&pool)?);
            } else {
                outln!("Created work pool {:?} ({}).", pool.name, pool.id);
            }
            Ok(())
        }
        WorkPoolCommand::Ls { json } => ls(&client, json).await,
        WorkPoolCommand::Inspect { name, json } => inspect(&client, &name, json).await,
        WorkPoolCommand::Update {
            name,
            limit,
            description,
        } => {
            if limit.is_none() && description.is_none() {
                anyhow::bail!("nothing to change; give --limit or --description");
            }
            let body = WorkPoolUpdate {
                concurrency_limit: limit.map(|l| l.0),
                description: description.map(Some),
                ..Default::default()
            };
            update(&client, &name, &body).await?;
            outln!("Updated work pool {name:?}.");
            Ok(())
        }
        WorkPoolCommand::Pause { name } => {
            set_paused(&client, &name, true).await?;
            outln!("Paused work pool {name:?}: it hands out no runs until resumed.");
            Ok(())
        }
        WorkPoolCommand::Resume { name } => {
            set_paused(&client, &name, false).await?;
            outln!("Resumed work pool {name:?}.");
            Ok(())
        }
        WorkPoolCommand::Delete { name } => {
            client
                .delete(&format!("/work_pools/{}", segment(&name)))
                .await?;
            outln!("Deleted work pool {name:?}.");
            Ok(())
        }
    }
}

async fn update(client: &Client, name: &str, body: &WorkPoolUpdate) -> anyhow::Result<()> {
    client
        .patch(&format!("/work_pools/{}", segment(name)), body)
        .await
}

async fn set_paused(client: &Client, name: &str, paused: bool) -> anyhow::Result<()> {
    let body = WorkPoolUpdate {
        is_paused: Some(paused),
        ..Default::default()
    };
    update(client, name, &body).await
}

async fn ls(client: &Client, as_json: bool) -> anyhow::Result<()> {
    let body = WorkPoolFilterRequest {
        limit: Some(1000),
        ..Default::default()
    };
    let mut pools: Vec<WorkPool> = client.post("/work_pools/filter", &body).await?;
    pools.sort_by(|a, b| a.name.cmp(&b.name));
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&pools)?);
        return Ok(());
    }
    if pools.is_empty() {
        eprintln!("No work pools; create one with `flowgate work-pool create NAME`.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.pool_type.clone(),
                p.status.clone(),
                limit_cell(p.concurrency_limit),
                p.active_slots.to_string(),
                p.id.to_string(),
            ]
        })
        .collect();
    out!(
        "{}",
        table::render(&["NAME", "TYPE", "STATUS", "LIMIT", "ACTIVE", "ID"], &rows)
    );
    Ok(())
}

/// A pool's queues, by priority.
pub async fn queues(client: &Client, pool: &str) -> anyhow::Result<Vec<WorkQueue>> {
    let body = WorkQueueFilterRequest {
        limit: Some(1000),
        ..Default::default()
    };
    client
        .post(
            &format!("/work_pools/{}/queues/filter", segment(pool)),
            &body,
        )
        .await
}

async fn inspect(client: &Client, name: &str, as_json: bool) -> anyhow::Result<()> {
    let pool: WorkPool = client
        .get(&format!("/work_pools/{}", segment(name)))
        .await?;
    let queues = queues(client, name).await?;
    let workers: Vec<Worker> = client
        .post(
            &format!("/work_pools/{}/workers/filter", segment(name)),
            &WorkerFilterRequest::default(),
        )
        .await?;
    if as_json {
        let mut out = serde_json::to_value(&pool)?;
        out["work_queues"] = serde_json::to_value(&queues)?;
        out["workers"] = serde_json::to_value(&workers)?;
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    outln!("{}", pool.name);
    let fields = [
        ("ID", pool.id.to_string()),
        ("Type", pool.pool_type.clone()),
        ("Status", pool.status.clone()),
        ("Limit", limit_cell(pool.concurrency_limit)),
        ("Active", pool.active_slots.to_string()),
        ("Description", pool.description.clone().unwrap_or_default()),
    ];
    for (k, v) in fields {
        outln!("  {k:<12} {v}");
    }
    outln!();
    let rows: Vec<Vec<String>> = queues.iter().map(queue_row).collect();
    out!("{}", table::render(&QUEUE_HEADER, &rows));
    outln!();
    if workers.is_empty() {
        outln!("No workers; start one with `flowgate worker start --pool {name}`.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = workers
        .iter()
        .map(|w| {
            vec![
                w.name.clone(),
                w.status.clone(),
                short_time(Some(w.last_heartbeat_time)),
            ]
        })
        .collect();
    out!(
        "{}",
        table::render(&["WORKER", "STATUS", "LAST HEARTBEAT"], &rows)
    );
    Ok(())
}

/// The columns of a queue table.
pub const QUEUE_HEADER: [&str; 5] = ["QUEUE", "PRIORITY", "LIMIT", "ACTIVE", "STATUS"];

/// One queue as a table row under [`QUEUE_HEADER`].
pub fn queue_row(q: &WorkQueue) -> Vec<String> {
    vec![
        q.name.clone(),
        q.priority.to_string(),
        limit_cell(q.concurrency_limit),
        q.active_slots
            .map_or_else(|| "-".to_owned(), |a| a.to_string()),
        q.status.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use super::Limit;

    #[test]
    fn limits_read_numbers_and_none() {
        assert_eq!("3".parse(), Ok(Limit(Some(3))));
        assert_eq!("0".parse(), Ok(Limit(Some(0))));
        assert_eq!("None".parse(), Ok(Limit(None)));
        assert!("-1".parse::<Limit>().unwrap_err().contains("0 or more"));
        assert!("many".parse::<Limit>().is_err());
    }
}
