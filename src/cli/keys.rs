//! `renvo keys create|list|revoke`.

use super::{CliError, resolve_account};
use crate::config::KeysCommand;
use crate::domain::key::Scope;
use crate::domain::{ApiKeyId, Mode};
use crate::store::Store;

pub async fn run(store: &dyn Store, command: KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::Create {
            scope,
            mode,
            account,
        } => {
            let scope = Scope::parse(&scope)
                .ok_or_else(|| CliError::Usage(format!("unknown scope `{scope}`")))?;
            let mode = Mode::parse(&mode)
                .ok_or_else(|| CliError::Usage(format!("unknown mode `{mode}`")))?;
            let account = resolve_account(store, account.as_deref(), true).await?;
            let (_, secret) = store.create_api_key(account, mode, scope).await?;
            println!("{}", secret.expose());
        }
        KeysCommand::List { account } => {
            let account = resolve_account(store, account.as_deref(), false).await?;
            println!(
                "{:<41} {:<14} {:<10} {:<5} {:<24} {:<24} REVOKED",
                "ID", "KEY", "SCOPE", "MODE", "CREATED", "LAST USED"
            );
            for key in store.list_api_keys(account).await? {
                let last_used = key
                    .last_used_at
                    .map_or("never".to_owned(), |at| at.to_string());
                let revoked = key.revoked_at.map_or("-".to_owned(), |at| at.to_string());
                let shown = format!("{}…{}", key.prefix, key.last4);
                println!(
                    "{:<41} {:<14} {:<10} {:<5} {:<24} {:<24} {}",
                    key.id.to_string(),
                    shown,
                    key.scope.as_str(),
                    key.mode.as_str(),
                    key.created_at.to_string(),
                    last_used,
                    revoked
                );
            }
        }
        KeysCommand::Revoke { key_id } => {
            let id = ApiKeyId::parse(&key_id)
                .ok_or_else(|| CliError::Usage(format!("`{key_id}` is not a key id")))?;
            if !store.revoke_api_key(id).await? {
                return Err(CliError::Usage(format!("no active key {id}")));
            }
            println!("{id}");
        }
    }
    Ok(())
}
