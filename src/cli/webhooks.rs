//! `renvo webhooks create|list|delete`.

use super::{CliError, resolve_account};
use crate::config::WebhooksCommand;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{self, EnabledEvents, WebhookEndpoint, WebhookSecret};
use crate::domain::{AccountId, FieldError, Mode, Tenant, WebhookEndpointId};
use crate::store::{PageRequest, Render, Store, StoredResponse};
use crate::webhook::guard::AddressGuard;

pub async fn run(store: &dyn Store, command: WebhooksCommand) -> Result<(), CliError> {
    match command {
        WebhooksCommand::Create {
            url,
            events,
            mode,
            description,
            account,
            allow_private,
        } => {
            let mode = Mode::parse(&mode)
                .ok_or_else(|| CliError::Usage(format!("unknown mode `{mode}`")))?;
            let account = resolve_account(store, account.as_deref(), false).await?;
            let endpoint = new_endpoint(&url, &events, mode, description, allow_private).await?;
            // The command prints its own answer; nothing is kept without an idempotency key.
            let render: Render<WebhookEndpoint> = Box::new(|_| {
                Ok(StoredResponse {
                    status: 201,
                    body: String::new(),
                    replayed: false,
                })
            });
            store
                .create_webhook_endpoint(Tenant { account, mode }, endpoint.clone(), None, render)
                .await?;
            println!("{}", endpoint.id);
            println!("{}", endpoint.secret.expose());
        }
        WebhooksCommand::List { account } => {
            let account = resolve_account(store, account.as_deref(), false).await?;
            list(store, account).await?;
        }
        WebhooksCommand::Delete {
            endpoint_id,
            account,
        } => {
            let id = WebhookEndpointId::parse(&endpoint_id).ok_or_else(|| {
                CliError::Usage(format!("`{endpoint_id}` is not a webhook endpoint id"))
            })?;
            let account = resolve_account(store, account.as_deref(), false).await?;
            let mut deleted = false;
            for mode in [Mode::Test, Mode::Live] {
                deleted |= store
                    .delete_webhook_endpoint(Tenant { account, mode }, id)
                    .await?;
            }
            if !deleted {
                return Err(CliError::Usage(format!("no webhook endpoint {id}")));
            }
            println!("{id}");
        }
    }
    Ok(())
}

/// Checks the URL and the event list as the API does.
async fn new_endpoint(
    url: &str,
    events: &str,
    mode: Mode,
    description: Option<String>,
    allow_private: bool,
) -> Result<WebhookEndpoint, CliError> {
    let usage = |error: FieldError| CliError::Usage(error.message);
    let url = webhook::parse_url(url, mode).map_err(usage)?;
    AddressGuard { allow_private }
        .check_url(&url)
        .await
        .map_err(|refused| CliError::Usage(format!("the URL is refused: {refused}")))?;
    let enabled_events = EnabledEvents::parse(events.split(',').map(str::trim)).map_err(usage)?;
    let description = match description {
        Some(text) => Some(webhook::parse_description(&text).map_err(usage)?),
        None => None,
    };
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::generate(),
        mode,
        url: url.to_string(),
        description,
        enabled_events,
        secret: WebhookSecret::generate(),
        disabled_reason: None,
        disabled_at: None,
        created_at: Timestamp::now(),
    })
}

/// Both modes' endpoints, a page at a time.
async fn list(store: &dyn Store, account: AccountId) -> Result<(), CliError> {
    println!(
        "{:<40} {:<5} {:<9} {:<34} URL",
        "ID", "MODE", "STATUS", "EVENTS"
    );
    for mode in [Mode::Test, Mode::Live] {
        let tenant = Tenant { account, mode };
        let mut page = PageRequest {
            after: None,
            limit: 100,
        };
        loop {
            let found = store.list_webhook_endpoints(tenant, page).await?;
            for endpoint in &found.items {
                let status = match endpoint.disabled_reason {
                    None => "enabled".to_owned(),
                    Some(reason) => format!("disabled ({})", reason.as_str()),
                };
                println!(
                    "{:<40} {:<5} {:<9} {:<34} {}",
                    endpoint.id.to_string(),
                    mode.as_str(),
                    status,
                    endpoint.enabled_events.to_names().join(","),
                    endpoint.url
                );
            }
            match (found.has_more, found.items.last()) {
                (true, Some(last)) => page.after = Some(last.id.uuid()),
                _ => break,
            }
        }
    }
    Ok(())
}
