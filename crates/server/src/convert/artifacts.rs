//! Artifacts between the wire and the store: keys, data and metadata checked and trimmed with
//! the core's rules on the way in; a key's latest rendered as Prefect's collection.

use flowgate_core::artifacts::{check_data, check_key, collection_id, trim_metadata};
use flowgate_store::model::{Artifact, ArtifactUpdate, NewArtifact};
use flowgate_wire::artifacts as wire;

use super::plain_texts;

/// A create body as a new artifact, or why it cannot be one.
pub fn new_artifact(body: wire::ArtifactCreate) -> Result<NewArtifact, String> {
    if let Some(key) = &body.key {
        check_key(key)?;
    }
    check_data(&body.data)?;
    plain_texts([
        ("type", body.artifact_type.as_deref()),
        ("description", body.description.as_deref()),
    ])?;
    Ok(NewArtifact {
        key: body.key,
        artifact_type: body.artifact_type,
        description: body.description,
        data: body.data,
        metadata: body.metadata_.map(trim_metadata),
        flow_run_id: body.flow_run_id,
        task_run_id: body.task_run_id,
    })
}

/// A PATCH body as an update, or why it cannot be one.
pub fn artifact_update(body: wire::ArtifactUpdate) -> Result<ArtifactUpdate, String> {
    if let Some(data) = &body.data {
        check_data(data)?;
    }
    plain_texts([("description", body.description.clone().flatten().as_deref())])?;
    Ok(ArtifactUpdate {
        data: body.data,
        description: body.description,
        metadata: body.metadata_.map(|m| m.map(trim_metadata)),
    })
}

/// A stored artifact as the client reads it.
pub fn artifact_out(a: Artifact) -> wire::Artifact {
    wire::Artifact {
        id: a.id,
        created: a.created,
        updated: a.updated,
        key: a.key,
        artifact_type: a.artifact_type,
        description: a.description,
        data: a.data,
        metadata_: a.metadata,
        flow_run_id: a.flow_run_id,
        task_run_id: a.task_run_id,
    }
}

/// A key's latest artifact as Prefect's collection of that key (`None` for an unkeyed one,
/// which no collection holds).
pub fn collection_out(a: Artifact) -> Option<wire::ArtifactCollection> {
    let key = a.key?;
    Some(wire::ArtifactCollection {
        id: collection_id(&key),
        created: a.created,
        updated: a.updated,
        key,
        latest_id: a.id,
        artifact_type: a.artifact_type,
        description: a.description,
        data: a.data,
        metadata_: a.metadata,
        flow_run_id: a.flow_run_id,
        task_run_id: a.task_run_id,
    })
}
