//! The commands of the `renvo` binary, one module per command group.

mod keys;
mod serve;
mod webhooks;

use std::sync::Arc;

use crate::config::{AccountsCommand, Cli, Command};
use crate::domain::AccountId;
use crate::store::{self, Store, StoreError};

/// Why a command failed, as the operator reads it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Opens the database (migrating it) and runs the command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let store = store::open(
        &cli.global.database_url,
        cli.global.database_max_connections,
    )
    .await?;
    match cli.command {
        Command::Serve(options) => serve::run(store, options).await,
        Command::Accounts(AccountsCommand::Create { name }) => {
            let account = store.create_account(&name).await?;
            println!("{}", account.id);
            Ok(())
        }
        Command::Keys(command) => keys::run(store.as_ref(), command).await,
        Command::Webhooks(command) => webhooks::run(store.as_ref(), command).await,
    }
}

/// The account a command names, or the only one (made when `create_if_none` and none exists).
pub async fn resolve_account(
    store: &dyn Store,
    named: Option<&str>,
    create_if_none: bool,
) -> Result<AccountId, CliError> {
    if let Some(text) = named {
        let id = AccountId::parse(text)
            .ok_or_else(|| CliError::Usage(format!("`{text}` is not an account id")))?;
        return match store.account(id).await? {
            Some(account) => Ok(account.id),
            None => Err(CliError::Usage(format!("no account {id}"))),
        };
    }
    if create_if_none && let Some(first) = store.create_first_account("default").await? {
        return Ok(first.id);
    }
    let accounts = store.list_accounts().await?;
    match accounts.as_slice() {
        [only] => Ok(only.id),
        [] => Err(CliError::Usage(
            "there is no account yet; create one with `renvo accounts create`".into(),
        )),
        _ => Err(CliError::Usage(
            "there are several accounts; name one with --account".into(),
        )),
    }
}

/// Shared between commands that need the store behind an `Arc`.
pub type SharedStore = Arc<dyn Store>;
