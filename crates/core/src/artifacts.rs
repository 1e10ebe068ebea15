//! Artifacts: what a run reports for people to read (markdown, tables, links, progress,
//! images), each optionally under a key whose newest version is "the" artifact of that key.
//! The rules for what may be stored, as checks that turn bad input into a sentence, and
//! Prefect's trimming of long metadata values.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Largest accepted `data`, as the bytes of its compact JSON text (a Flowgate limit: Prefect
/// has none, but an artifact is for reading on a page, and a run's page loads all of them).
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

/// Longest metadata value kept whole, in characters; longer ones are cut and end in `...`
/// (as Prefect does).
pub const MAX_METADATA_VALUE_CHARS: usize = 500;

/// The id of the collection of artifacts under `key` (Prefect's `/artifacts/latest/…` rows):
/// its own, apart from the latest version's (`latest_id`), and the same for as long as the
/// key exists, so a UI can keep it while new versions arrive. Derived from the key (a version
/// 8 uuid from its SHA-256), so no table has to keep it.
pub fn collection_id(key: &str) -> Uuid {
    let digest = Sha256::digest(format!("flowgate artifact collection\0{key}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Refuses a key Prefect refuses: anything but lowercase letters, digits and dashes (a key
/// appears in URLs: `/artifacts/{key}/latest`), or empty.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err(
            "an artifact key must not be empty; leave it out for an unkeyed artifact".into(),
        );
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return Err(format!(
            "artifact key {key:?} contains {bad:?}: an artifact key must only contain \
             lowercase letters, numbers, and dashes"
        ));
    }
    Ok(())
}

/// Refuses `data` whose compact JSON is longer than [`MAX_DATA_BYTES`].
pub fn check_data(data: &Value) -> Result<(), String> {
    let bytes = data.to_string().len();
    if bytes > MAX_DATA_BYTES {
        return Err(format!(
            "an artifact's data may be at most {MAX_DATA_BYTES} bytes as JSON, got {bytes}; \
             report a summary and keep the full data elsewhere (a link artifact can point at it)"
        ));
    }
    Ok(())
}

/// Metadata with every value longer than [`MAX_METADATA_VALUE_CHARS`] cut to that length
/// and ended with `...`.
pub fn trim_metadata(metadata: BTreeMap<String, String>) -> BTreeMap<String, String> {
    metadata
        .into_iter()
        .map(|(k, v)| {
            if v.chars().count() > MAX_METADATA_VALUE_CHARS {
                let cut: String = v.chars().take(MAX_METADATA_VALUE_CHARS).collect();
                (k, cut + "...")
            } else {
                (k, v)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_collection_id_is_the_keys_own() {
        let id = collection_id("daily-report");
        assert_eq!(id, collection_id("daily-report"));
        assert_ne!(id, collection_id("daily-reports"));
        assert_eq!(id.get_version_num(), 8);
    }

    #[test]
    fn keys_are_lowercase_with_dashes_only() {
        assert!(check_key("daily-report-2").is_ok());
        let err = check_key("daily_report").unwrap_err();
        assert!(err.contains("'_'") && err.contains("dashes"), "{err}");
        assert!(check_key("Report").is_err());
        assert!(check_key("").is_err());
    }

    #[test]
    fn data_is_bounded_by_its_compact_json() {
        assert!(check_data(&json!("x".repeat(MAX_DATA_BYTES - 2))).is_ok());
        assert!(check_data(&json!("x".repeat(MAX_DATA_BYTES - 1))).is_err());
        assert!(check_data(&json!(50.0)).is_ok());
    }

    #[test]
    fn long_metadata_values_are_cut_with_an_ellipsis() {
        let long = "é".repeat(MAX_METADATA_VALUE_CHARS + 1);
        let trimmed = trim_metadata(BTreeMap::from([
            ("long".to_owned(), long),
            ("short".to_owned(), "ok".to_owned()),
        ]));
        assert_eq!(
            trimmed["long"].chars().count(),
            MAX_METADATA_VALUE_CHARS + 3
        );
        assert!(trimmed["long"].ends_with("é..."));
        assert_eq!(trimmed["short"], "ok");
    }
}
