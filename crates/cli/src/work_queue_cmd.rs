//! `flowgate work-queue create | ls | inspect | update | pause | resume | delete`: a pool's
//! queues by pool and name, with their priority (1 is highest) and concurrency limit.

use clap::Subcommand;
use flowgate_wire::work_pools::{WorkQueue, WorkQueueCreate, WorkQueueUpdate};

use crate::client::{Client, segment};
use crate::out::{out, outln};
use crate::table;
use crate::work_pool_cmd::{Limit, QUEUE_HEADER, limit_cell, queue_row, queues};

/// Work-queue commands.
#[derive(Subcommand)]
pub enum WorkQueueCommand {
    /// Create a queue in a pool.
    Create {
        /// The queue's name.
        name: String,
        /// Its pool.
        #[arg(long)]
        pool: String,
        /// 1 is highest; queues at or below it shift down (default: after every other).
        #[arg(long, value_parser = priority, allow_hyphen_values = true)]
        priority: Option<i64>,
        /// Flow runs from this queue at once, at most (`none`: no limit).
        #[arg(long, allow_hyphen_values = true)]
        limit: Option<Limit>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// Print the new queue as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a pool's queues by priority.
    Ls {
        /// The pool.
        #[arg(long)]
        pool: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one queue.
    Inspect {
        /// The queue's name.
        name: String,
        /// Its pool.
        #[arg(long)]
        pool: String,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Change a queue's name, priority, limit or description.
    Update {
        /// The queue's name.
        name: String,
        /// Its pool.
        #[arg(long)]
        pool: String,
        /// A new name.
        #[arg(long)]
        new_name: Option<String>,
        /// 1 is highest; other queues shift to make room.
        #[arg(long, value_parser = priority, allow_hyphen_values = true)]
        priority: Option<i64>,
        /// Flow runs from this queue at once, at most (`none`: no limit).
        #[arg(long, allow_hyphen_values = true)]
        limit: Option<Limit>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// Pause a queue: it hands out no runs until resumed.
    Pause {
        /// The queue's name.
        name: String,
        /// Its pool.
        #[arg(long)]
        pool: String,
    },
    /// Resume a paused queue.
    Resume {
        /// The queue's name.
        name: String,
        /// Its pool.
        #[arg(long)]
        pool: String,
    },
    /// Delete a queue (a pool's `default` queue stays).
    Delete {
        /// The queue's name.
        name: String,
        /// Its pool.
        #[arg(long)]
        pool: String,
    },
}

/// A priority from the command line: 1 or more.
fn priority(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(p) if p >= 1 => Ok(p),
        _ => Err(format!(
            "{s:?} is not a priority; give a whole number, 1 or more (1 is highest)"
        )),
    }
}

fn path(pool: &str, queue: &str) -> String {
    format!("/work_pools/{}/queues/{}", segment(pool), segment(queue))
}

/// Runs a work-queue command.
pub async fn run(client: Client, command: WorkQueueCommand) -> anyhow::Result<()> {
    match command {
        WorkQueueCommand::Create {
            name,
            pool,
            priority,
            limit,
            description,
            json,
        } => {
            let body = WorkQueueCreate {
                name,
                description,
                priority,
                concurrency_limit: limit.and_then(|l| l.0),
                ..Default::default()
            };
            let queue: WorkQueue = client
                .post(&format!("/work_pools/{}/queues/", segment(&pool)), &body)
                .await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&queue)?);
            } else {
                outln!(
                    "Created work queue {:?} in pool {pool:?} at priority {}.",
                    queue.name,
                    queue.priority
                );
            }
            Ok(())
        }
        WorkQueueCommand::Ls { pool, json } => {
            let queues = queues(&client, &pool).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&queues)?);
            } else {
                let rows: Vec<Vec<String>> = queues.iter().map(queue_row).collect();
                out!("{}", table::render(&QUEUE_HEADER, &rows));
            }
            Ok(())
        }
        WorkQueueCommand::Inspect { name, pool, json } => {
            let q: WorkQueue = client.get(&path(&pool, &name)).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&q)?);
                return Ok(());
            }
            outln!("{} > {}", q.work_pool_name, q.name);
            let fields = [
                ("ID", q.id.to_string()),
                ("Priority", q.priority.to_string()),
                ("Limit", limit_cell(q.concurrency_limit)),
                (
                    "Active",
                    q.active_slots.map_or("-".into(), |a| a.to_string()),
                ),
                ("Status", q.status.clone()),
                ("Description", q.description.clone()),
            ];
            for (k, v) in fields {
                outln!("  {k:<12} {v}");
            }
            Ok(())
        }
        WorkQueueCommand::Update {
            name,
            pool,
            new_name,
            priority,
            limit,
            description,
        } => {
            let body = WorkQueueUpdate {
                name: new_name,
                description,
                is_paused: None,
                concurrency_limit: limit.map(|l| l.0),
                priority,
            };
            if body == WorkQueueUpdate::default() {
                anyhow::bail!(
                    "nothing to change; give --new-name, --priority, --limit or --description"
                );
            }
            client.patch(&path(&pool, &name), &body).await?;
            outln!("Updated work queue {name:?} in pool {pool:?}.");
            Ok(())
        }
        WorkQueueCommand::Pause { name, pool } => {
            set_paused(&client, &pool, &name, true).await?;
            outln!("Paused work queue {name:?} in pool {pool:?}.");
            Ok(())
        }
        WorkQueueCommand::Resume { name, pool } => {
            set_paused(&client, &pool, &name, false).await?;
            outln!("Resumed work queue {name:?} in pool {pool:?}.");
            Ok(())
        }
        WorkQueueCommand::Delete { name, pool } => {
            client.delete(&path(&pool, &name)).await?;
            outln!("Deleted work queue {name:?} from pool {pool:?}.");
            Ok(())
        }
    }
}

async fn set_paused(client: &Client, pool: &str, name: &str, paused: bool) -> anyhow::Result<()> {
    let body = WorkQueueUpdate {
        is_paused: Some(paused),
        ..Default::default()
    };
    client.patch(&path(pool, name), &body).await
}
