//! The command line and its configuration: every setting is a flag, then a `RENVO_…`
//! environment variable, then a default. `--help` is built from these docs.

use std::net::SocketAddr;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::webhook::schedule::{RetrySchedule, parse_delay};

/// Renvo: a self-hostable server for the Renvo Customers API.
#[derive(Debug, Parser)]
#[command(name = "renvo", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,

    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command shares.
#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// Database to open: `sqlite://PATH` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "RENVO_DATABASE_URL",
        default_value = "sqlite://renvo.db",
        global = true
    )]
    pub database_url: String,

    /// Most database connections this process opens (PostgreSQL pool size).
    #[arg(
        long,
        env = "RENVO_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub database_max_connections: u32,

    /// Log line format on stderr.
    #[arg(long, env = "RENVO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and deliver webhooks.
    Serve(ServeOptions),
    /// Manage accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage webhook endpoints.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
}

/// Settings of `renvo serve`.
#[derive(Debug, Args)]
pub struct ServeOptions {
    /// IP address and port to listen on, such as `127.0.0.1:8080` (not a host name).
    #[arg(long, env = "RENVO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Requests per second allowed per API key; 0 turns the limit off.
    #[arg(long, env = "RENVO_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,

    /// Waits before each retry of a failed webhook delivery, comma-separated, each a whole
    /// number with `ms`, `s`, `m` or `h`; its length is the number of retries.
    #[arg(
        long,
        env = "RENVO_WEBHOOK_RETRY_SCHEDULE",
        default_value = "30s,2m,10m,30m,2h"
    )]
    pub webhook_retry_schedule: RetrySchedule,

    /// Let webhook URLs point at loopback, private and other non-public addresses (local
    /// development and tests only: it opens the server to SSRF).
    #[arg(long, env = "RENVO_WEBHOOK_ALLOW_PRIVATE", action = ArgAction::SetTrue,
          value_parser = BoolishValueParser::new())]
    pub webhook_allow_private: bool,

    /// How long a node holds the webhook deliveries it claims. Should the node die meanwhile,
    /// any node sends them once the lease runs out. At least 15s: longer than the 10 s
    /// delivery timeout plus the time to record the outcome.
    #[arg(long, env = "RENVO_WEBHOOK_LEASE", default_value = "2m", value_parser = parse_lease)]
    pub webhook_lease: Duration,
}

/// The shortest lease: an attempt (up to its 10 s timeout) and its recording must fit in it,
/// or another node could send the delivery again while the first is still at it.
const MIN_WEBHOOK_LEASE: Duration = Duration::from_secs(15);

fn parse_lease(text: &str) -> Result<Duration, String> {
    let lease = parse_delay(text.trim())?;
    if lease < MIN_WEBHOOK_LEASE {
        return Err(format!(
            "a webhook lease must be at least 15s, not `{text}`"
        ));
    }
    Ok(lease)
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create an account; prints its id.
    Create {
        /// The business's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; prints the key, which is shown only this once.
    Create {
        /// `read` allows GET; `read_write` allows every method.
        #[arg(long, value_parser = ["read", "read_write"])]
        scope: String,
        /// `live` or `test` data.
        #[arg(long, value_parser = ["live", "test"], default_value = "test")]
        mode: String,
        /// Account id (`acct_…`); defaults to the only account, made if there is none.
        #[arg(long)]
        account: Option<String>,
    },
    /// List an account's keys (never the secrets).
    List {
        /// Account id (`acct_…`); defaults to the only account.
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a key by its id (`key_…`).
    Revoke {
        /// The key's id, as `keys list` shows it.
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Create a webhook endpoint; prints its id and its signing secret, shown only this once.
    Create {
        /// Where events are POSTed; live-mode endpoints need `https`.
        #[arg(long)]
        url: String,
        /// Comma-separated event types, or `*` for every type.
        #[arg(long, default_value = "*")]
        events: String,
        /// `live` or `test` events.
        #[arg(long, value_parser = ["live", "test"], default_value = "test")]
        mode: String,
        /// A note for people reading the endpoint list.
        #[arg(long)]
        description: Option<String>,
        /// Account id (`acct_…`); defaults to the only account.
        #[arg(long)]
        account: Option<String>,
        /// Allow a URL at a non-public address (local development only).
        #[arg(long, env = "RENVO_WEBHOOK_ALLOW_PRIVATE", action = ArgAction::SetTrue,
              value_parser = BoolishValueParser::new())]
        allow_private: bool,
    },
    /// List an account's webhook endpoints of both modes (never the secrets).
    List {
        /// Account id (`acct_…`); defaults to the only account.
        #[arg(long)]
        account: Option<String>,
    },
    /// Delete a webhook endpoint by its id (`we_…`), with its queue and attempt log.
    Delete {
        /// The endpoint's id, as `webhooks list` shows it.
        endpoint_id: String,
        /// Account id (`acct_…`); defaults to the only account.
        #[arg(long)]
        account: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_lease_is_a_delay_of_at_least_15_seconds() {
        assert_eq!(parse_lease("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_lease("15s"), Ok(Duration::from_secs(15)));
        let short = parse_lease("14999ms").unwrap_err();
        assert!(short.contains("at least 15s"), "{short}");
        assert!(parse_lease("two minutes").is_err());
    }
}
