//! Where the server's [`SecretKey`] (which seals block documents' secret values in the
//! database) comes from: given (replicas on one PostgreSQL database must share theirs), or a
//! file in the server's home directory, made with a new random key on first start and
//! readable by its owner only.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
pub use flowgate_store::SecretKey;

/// Where the key comes from.
#[derive(Clone, Debug)]
pub enum SecretKeySource {
    /// This key (from `--secret-key` / `FLOWGATE_SECRET_KEY`).
    Key(SecretKey),
    /// The key in this file, created (mode 0600) with a random key when missing.
    File(PathBuf),
}

impl SecretKeySource {
    /// The default for a database URL: for a SQLite file, `secret.key` in its directory (the
    /// server's home by default); otherwise a key for this process only, which suits tests
    /// and in-memory databases but cannot read secrets a previous process saved.
    pub fn beside(database_url: &str) -> SecretKeySource {
        let path = database_url
            .strip_prefix("sqlite:")
            .map(|p| p.trim_start_matches("//"))
            .map(|p| p.split('?').next().unwrap_or(p))
            .filter(|p| !p.is_empty() && !p.contains(":memory:"));
        match path.and_then(|p| Path::new(p).parent()) {
            Some(dir) => SecretKeySource::File(dir.join("secret.key")),
            None => SecretKeySource::Key(SecretKey::generate().expect("the OS gives random bytes")),
        }
    }

    /// The key: given, or read from its file (created first when missing).
    pub(crate) fn load(&self) -> anyhow::Result<SecretKey> {
        match self {
            SecretKeySource::Key(key) => Ok(key.clone()),
            SecretKeySource::File(path) => load_or_create(path),
        }
    }
}

fn load_or_create(path: &Path) -> anyhow::Result<SecretKey> {
    if !path.exists() {
        create(path)?;
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the secret key file {}", path.display()))?;
    let key = SecretKey::parse(&text)
        .map_err(|e| anyhow::anyhow!("the secret key file {}: {e}", path.display()))?;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            file = %path.display(),
            "the secret key file can be read by others than its owner; chmod 600 it"
        );
    }
    Ok(key)
}

/// Writes a new key to a file of its own, then links it into place: two servers starting at
/// once both end up with the one that got there first, never a half-written file.
fn create(path: &Path) -> anyhow::Result<()> {
    let key = SecretKey::generate().context("no random bytes for a secret key")?;
    let temp = path.with_extension(format!("key.{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .with_context(|| format!("could not create the secret key file {}", temp.display()))?;
    file.write_all(key.encoded().as_bytes())?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            tracing::info!(file = %path.display(), "created a secret key for block documents");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e)
            .with_context(|| format!("could not create the secret key file {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_file_keeps_its_key_beside_it_made_once_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("flowgate.db").display());
        let source = SecretKeySource::beside(&url);
        let first = source.load().unwrap();
        let file = dir.path().join("secret.key");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(source.load().unwrap().encoded(), first.encoded());
        assert!(matches!(
            SecretKeySource::beside("postgres://u@h/db"),
            SecretKeySource::Key(_)
        ));
        assert!(matches!(
            SecretKeySource::beside("sqlite::memory:"),
            SecretKeySource::Key(_)
        ));
    }

    #[test]
    fn a_damaged_key_file_is_named_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret.key");
        std::fs::write(&file, "not-a-key").unwrap();
        let err = format!("{:#}", SecretKeySource::File(file).load().unwrap_err());
        assert!(
            err.contains("secret.key") && !err.contains("not-a-key"),
            "{err}"
        );
    }
}
