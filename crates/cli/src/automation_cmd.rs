//! `flowgate automation create | ls | inspect | enable | disable | delete`: automations from
//! JSON or YAML files, by id or name, with the "why did it (not) fire" report.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use flowgate_wire::automations::{
    Action, Automation, AutomationFilter, AutomationFilterRequest, AutomationPatch,
    AutomationReport, Posture, Require, RequireWord, Trigger,
};
use flowgate_wire::filters::AnyOf;
use serde_json::Value;
use uuid::Uuid;

use crate::automation_report;
use crate::client::Client;
use crate::flow_run_cmd::short_time;
use crate::out::{out, outln};
use crate::table;

/// Automation commands.
#[derive(Subcommand)]
pub enum AutomationCommand {
    /// Create automations from a file: one definition, a list of them, or `{"automations":
    /// [...]}`, in Prefect's JSON (or the same as YAML).
    Create {
        /// The file (`.json`, `.yaml` or `.yml`; `-` reads standard input).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Print the new automations as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List automations by name.
    Ls {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show an automation, its trigger's live state and its latest firings: why it did or did
    /// not fire.
    Inspect {
        /// The automation's id or name.
        automation: String,
        /// Print JSON instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Enable an automation: its trigger is evaluated again, from a fresh state.
    Enable {
        /// The automation's id or name.
        automation: String,
    },
    /// Disable an automation: it is not evaluated and never fires.
    Disable {
        /// The automation's id or name.
        automation: String,
    },
    /// Delete an automation.
    Delete {
        /// The automation's id or name.
        automation: String,
    },
}

/// Runs an automation command.
pub async fn run(client: Client, command: AutomationCommand) -> anyhow::Result<()> {
    match command {
        AutomationCommand::Create { file, json } => create(&client, &file, json).await,
        AutomationCommand::Ls { json } => ls(&client, json).await,
        AutomationCommand::Inspect { automation, json } => {
            let automation = resolve(&client, &automation).await?;
            let report: AutomationReport = client
                .get(&format!("/automations/{}/state", automation.id))
                .await?;
            if json {
                let mut out = serde_json::to_value(&automation)?;
                out["trigger_state"] = serde_json::to_value(&report.trigger_state)?;
                out["firings"] = serde_json::to_value(&report.firings)?;
                outln!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                out!("{}", automation_report::render(&automation, &report)?);
            }
            Ok(())
        }
        AutomationCommand::Enable { automation } => {
            let automation = resolve(&client, &automation).await?;
            set_enabled(&client, automation.id, true).await?;
            outln!(
                "Enabled automation {:?}: its trigger is evaluated from now on.",
                automation.name
            );
            Ok(())
        }
        AutomationCommand::Disable { automation } => {
            let automation = resolve(&client, &automation).await?;
            set_enabled(&client, automation.id, false).await?;
            outln!(
                "Disabled automation {:?}: it does not fire until enabled.",
                automation.name
            );
            Ok(())
        }
        AutomationCommand::Delete { automation } => {
            let automation = resolve(&client, &automation).await?;
            client
                .delete(&format!("/automations/{}", automation.id))
                .await?;
            outln!(
                "Deleted automation {:?} ({}).",
                automation.name,
                automation.id
            );
            Ok(())
        }
    }
}

async fn set_enabled(client: &Client, id: Uuid, enabled: bool) -> anyhow::Result<()> {
    client
        .patch(&format!("/automations/{id}"), &AutomationPatch { enabled })
        .await
}

/// The definitions a file holds: one object, a list, or `{"automations": [...]}`.
fn definitions(document: Value) -> anyhow::Result<Vec<Value>> {
    match document {
        Value::Array(list) => Ok(list),
        Value::Object(mut map) if map.len() == 1 && map.contains_key("automations") => {
            match map.remove("automations") {
                Some(Value::Array(list)) => Ok(list),
                _ => bail!("`automations` must be a list of automation definitions"),
            }
        }
        one @ Value::Object(_) => Ok(vec![one]),
        _ => bail!(
            "expected an automation definition (an object with name, trigger and actions), a list of them, or {{\"automations\": [...]}}"
        ),
    }
}

/// Reads `text` as YAML when the file says so by its extension, as JSON otherwise (and as YAML
/// when it is not JSON, so a YAML file of any name is read).
fn parse(text: &str, path: &Path) -> anyhow::Result<Value> {
    let yaml_named = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if !yaml_named {
        match serde_json::from_str(text) {
            Ok(v) => return Ok(v),
            Err(e) if path.extension().is_some_and(|e| e == "json") => {
                bail!("{} is not valid JSON: {e}", path.display())
            }
            Err(_) => {}
        }
    }
    serde_saphyr::from_str(text).map_err(|e| match yaml_named {
        true => anyhow::anyhow!("{} is not valid YAML: {e}", path.display()),
        false => anyhow::anyhow!("{} is neither JSON nor YAML: {e}", path.display()),
    })
}

async fn create(client: &Client, path: &Path, as_json: bool) -> anyhow::Result<()> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    let document = parse(&text, path)?;
    let several = !document.is_object() || document.get("automations").is_some();
    let definitions = definitions(document)?;
    if definitions.is_empty() {
        bail!("{} holds no automation definitions", path.display());
    }
    let mut created: Vec<Automation> = Vec::new();
    for (i, definition) in definitions.iter().enumerate() {
        let name = definition.get("name").and_then(Value::as_str);
        let label = match name {
            Some(n) => format!("automation {n:?}"),
            None => format!("automation {}", i + 1),
        };
        // The server checks the definition and names each bad field.
        match client.post::<Automation>("/automations/", definition).await {
            Ok(a) => created.push(a),
            Err(e) => {
                let done: Vec<String> = created.iter().map(|a| format!("{:?}", a.name)).collect();
                let note = match done.as_slice() {
                    [] => String::new(),
                    _ => format!(" (created before it: {})", done.join(", ")),
                };
                return Err(e.context(format!("{label} was not created{note}")));
            }
        }
    }
    if as_json {
        let out = match (several, created.as_slice()) {
            (false, [one]) => serde_json::to_string_pretty(one)?,
            _ => serde_json::to_string_pretty(&created)?,
        };
        outln!("{out}");
    } else {
        for a in &created {
            outln!("Created automation {:?} ({}).", a.name, a.id);
        }
    }
    Ok(())
}

async fn ls(client: &Client, as_json: bool) -> anyhow::Result<()> {
    let body = AutomationFilterRequest {
        limit: Some(10_000),
        ..Default::default()
    };
    let automations: Vec<Automation> = client.post("/automations/filter", &body).await?;
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&automations)?);
        return Ok(());
    }
    if automations.is_empty() {
        eprintln!("No automations; create one with `flowgate automation create -f FILE`.");
        return Ok(());
    }
    let mut rows = Vec::with_capacity(automations.len());
    for a in &automations {
        let report: AutomationReport = client.get(&format!("/automations/{}/state", a.id)).await?;
        let last_fired = report
            .firings
            .iter()
            .find(|f| f.state == "Triggered")
            .map(|f| f.decided);
        rows.push(vec![
            a.name.clone(),
            if a.enabled { "yes" } else { "no" }.to_owned(),
            trigger_summary(&a.trigger),
            action_kinds(a),
            short_time(last_fired),
            a.id.to_string(),
        ]);
    }
    out!(
        "{}",
        table::render(
            &["NAME", "ENABLED", "TRIGGER", "ACTIONS", "LAST FIRED", "ID"],
            &rows
        )
    );
    Ok(())
}

