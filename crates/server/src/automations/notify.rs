//! Messages out of the server: `send-notification` through a notification block (its `url`:
//! Slack and similar webhooks) and `call-webhook` through a webhook block (`url`, `method`,
//! `headers`), with `{{ … }}` templates filled from the firing.
//!
//! Templates are paths, not Jinja: `{{ event.resource.name }}`, `{{ event.payload.x }}`,
//! `{{ automation.name }}`; a resource label is found by its full name
//! (`event.resource['prefect.resource.name']`) or its short one (`event.resource.name` reads
//! `prefect.resource.name`). A path that leads nowhere renders as nothing.

use std::sync::LazyLock;
use std::time::Duration;

use serde_json::{Value, json};

use super::actions::Failure;

/// How long a webhook may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .unwrap_or_default()
});

/// `template` with each `{{ path }}` replaced by what `path` names in `context`.
pub fn render(template: &str, context: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&lookup(context, rest[start + 2..start + len].trim()));
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// The text at a dotted path (`a.b['c.d'].e`).
fn lookup(context: &Value, path: &str) -> String {
    let mut here = context;
    for key in segments(path) {
        let next = here.get(key.as_str()).or_else(|| {
            // A resource's labels by their short names.
            here.get("prefect.resource.id")
                .and_then(|_| here.get(format!("prefect.resource.{key}").as_str()))
        });
        match next {
            Some(v) => here = v,
            None => return String::new(),
        }
    }
    match here {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `a.b['c.d'].e` → `a`, `b`, `c.d`, `e` (a quoted key may hold dots).
fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').unwrap_or(inner.len());
            out.push(inner[..end].trim_matches(['\'', '"']).to_owned());
            rest = inner.get(end + 1..).unwrap_or_default();
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    out
}

/// A block field that may be a plain string or a stored secret (`{"value": …}`).
fn text_field<'a>(data: &'a Value, field: &str) -> Option<&'a str> {
    let v = data.get(field)?;
    v.as_str()
        .or_else(|| v.get("value").and_then(Value::as_str))
}

/// Posts `{"text", "subject", "body"}` to the notification block's `url`.
pub async fn send_notification(block: &Value, subject: &str, body: &str) -> Result<(), Failure> {
    let url = text_field(block, "url")
        .ok_or_else(|| Failure::Refused("the notification block has no url to send to".into()))?;
    let message = json!({"text": format!("{subject}\n{body}"), "subject": subject, "body": body});
    deliver(HTTP.post(url).json(&message)).await
}

/// Sends `payload` (JSON when it reads as JSON, text otherwise) to the webhook block's `url`
/// with its `method` (POST by default) and `headers`.
pub async fn call_webhook(block: &Value, payload: &str) -> Result<(), Failure> {
    let url = text_field(block, "url")
        .ok_or_else(|| Failure::Refused("the webhook block has no url to call".into()))?;
    let method = text_field(block, "method").unwrap_or("POST");
    let method =
        reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            Failure::Refused(format!(
                "the webhook block's method {method:?} is not an HTTP method"
            ))
        })?;
    let mut request = HTTP.request(method, url);
    if let Some(headers) = block.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                request = request.header(name.as_str(), value);
            }
        }
    }
    request = match serde_json::from_str::<Value>(payload) {
        Ok(json) => request.json(&json),
        Err(_) => request.body(payload.to_owned()),
    };
    deliver(request).await
}

/// Sends a request: a refused connection, a timeout or a 5xx is worth retrying; a 4xx is not.
async fn deliver(request: reqwest::RequestBuilder) -> Result<(), Failure> {
    match request.send().await {
        Ok(answer) if answer.status().is_success() => Ok(()),
        Ok(answer) if answer.status().is_server_error() => Err(Failure::Transient(format!(
            "the receiver answered {}",
            answer.status()
        ))),
        Ok(answer) => Err(Failure::Refused(format!(
            "the receiver refused it: {}",
            answer.status()
        ))),
        Err(e) => Err(Failure::Transient(format!(
            "could not reach the receiver: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_name_event_fields_and_resource_labels_short_or_whole() {
        let context = json!({"event": {"event": "prefect.flow-run.Completed",
            "resource": {"prefect.resource.id": "prefect.flow-run.1", "prefect.resource.name": "calm-fox"},
            "payload": {"n": 3}}, "automation": {"name": "both-done"}});
        let text = "{{ automation.name }}: {{event.resource.name}} ({{ event.resource['prefect.resource.id'] }}) n={{ event.payload.n }}{{ event.nope }}";
        assert_eq!(
            render(text, &context),
            "both-done: calm-fox (prefect.flow-run.1) n=3"
        );
        assert_eq!(render("no {{ closing", &context), "no {{ closing");
    }
}
