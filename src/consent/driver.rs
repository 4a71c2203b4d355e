//! The refresh as the core decides it, with the HTTP and the file writes in their order:
//! lock the consent file → read it → make the in-flight marker durable (`OneTime`) → send →
//! store the answer's refresh token durably → only then hand out the new access token.
//!
//! The lock is held for the whole exchange, so the `mposd consent` tool and the daemon never
//! send (or store) the same one-time token twice. Access tokens stay in memory: they live five
//! minutes, and are used until shortly before they expire.

use super::provider::{Endpoints, Provider};
use super::refresh::{self, Plan, Settled};
use super::store::{ConsentFile, Locked, Needed, Record, Stored};
use super::{unix_now, ClientSettings};
use crate::secrets::AccessToken;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// An access token is not used in its last minute (or its last half, if it lives less than
/// two), so a call made with it does not reach MobilePay just after it expired.
fn usable_for(expires_in: u64) -> Duration {
    let life = Duration::from_secs(expires_in);
    life.saturating_sub(Duration::from_secs(60)).max(life / 2)
}

/// Why no access token can be had.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("no consent is stored for the merchant (mposd consent authorize or import)")]
    NotGiven,
    #[error("the consent file {0} is damaged and not trusted; give the consent again")]
    Damaged(String),
    #[error("consent needed ({0})")]
    ConsentNeeded(Needed),
    /// The provider could not be reached or gave no usable answer: try again later.
    #[error("MobilePay's token endpoint cannot be reached: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Refused(String),
    #[error("cannot use the consent file: {0:#}")]
    File(anyhow::Error),
}

/// One merchant's consent: the provider, the file, the access token in memory.
pub struct Consent {
    provider: Provider,
    file: ConsentFile,
    /// Endpoints from discovery, and the access token with the moment it stops being used.
    /// The lock also keeps this process's refreshes one at a time.
    state: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    endpoints: Option<Endpoints>,
    access: Option<(AccessToken, Instant)>,
}

impl Consent {
    pub fn new(settings: ClientSettings, file: ConsentFile) -> anyhow::Result<Consent> {
        Ok(Consent {
            provider: Provider::new(settings)?,
            file,
            state: Mutex::new(Cache::default()),
        })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.provider.settings
    }

