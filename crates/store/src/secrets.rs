//! Block documents' secret values sealed at rest. Every value at one of a schema's
//! `secret_fields` is stored as the text `fg-sealed:v1:` + base64(nonce ‖ ciphertext):
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`, audited; random 24-byte nonces are safe
//! at any volume) over the value's JSON, with the document's id as associated data so a sealed
//! value copied into another document does not open. Values stored before sealing existed
//! (plain) are still read, and [`open`](crate::open) seals them on start.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use flowgate_core::blocks::{for_each_secret, secret_fields};
use serde_json::Value;
use uuid::Uuid;

use crate::store::{Result, StoreError};

/// How a sealed value's text begins.
const SEALED: &str = "fg-sealed:v1:";
const NONCE_LEN: usize = 24;

/// The 32-byte key that seals block documents' secret values. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(hidden)")
    }
}

impl SecretKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> std::io::Result<SecretKey> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(SecretKey(key))
    }

    /// Reads a key written by [`SecretKey::encoded`]: 32 bytes in standard base64 (44
    /// characters). The error names what is wrong, never the text given.
    pub fn parse(text: &str) -> std::result::Result<SecretKey, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(
            |_| "a secret key is 32 bytes in base64 (44 characters); this is not base64",
        )?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "a secret key is 32 bytes in base64 (44 characters); this is {} bytes",
                b.len()
            )
        })?;
        Ok(SecretKey(key))
    }

    /// The key as base64 text, as [`SecretKey::parse`] reads it.
    pub fn encoded(&self) -> String {
        STANDARD.encode(self.0)
    }
}

/// Seals and opens the secret values of block documents with one [`SecretKey`].
pub(crate) struct Sealer(XChaCha20Poly1305);

impl Sealer {
    pub(crate) fn new(key: &SecretKey) -> Sealer {
        Sealer(XChaCha20Poly1305::new(&key.0.into()))
    }

    /// `data` of document `id` with every secret value sealed (values already sealed are left).
    pub(crate) fn seal(&self, id: Uuid, mut data: Value, fields: &Value) -> Result<Value> {
        let mut failed = None;
        for_each_secret(&mut data, &secret_fields(fields), |v| {
            if is_sealed(v) || failed.is_some() {
                return;
            }
            match self.seal_value(id, v) {
                Ok(sealed) => *v = Value::String(sealed),
                Err(e) => failed = Some(e),
            }
        });
        failed.map_or(Ok(data), Err)
    }

    /// `data` of document `id` with every sealed value opened (plain values, from before
    /// sealing, are left as they are).
    pub(crate) fn open(&self, id: Uuid, mut data: Value, fields: &Value) -> Result<Value> {
        let mut failed = false;
        for_each_secret(&mut data, &secret_fields(fields), |v| {
            let Some(text) = v.as_str().and_then(|s| s.strip_prefix(SEALED)) else {
                return;
            };
            match self.open_value(id, text) {
                Some(opened) => *v = opened,
                None => failed = true,
            }
        });
        if failed {
            return Err(StoreError::Corrupt(format!(
                "the secret fields of block document {id} do not open with this server's \
                 secret key; start the server with the key they were saved with \
                 (FLOWGATE_SECRET_KEY, or the secret.key file in its home directory)"
            )));
        }
        Ok(data)
    }

    /// Whether `data`'s secret values include any stored in plain text (saved before sealing
    /// existed), and any sealed.
    pub(crate) fn plain_and_sealed(data: &Value, fields: &Value) -> (bool, bool) {
        let (mut plain, mut sealed) = (false, false);
        let mut data = data.clone();
        for_each_secret(&mut data, &secret_fields(fields), |v| {
            let is = is_sealed(v);
            plain |= !is;
            sealed |= is;
        });
        (plain, sealed)
    }

    fn seal_value(&self, id: Uuid, value: &Value) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| StoreError::Unavailable(format!("no random numbers for a nonce: {e}")))?;
        let plain = serde_json::to_vec(value)
            .map_err(|e| StoreError::Corrupt(format!("a secret value is not JSON: {e}")))?;
        let payload = Payload {
            msg: &plain,
            aad: id.as_bytes(),
        };
        let sealed = self
            .0
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| StoreError::Corrupt("a secret value could not be sealed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{SEALED}{}", STANDARD.encode(bytes)))
    }

    fn open_value(&self, id: Uuid, text: &str) -> Option<Value> {
        let bytes = STANDARD.decode(text).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: sealed,
            aad: id.as_bytes(),
        };
        let plain = self.0.decrypt(XNonce::from_slice(nonce), payload).ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

fn is_sealed(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with(SEALED))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({"secret_fields": ["token", "auth.*", "token"]})
    }

    #[test]
    fn sealed_values_hide_the_secret_and_open_to_it() {
        let sealer = Sealer::new(&SecretKey::generate().unwrap());
        let id = Uuid::now_v7();
        let data =
            json!({"token": "hunter2", "auth": {"user": {"n": 1}}, "url": "x", "none": null});
        let sealed = sealer.seal(id, data.clone(), &schema()).unwrap();
        let text = sealed.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("\"n\""),
            "{text}"
        );
        assert_eq!(sealed["url"], "x");
        assert_eq!(Sealer::plain_and_sealed(&sealed, &schema()), (false, true));
        assert_eq!(Sealer::plain_and_sealed(&data, &schema()), (true, false));
        let again = sealer.seal(id, sealed.clone(), &schema()).unwrap();
        assert_eq!(again, sealed, "sealing twice seals once");
        assert_eq!(sealer.open(id, sealed, &schema()).unwrap(), data);
    }

    #[test]
    fn plain_values_are_read_as_they_are() {
        let sealer = Sealer::new(&SecretKey::generate().unwrap());
        let data = json!({"token": "old"});
        assert_eq!(
            sealer.open(Uuid::nil(), data.clone(), &schema()).unwrap(),
            data
        );
    }

    #[test]
    fn another_key_or_document_does_not_open_and_says_which_document() {
        let id = Uuid::now_v7();
        let sealer = Sealer::new(&SecretKey::generate().unwrap());
        let sealed = sealer
            .seal(id, json!({"token": "hunter2"}), &schema())
            .unwrap();
        let other = Sealer::new(&SecretKey::generate().unwrap());
        let err = other
            .open(id, sealed.clone(), &schema())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&id.to_string()) && !err.contains("hunter2"),
            "{err}"
        );
        assert!(sealer.open(Uuid::now_v7(), sealed, &schema()).is_err());
    }

    #[test]
    fn keys_round_trip_as_text_and_bad_text_is_named() {
        let key = SecretKey::generate().unwrap();
        let text = key.encoded();
        assert_eq!(SecretKey::parse(&text).unwrap().0, key.0);
        assert!(SecretKey::parse("short").unwrap_err().contains("base64"));
        assert!(
            SecretKey::parse("c2hvcnQ=")
                .unwrap_err()
                .contains("5 bytes")
        );
        assert_eq!(format!("{key:?}"), "SecretKey(hidden)");
    }
}
