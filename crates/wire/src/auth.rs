//! How Flowgate's own clients (the CLI and the SDK) prove who they are to a server that requires
//! API keys: `Authorization: Bearer KEY` on every request and websocket handshake, with the key
//! from the environment.

/// The environment variables a client reads its API key from, in order: Flowgate's own, then
/// the one the `prefect` client reads, so one shell serves both.
pub const API_KEY_VARIABLES: [&str; 2] = ["FLOWGATE_API_KEY", "PREFECT_API_KEY"];

/// The API key in the environment ([`API_KEY_VARIABLES`]), if one is set and not empty.
pub fn api_key_from_env() -> Option<String> {
    API_KEY_VARIABLES
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .map(|key| key.trim().to_owned())
}

/// The `Authorization` header value that presents `key`.
pub fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}