    pub fn file(&self) -> &ConsentFile {
        &self.file
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Stores a consent just obtained, replacing whatever the file held (a dead consent, a
    /// damaged file, or an older consent the merchant gave again).
    pub async fn store(&self, record: Record) -> anyhow::Result<()> {
        let mut cache = self.state.lock().await;
        cache.access = None;
        let file = self.file.clone();
        blocking(move || file.lock()?.write(&record)).await
    }

    /// An access token for the merchant's API calls: the one in memory while it is usable,
    /// else a fresh one from a refresh.
    pub async fn access_token(&self) -> Result<AccessToken, RefreshError> {
        {
            let cache = self.state.lock().await;
            if let Some((token, until)) = &cache.access {
                if Instant::now() < *until {
                    return Ok(token.clone());
                }
            }
        }
        self.refresh().await.map(|(_, token)| token)
    }

    /// A new access token after an API refused `rejected` (401: expired early, or the consent
    /// was revoked). If another call already replaced it, that newer token is answered without
    /// a second refresh, so that calls refused together spend one refresh between them.
    pub async fn renew_access_token(&self, rejected: &AccessToken) -> Result<AccessToken, RefreshError> {
        {
            let mut cache = self.state.lock().await;
            match &cache.access {
                Some((token, until)) if token != rejected && Instant::now() < *until => {
                    return Ok(token.clone())
                }
                _ => cache.access = None,
            }
        }
        self.refresh().await.map(|(_, token)| token)
    }

    /// Refreshes the consent once, durably (see the module's order). Returns the stored record
    /// and the new access token.
    pub async fn refresh(&self) -> Result<(Record, AccessToken), RefreshError> {
        let mut cache = self.state.lock().await;
        let file = self.file.clone();
        let locked = Arc::new(blocking(move || file.lock()).await.map_err(RefreshError::File)?);
        let record = match read(&locked).await? {
            Stored::Absent => return Err(RefreshError::NotGiven),
            Stored::Damaged => return Err(RefreshError::Damaged(self.file.path().display().to_string())),
            Stored::Valid(record) => record,
        };
        let rotation = self.provider.settings.rotation;
        let (mark, after_lost_answer) = match refresh::plan(&record, rotation) {
            Plan::ConsentNeeded(needed) => return Err(RefreshError::ConsentNeeded(needed)),
            Plan::Refresh {
                mark,
                after_lost_answer,
            } => (mark, after_lost_answer),
        };
        // Discovery first: a refresh that cannot be sent needs no marker.
        let endpoints = match &cache.endpoints {
            Some(endpoints) => endpoints.clone(),
            None => {
                let found = self
                    .provider
                    .discover()
                    .await
                    .map_err(RefreshError::Unavailable)?;
                cache.endpoints = Some(found.clone());
                found
            }
        };
        if mark {
            write(
                &locked,
                Record {
                    in_flight: true,
                    ..record.clone()
                },
            )
            .await?;
        }
        if after_lost_answer {
            tracing::warn!(merchant = %self.provider.settings.vat,
                "the answer to the last refresh was lost; trying the stored refresh token once more");
        }
        let grant = [
            ("grant_type", "refresh_token"),
            ("refresh_token", record.refresh_token.expose()),
        ];
        let sent_at = Instant::now();
        let answer = self.provider.token(&endpoints, &grant).await;
        let (answer, tokens) = match answer {
            Ok(tokens) => (tokens.answer(), Some(tokens)),
            Err(answer) => (answer, None),
        };
        let record = Record {
            in_flight: record.in_flight || mark,
            ..record
        };
        match refresh::settle(&record, rotation, after_lost_answer, answer, unix_now()) {
            Settled::Refreshed(stored) => {
                // The new refresh token is on disk before the access token leaves this function.
                write(&locked, stored.clone()).await?;
                let tokens = tokens.expect("tokens come with a refreshed record");
                let access = tokens.access_token();
                cache.access = Some((access.clone(), sent_at + usable_for(tokens.expires_in)));
                tracing::info!(merchant = %self.provider.settings.vat, refreshes = stored.refreshes,
                    "consent refreshed");
                Ok((stored, access))
            }
            // Told by whoever asked: the daemon's keeper logs it (an alarm for a used-up
            // one-time token), `mposd consent` prints it.
            Settled::ConsentNeeded(record) => {
                write(&locked, record.clone()).await?;
                cache.access = None;
                Err(RefreshError::ConsentNeeded(
                    record.needed.unwrap_or(Needed::Refused),
                ))
            }
            Settled::TryLater(reason) => Err(RefreshError::Unavailable(reason)),
            Settled::Refused {
                record: cleared,
                reason,
            } => {
                if cleared != record {
                    write(&locked, cleared).await?;
                }
                Err(RefreshError::Refused(reason))
            }
        }
    }
}

/// Runs blocking file work (lock waits, fsyncs) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow::anyhow!("file work failed: {e}"))?
}

async fn read(locked: &Arc<Locked>) -> Result<Stored, RefreshError> {
    let locked = locked.clone();
    blocking(move || locked.read()).await.map_err(RefreshError::File)
}

async fn write(locked: &Arc<Locked>, record: Record) -> Result<(), RefreshError> {
    let locked = locked.clone();
    blocking(move || locked.write(&record))
        .await
        .map_err(RefreshError::File)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_are_not_used_in_their_last_minute() {
        assert_eq!(usable_for(300), Duration::from_secs(240));
        assert_eq!(usable_for(60), Duration::from_secs(30));
    }
}
