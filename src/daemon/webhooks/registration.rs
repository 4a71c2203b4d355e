//! The sales unit's webhook registration: made once, kept in the state store with its secret
//! (the Webhooks API shows a secret only when it registers), re-used at every start while
//! Vipps MobilePay still has it, made again when it was deleted or its URL or events changed.

use crate::backends::epayment::webhooks::{RegisterRequest, Registration};
use crate::backends::epayment::{EpError, EpaymentClient};
use crate::correlation::Correlation;
use crate::secrets::Secret;
use crate::store::Db;
use serde::{Deserialize, Serialize};

/// The store's tree of registrations, by sales unit. The store is private to the daemon's
/// user (its directory 0700, its files 0600), like the access tokens it also keeps.
const TREE: &str = "epayment_webhooks";

/// A registration as the box keeps it.
#[derive(Clone, Serialize, Deserialize)]
struct Kept {
    id: String,
    url: String,
    events: Vec<String>,
    secret: String,
}

/// What `ensure` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ensured {
    /// The registration kept from an earlier start is still there.
    Kept,
    /// A new registration was made.
    Registered,
}

/// Makes sure `url` is registered for `events` of the client's sales unit and returns the
/// registration's secret. Registrations of `url` the box holds no secret for (left by a lost
/// answer, or by an earlier registration whose events changed) are deleted, so every delivery
/// arrives once per registration and can be checked.
pub async fn ensure(
    client: &EpaymentClient,
    db: &Db,
    url: &str,
    events: &[String],
) -> anyhow::Result<(Secret, Ensured)> {
    let correlation = Correlation::new("webhooks");
    let tree = db.tree(TREE)?;
    let msn = client.msn();
    let kept: Option<Kept> = tree.get(msn)?.and_then(|v| serde_json::from_slice(&v).ok());
    let listed = client.webhooks(&correlation).await?.webhooks;
    let wanted = |r: &Registration| r.url == url && same_events(&r.events, events);
    if let Some(kept) = kept {
        if kept.url == url && same_events(&kept.events, events) {
            if listed.iter().any(|r| r.id == kept.id && wanted(r)) {
                remove_strays(client, &correlation, &listed, url, &kept.id).await?;
                return Ok((Secret::new(kept.secret), Ensured::Kept));
            }
        } else if listed.iter().any(|r| r.id == kept.id) {
            // The URL or the events changed: the old registration goes, a new one comes.
            tracing::info!(msn, id = %kept.id, "deleting the webhook registration of the former URL or events");
            client.delete_webhook(&correlation, &kept.id).await?;
        }
    }
    let made = client
        .register_webhook(
            &correlation,
            &RegisterRequest {
                url: url.to_string(),
                events: events.to_vec(),
            },
        )
        .await?;
    let kept = Kept {
        id: made.id.clone(),
        url: url.to_string(),
        events: events.to_vec(),
        secret: made.secret,
    };
    tree.insert(msn, serde_json::to_vec(&kept)?)?;
    db.durable()?;
    let listed = client.webhooks(&correlation).await?.webhooks;
    remove_strays(client, &correlation, &listed, url, &kept.id).await?;
    Ok((Secret::new(kept.secret), Ensured::Registered))
}

/// Deletes the registrations of `url` other than `ours`.
async fn remove_strays(
    client: &EpaymentClient,
    correlation: &Correlation,
    listed: &[Registration],
    url: &str,
    ours: &str,
) -> Result<(), EpError> {
    for stray in listed.iter().filter(|r| r.url == url && r.id != ours) {
        tracing::info!(msn = client.msn(), id = %stray.id, "deleting a webhook registration of this box's URL that it holds no secret for");
        client.delete_webhook(correlation, &stray.id).await?;
    }
    Ok(())
}

fn same_events(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|e| b.contains(e))
}
