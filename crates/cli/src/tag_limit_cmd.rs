//! `flowgate concurrency-limit create | ls | inspect | reset | delete`: tag limits, at most N
//! task runs carrying a tag at once (Prefect's v1 `/concurrency_limits` API).

use clap::Subcommand;
use flowgate_wire::concurrency_limits::{TagLimit, TagLimitCreate, TagReset};

use crate::client::{Client, segment};
use crate::concurrency_limit_cmd::every_limit;
use crate::out::{out, outln};
use crate::table;

/// Tag-limit commands.
#[derive(Subcommand)]
pub enum TagLimitCommand {
    /// Limit the task runs carrying TAG to LIMIT at once (changes the limit if TAG has one).
    #[command(allow_negative_numbers = true)]
    Create {
        /// The tag.
        tag: String,
        /// Task runs with the tag that may run at once.
        limit: i64,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// List the tag limits.
    Ls {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a tag's limit and the task runs holding its slots.
    Inspect {
        /// The tag.
        tag: String,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Release every slot of a tag's limit.
    Reset {
        /// The tag.
        tag: String,
    },
    /// Delete a tag's limit.
    Delete {
        /// The tag.
        tag: String,
    },
}

/// Runs a concurrency-limit (tag) command.
pub async fn run(client: Client, command: TagLimitCommand) -> anyhow::Result<()> {
    match command {
        TagLimitCommand::Create { tag, limit, json } => {
            let body = TagLimitCreate {
                tag,
                concurrency_limit: limit,
            };
            let limit: TagLimit = client.post("/concurrency_limits/", &body).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&limit)?);
            } else {
                outln!(
                    "Task runs tagged {:?} now run at most {} at once ({}).",
                    limit.tag,
                    limit.concurrency_limit,
                    limit.id
                );
            }
            Ok(())
        }
        TagLimitCommand::Ls { json } => ls(&client, json).await,
        TagLimitCommand::Inspect { tag, json } => {
            let limit: TagLimit = client.get(&tag_path(&tag)).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&limit)?);
                return Ok(());
            }
            outln!("{}", limit.tag);
            outln!("  {:<13} {}", "ID", limit.id);
            outln!("  {:<13} {}", "Limit", limit.concurrency_limit);
            outln!("  {:<13} {}", "Active slots", limit.active_slots.len());
            for run in &limit.active_slots {
                outln!("    task run {run}");
            }
            Ok(())
        }
        TagLimitCommand::Reset { tag } => {
            client
                .post_empty(&format!("{}/reset", tag_path(&tag)), &TagReset::default())
                .await?;
            outln!("Released every slot of tag {tag:?}.");
            Ok(())
        }
        TagLimitCommand::Delete { tag } => {
            client.delete(&tag_path(&tag)).await?;
            outln!("Deleted the concurrency limit of tag {tag:?}.");
            Ok(())
        }
    }
}

fn tag_path(tag: &str) -> String {
    format!("/concurrency_limits/tag/{}", segment(tag))
}

async fn ls(client: &Client, json: bool) -> anyhow::Result<()> {
    let limits: Vec<TagLimit> = every_limit(client, "/concurrency_limits/filter").await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&limits)?);
        return Ok(());
    }
    if limits.is_empty() {
        eprintln!("No tag concurrency limits found.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = limits
        .iter()
        .map(|l| {
            vec![
                l.tag.clone(),
                l.concurrency_limit.to_string(),
                l.active_slots.len().to_string(),
                l.id.to_string(),
            ]
        })
        .collect();
    out!(
        "{}",
        table::render(&["TAG", "LIMIT", "ACTIVE SLOTS", "ID"], &rows)
    );
    Ok(())
}