/// A trigger in a few words: `event`, `event (proactive)`, `compound all of 2`, `sequence of
/// 3`, `metric successes<0.7`.
pub fn trigger_summary(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Event(e) => match e.posture {
            Posture::Reactive => "event".to_owned(),
            Posture::Proactive => "event(proactive)".to_owned(),
        },
        Trigger::Compound(c) => {
            let how = match &c.require {
                Require::Count(n) => n.to_string(),
                Require::Word(RequireWord::All) => "all".to_owned(),
                Require::Word(RequireWord::Any) => "any".to_owned(),
            };
            format!("compound({how}-of-{})", c.triggers.len())
        }
        Trigger::Sequence(s) => format!("sequence({})", s.triggers.len()),
        Trigger::Metric(m) => format!(
            "metric({}{}{})",
            m.metric.name.as_str(),
            m.metric.operator.as_str(),
            m.metric.threshold
        ),
    }
}

/// Every action's `type`, comma-separated (on-trigger and on-resolve ones marked).
pub fn action_kinds(a: &Automation) -> String {
    let all: Vec<String> = (a.actions.iter().map(|x| x.kind().to_owned()))
        .chain(a.actions_on_trigger.iter().map(|x| tagged(x, "trigger")))
        .chain(a.actions_on_resolve.iter().map(|x| tagged(x, "resolve")))
        .collect();
    if all.is_empty() {
        "-".to_owned()
    } else {
        all.join(",")
    }
}

fn tagged(action: &Action, when: &str) -> String {
    format!("{}(on-{when})", action.kind())
}

/// The automation `reference` names: by id, or the one automation with that name.
async fn resolve(client: &Client, reference: &str) -> anyhow::Result<Automation> {
    if let Ok(id) = Uuid::parse_str(reference) {
        return client.get(&format!("/automations/{id}")).await;
    }
    let body = AutomationFilterRequest {
        automations: Some(AutomationFilter {
            name: Some(AnyOf::new([reference.to_owned()])),
            ..Default::default()
        }),
        limit: Some(10),
        ..Default::default()
    };
    let mut found: Vec<Automation> = client
        .post("/automations/filter", &body)
        .await
        .with_context(|| format!("cannot look up the automation named {reference:?}"))?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "no automation is named {reference:?} (nor is it an id); `flowgate automation ls` lists them"
        ),
        n => {
            let mut message = format!(
                "{n} automations are named {reference:?}; pass the id of the one you mean:"
            );
            for a in &found {
                message.push_str(&format!(
                    "\n  {}  created {}",
                    a.id,
                    short_time(Some(a.created))
                ));
            }
            bail!(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::{definitions, parse};

    #[test]
    fn files_hold_one_definition_a_list_or_an_automations_key() {
        let one = json!({"name": "a"});
        assert_eq!(definitions(one.clone()).unwrap(), vec![one.clone()]);
        assert_eq!(definitions(json!([one, one])).unwrap().len(), 2);
        assert_eq!(
            definitions(json!({"automations": [one]})).unwrap(),
            vec![one]
        );
        assert!(definitions(json!({"automations": 3})).is_err());
        assert!(definitions(json!("a")).is_err());
    }

    #[test]
    fn yaml_and_json_read_alike() {
        let yaml = "name: a\ntrigger:\n  type: event\n  expect: [x.y]\n  threshold: 2\n";
        let json =
            r#"{"name": "a", "trigger": {"type": "event", "expect": ["x.y"], "threshold": 2}}"#;
        let from_yaml = parse(yaml, Path::new("a.yaml")).unwrap();
        assert_eq!(from_yaml, parse(json, Path::new("a.json")).unwrap());
        // A YAML file without the extension is still read.
        assert_eq!(parse(yaml, Path::new("-")).unwrap(), from_yaml);
        let bad = parse("{\"name\": ", Path::new("a.json")).unwrap_err();
        assert!(bad.to_string().contains("not valid JSON"), "{bad}");
    }
}
