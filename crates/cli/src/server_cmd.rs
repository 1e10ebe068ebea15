//! `flowgate server start`.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use flowgate_server::{ApiKeys, Retention, SecretKey, SecretKeySource, ServerConfig, parse_age};
use tracing_subscriber::EnvFilter;

use crate::stop_signals::StopSignals;

/// Server commands.
#[derive(Subcommand)]
pub enum ServerCommand {
    /// Start the server (the API, its websockets and the web UI) in the foreground.
    Start(StartArgs),
}

/// Log line format.
#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Options of `server start`.
#[derive(clap::Args)]
pub struct StartArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "FLOWGATE_HOST")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 4200, env = "FLOWGATE_PORT")]
    port: u16,
    /// Database: sqlite:PATH or postgres://USER@HOST/DB. Default: SQLite at
    /// $FLOWGATE_HOME/flowgate.db ($FLOWGATE_HOME defaults to ~/.flowgate).
    #[arg(long, env = "FLOWGATE_DATABASE_URL")]
    database_url: Option<String>,
    /// Log level (error, warn, info, debug, trace); RUST_LOG, when set, takes precedence.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Require this API key on every request, as `NAME=KEY` (the name is recorded as who
    /// resumed or cancelled a run) or `KEY`; repeat for several. FLOWGATE_API_KEYS gives them
    /// comma-separated, out of sight of `ps`. Without keys the server listens only on
    /// loopback.
    #[arg(
        long = "api-key",
        value_name = "[NAME=]KEY",
        env = "FLOWGATE_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,
    /// Listen beyond loopback without API keys: anyone who can reach the port may read and
    /// change everything.
    #[arg(long)]
    insecure_no_auth: bool,
    /// Keep finished flow runs (with their task runs and logs) and lone task runs this long:
    /// 90d, 12h, 30m, 45s, or forever.
    #[arg(
        long,
        value_name = "AGE",
        default_value = "90d",
        env = "FLOWGATE_RETAIN_RUNS"
    )]
    retain_runs: String,
    /// Keep log lines this long (or forever).
    #[arg(
        long,
        value_name = "AGE",
        default_value = "30d",
        env = "FLOWGATE_RETAIN_LOGS"
    )]
    retain_logs: String,
    /// Keep events this long (or forever; Prefect's default is 7 days).
    #[arg(
        long,
        value_name = "AGE",
        default_value = "7d",
        env = "FLOWGATE_RETAIN_EVENTS"
    )]
    retain_events: String,
    /// The key (32 bytes in base64: `head -c 32 /dev/urandom | base64`) that seals block
    /// documents' secret values in the database. Replicas sharing a PostgreSQL database must
    /// all be given the same one. Default: $FLOWGATE_HOME/secret.key, made on first start.
    #[arg(
        long,
        value_name = "KEY",
        env = "FLOWGATE_SECRET_KEY",
        hide_env_values = true
    )]
    secret_key: Option<String>,
}

/// Runs a server command.
pub async fn run(command: ServerCommand) -> anyhow::Result<()> {
    match command {
        ServerCommand::Start(args) => start(args).await,
    }
}

fn flowgate_home() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("FLOWGATE_HOME") {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME").context("neither FLOWGATE_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".flowgate"))
}

fn init_logging(args: &StartArgs) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(spec),
        _ => EnvFilter::try_new(format!(
            "warn,flowgate={0},flowgate_server={0},flowgate_store={0}",
            args.log_level
        )),
    }
    .with_context(|| format!("invalid log level {:?}", args.log_level))?;
    // Colours only for a person at a terminal: a log file or a pipe gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// `$FLOWGATE_HOME`, created when missing.
fn made_home() -> anyhow::Result<PathBuf> {
    let home = flowgate_home()?;
    std::fs::create_dir_all(&home)
        .with_context(|| format!("could not create {}", home.display()))?;
    Ok(home)
}

async fn start(args: StartArgs) -> anyhow::Result<()> {
    init_logging(&args)?;
    let mut stop = StopSignals::watch()?;
    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite:{}", made_home()?.join("flowgate.db").display()),
    };
    let mut config = ServerConfig::new(SocketAddr::new(args.host, args.port), database_url);
    config.secret_key = match &args.secret_key {
        Some(text) => SecretKeySource::Key(
            SecretKey::parse(text).map_err(|e| anyhow::anyhow!("--secret-key: {e}"))?,
        ),
        None => SecretKeySource::File(made_home()?.join("secret.key")),
    };
    config.api_keys = ApiKeys::parse(args.api_keys.iter().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    config.insecure_no_auth = args.insecure_no_auth;
    let age = |flag: &str, text: &str| {
        parse_age(text).map_err(|e| anyhow::anyhow!("--retain-{flag}: {e}"))
    };
    config.retention = Retention {
        runs: age("runs", &args.retain_runs)?,
        logs: age("logs", &args.retain_logs)?,
        events: age("events", &args.retain_events)?,
    };
    let keys = config.api_keys.clone();
    let server = flowgate_server::start(config).await?;
    eprintln!("Flowgate API listening at {}", server.api_url());
    eprintln!("Flowgate UI at http://{}/", server.addr());
    eprintln!(
        "Point the prefect client at it: export PREFECT_API_URL={}",
        server.api_url()
    );
    if !keys.is_empty() {
        eprintln!(
            "API keys required ({}): clients send them with FLOWGATE_API_KEY (flowgate), \
             PREFECT_API_AUTH_STRING=NAME:KEY or PREFECT_API_KEY (prefect)",
            keys.names().join(", ")
        );
    }
    stop.next().await;
    tracing::info!("shutting down");
    server.stop().await
}
