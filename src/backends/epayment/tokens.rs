//! The sales unit's access token from `POST /accesstoken/get`.
//!
//! One token per sales unit (the keys are the unit's own), held in memory: a restart fetches a
//! new one, which the API allows (several tokens may be valid at once). It is renewed ahead of
//! its `expires_in` ([`renew_after`]) by the first caller that needs it; concurrent callers
//! wait for that one renewal instead of each fetching their own. If a renewal fails while the
//! old token is still valid, the old one is used and the next call tries again. A token the
//! API rejects (401) is dropped and fetched anew, once per call.

use crate::backends::epayment::{
    config::{Keys, SystemHeaders},
    error::TokenError,
    model::{headers, AccessTokenResponse},
};
use crate::backends::http::exchange;
use crate::secrets::AccessToken;
use std::time::Duration;
use tokio::{sync::Mutex, time::Instant};

/// How long before its expiry a token is renewed: a quarter of its lifetime, at most five
/// minutes (a 24 h production token is renewed 5 minutes early, a short test token in time
/// for a request still under way).
pub fn renew_after(expires_in: Duration) -> Duration {
    expires_in - (expires_in / 4).min(Duration::from_secs(300))
}

#[derive(Clone, Debug)]
struct Token {
    access_token: AccessToken,
    renew_at: Instant,
    expires_at: Instant,
}

/// Fetches, caches and renews one sales unit's token.
pub(crate) struct Tokens {
    pub http: reqwest::Client,
    pub url: String,
    pub msn: String,
    pub keys: Keys,
    pub system: SystemHeaders,
    pub timeout: Duration,
    current: Mutex<Option<Token>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("msn", &self.msn)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        msn: &str,
        keys: Keys,
        system: SystemHeaders,
        timeout: Duration,
    ) -> Tokens {
        Tokens {
            http,
            url: format!("{base_url}/accesstoken/get"),
            msn: msn.to_string(),
            keys,
            system,
            timeout,
            current: Mutex::new(None),
        }
    }

    /// A token that is not due for renewal, renewing it first if needed.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        let mut current = self.current.lock().await;
        let now = Instant::now();
        if let Some(token) = current.as_ref().filter(|t| now < t.renew_at) {
            return Ok(token.access_token.clone());
        }
        match self.fetch().await {
            Ok(token) => {
                let access_token = token.access_token.clone();
                *current = Some(token);
                Ok(access_token)
            }
            Err(err) => match current.as_ref().filter(|t| Instant::now() < t.expires_at) {
                Some(old) => {
                    tracing::warn!(error = %err, "renewing the ePayment access token failed; using the current one meanwhile");
                    Ok(old.access_token.clone())
                }
                None => Err(err),
            },
        }
    }

    /// The API rejected `rejected`: forget it (unless another caller already replaced it) and
    /// hand out a fresh one.
    pub async fn renew_rejected(&self, rejected: &AccessToken) -> Result<AccessToken, TokenError> {
        {
            let mut current = self.current.lock().await;
            if current
                .as_ref()
                .is_some_and(|t| t.access_token.expose() == rejected.expose())
            {
                *current = None;
            }
        }
        self.token().await
    }

    async fn fetch(&self) -> Result<Token, TokenError> {
        let unavailable = |reason: String| TokenError::Unavailable {
            msn: self.msn.clone(),
            reason,
        };
        let mut request = self
            .http
            .post(&self.url)
            .timeout(self.timeout)
            .header(headers::CLIENT_ID, self.keys.client_id.expose())
            .header(headers::CLIENT_SECRET, self.keys.client_secret.expose())
            .header(headers::SUBSCRIPTION_KEY, self.keys.subscription_key.expose())
            .header(headers::MSN, &self.msn)
            .header(reqwest::header::CONTENT_LENGTH, "0");
        for (name, value) in self.system.pairs() {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let (status, _, body) = exchange(request).await.map_err(unavailable)?;
        if status.is_client_error() {
            return Err(TokenError::Refused {
                msn: self.msn.clone(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(unavailable(format!("HTTP {}", status.as_u16())));
        }
        let answer: AccessTokenResponse =
            serde_json::from_slice(&body).map_err(|_| unavailable("the answer could not be read".into()))?;
        let expires_in = answer
            .expires_in
            .trim()
            .parse::<u64>()
            .map_err(|_| unavailable("the answer's expires_in is not a number".into()))?;
        let expires_in = Duration::from_secs(expires_in);
        tracing::info!(
            expires_in_s = expires_in.as_secs(),
            "fetched an ePayment access token"
        );
        Ok(Token {
            access_token: AccessToken::new(answer.access_token),
            renew_at: started + renew_after(expires_in),
            expires_at: started + expires_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_ahead_of_expiry() {
        let day = Duration::from_secs(86_398);
        assert_eq!(renew_after(day), day - Duration::from_secs(300));
        assert_eq!(renew_after(Duration::from_secs(3600)), Duration::from_secs(3300));
        assert_eq!(renew_after(Duration::from_secs(4)), Duration::from_secs(3));
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }
}
