//! Access tokens, one per merchant VAT.
//!
//! Each merchant gets a merchant-locked token (client-credentials grant with `merchant_vat`,
//! reference §3.2), so no PoS call needs the VAT header and a token can never act for another
//! merchant. Tokens are cached in the database with their expiry, so a restart (or a crash
//! loop) does not hammer the token endpoint. A token is renewed ahead of expiry (10 minutes
//! before, minus up to 2 minutes of jitter so that a fleet does not renew in lockstep), by the
//! background refresher or, failing that, by the first caller that notices. Concurrent callers
//! share one renewal. A failed renewal is retried with back-off while the old token is still
//! good; callers keep using the old token meanwhile.
//!
//! Merchant-owned devices should not hold the integrator's client secret (§3.1). For them the
//! token can be *provisioned*: a long-lived merchant-locked token in a file, one per VAT. Its
//! JWT `exp` is read so that an alarm is logged well before it runs out.
use crate::backoff::Backoff;
use crate::correlation::Correlation;

use crate::secrets::{self, AccessToken, Secret, SecretError};
use crate::{
    backends::http::{describe_network_error, RetryPolicy},
    backends::pos_v10::{
        config::ClientConfig,
        formats,
        model::{headers, TokenResponse},
    },
    store::Db,
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Wall-clock time as the token manager sees it. Production uses [`SystemClock`]; a simulation
/// whose backend runs on a virtual clock can supply that clock instead.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// How a merchant's token is obtained.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// The integrator's client secret; tokens come from the client-credentials grant.
    ClientSecret(Secret),
    /// A provisioned long-lived token in a file (mode 600); no secret on the device.
    ProvisionedToken(PathBuf),
}

/// Timing of renewals. The defaults suit production; tests shorten them.
#[derive(Clone, Copy, Debug)]
pub struct TokenSettings {
    /// Renew this long before expiry...
    pub renew_before: Duration,
    /// ...minus a random part of this.
    pub renew_jitter: Duration,
    /// A token with less validity left is not handed out any more: renewal must succeed first.
    pub min_validity: Duration,
    /// First back-off after a failed renewal; doubled per failure up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often the background refresher looks at the clock.
    pub check_interval: Duration,
    /// A provisioned token that expires within this raises an alarm.
    pub expiry_alarm: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            renew_before: Duration::from_secs(600),
            renew_jitter: Duration::from_secs(120),
            min_validity: Duration::from_secs(30),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(120),
            check_interval: Duration::from_secs(30),
            expiry_alarm: Duration::from_secs(14 * 24 * 3600),
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum TokenError {
    #[error("MobilePay refused the client credentials for merchant {vat} (HTTP {status}); check the client id and secret")]
    Refused { vat: String, status: u16 },
    #[error("no token for merchant {vat}: {reason}")]
    Unavailable { vat: String, reason: String },
    #[error("the provisioned token for merchant {vat} in {path} {problem}")]
    Provisioned {
        vat: String,
        path: String,
        problem: String,
    },
    #[error("the provisioned token for merchant {vat} was refused by MobilePay; replace {path}")]
    ProvisionedRefused { vat: String, path: String },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0:?} is not a valid merchant VAT number (expected DK or FI and 8 digits, e.g. DK12345678)")]
    BadVat(String),
    #[error("the token cache: {0}")]
    Store(String),
}

impl TokenError {
    /// An outage may pass; refused credentials and broken files do not.
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenError::Unavailable { .. })
    }
}

/// A usable token and what we know about it.
#[derive(Clone, Debug)]
pub struct Token {
    pub access_token: AccessToken,
    pub expires_at: SystemTime,
    /// Issued for one merchant (`merchant_vat` claim): no VAT header needed.
    pub merchant_locked: bool,
    /// When to renew it (ahead of expiry, jittered).
    renew_at: SystemTime,
}

/// The cached form in the database.
#[derive(Serialize, Deserialize)]
struct Stored {
    access_token: String,
    expires_at_ms: u64,
    renew_at_ms: u64,
    merchant_locked: bool,
}

/// The token held now, and how renewing it goes (failures, backoff, a renewal under way).
#[derive(Default)]
struct Held {
    current: Option<Token>,
    failures: u32,
    next_attempt: Option<SystemTime>,
    renewing: bool,
}

struct Inner {
    vat: String,
    client_id: String,
    credentials: Credentials,
    token_url: String,
    http: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    db: Arc<Db>,
    tree: sled::Tree,
    clock: Arc<dyn Clock>,
    settings: TokenSettings,
    held: Mutex<Held>,
    renewal: tokio::sync::Mutex<()>,
}

/// The token manager of one merchant VAT. Cheap to clone; clones share the token.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("vat", &self.inner.vat)
            .finish_non_exhaustive()
    }
}

const TREE: &str = "tokens";

impl TokenManager {
    /// Sets up the manager and loads a cached (or provisioned) token; no network yet.
    pub fn new(
        config: &ClientConfig,
        http: reqwest::Client,
        vat: &str,
        credentials: Credentials,
        db: Arc<Db>,
        clock: Arc<dyn Clock>,
        settings: TokenSettings,
    ) -> Result<TokenManager, TokenError> {
        if !formats::is_valid_vat(vat) {
            return Err(TokenError::BadVat(vat.to_string()));
        }
        let tree = db
            .tree(TREE)
            .map_err(|err| TokenError::Store(format!("{err:#}")))?;
        let inner = Inner {
            vat: vat.to_string(),
            client_id: config.client_id.clone(),
            credentials,
            token_url: config.endpoints.token_url(),
            http,
            timeout: config.timeouts.write,
            retry: config.retry,
            db,
            tree,
            clock,
            settings,
            held: Mutex::new(Held::default()),
            renewal: tokio::sync::Mutex::new(()),
        };
        let manager = TokenManager {
            inner: Arc::new(inner),
        };
        let initial = match &manager.inner.credentials {
            Credentials::ClientSecret(_) => manager.load_cached(),
            Credentials::ProvisionedToken(path) => {
                let token = manager.read_provisioned(path)?;
                manager.check_provisioned_expiry(&token);
                Some(token)
            }
        };
        manager.held().current = initial;
        Ok(manager)
    }

    pub fn vat(&self) -> &str {
        &self.inner.vat
    }

    /// A token that is valid for at least `min_validity`. Starts a renewal in the background
    /// when the token is due for one; waits for a renewal only when there is no usable token.
    pub async fn token(&self, correlation: &Correlation) -> Result<Token, TokenError> {
        let now = self.inner.clock.now();
        let (usable, start_background) = {
            let mut state = self.held();
            let usable = state.current.clone().filter(|t| self.is_usable(t, now));
            let due = usable.as_ref().is_some_and(|t| now >= t.renew_at)
                && !state.renewing
                && state.next_attempt.is_none_or(|at| now >= at);
            if due {
                state.renewing = true;
            }
            (usable, due)
        };
        if start_background {
            let manager = self.clone();
            let correlation = correlation.clone();
            tokio::spawn(async move {
                let _ = manager.renew(&correlation, None).await;
            });
        }
        match usable {
            Some(token) => Ok(token),
            None => self.renew(correlation, None).await,
        }
    }

    /// After a 401 with `rejected`: get a different token (shared with concurrent callers that
    /// saw the same 401). A provisioned token is re-read from its file, in case it was replaced.
    pub async fn renew_rejected(
        &self,
        correlation: &Correlation,
        rejected: &AccessToken,
    ) -> Result<Token, TokenError> {
        {
            let mut state = self.held();
            if state
                .current
                .as_ref()
                .is_some_and(|t| &t.access_token == rejected)
            {
                state.current = None;
                state.next_attempt = None;
            }
        }
        let token = self.renew(correlation, Some(rejected)).await?;
        if &token.access_token == rejected {
            if let Credentials::ProvisionedToken(path) = &self.inner.credentials {
                return Err(TokenError::ProvisionedRefused {
                    vat: self.inner.vat.clone(),
                    path: path.display().to_string(),
                });
            }
        }
        Ok(token)
    }

    /// Renews in the background ahead of expiry until `shutdown`; for provisioned tokens it
    /// re-reads the file and repeats the expiry alarm once a day.
    pub fn spawn_refresher(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let manager = self.clone();
        let span = tracing::info_span!("token_refresher", vat = %self.inner.vat);
        tokio::spawn(
            async move {
                let mut last_alarm_check = manager.inner.clock.now();
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(manager.inner.settings.check_interval) => {}
                    }
                    let now = manager.inner.clock.now();
                    match &manager.inner.credentials {
                        Credentials::ClientSecret(_) => {
                            if manager.background_due(now) {
                                let correlation = Correlation::new("token-renewal");
                                let _ = manager.renew(&correlation, None).await;
                            }
                        }
                        Credentials::ProvisionedToken(path) => {
                            let day = Duration::from_secs(24 * 3600);
                            if now.duration_since(last_alarm_check).unwrap_or_default() >= day {
                                last_alarm_check = now;
                                match manager.read_provisioned(path) {
                                    Ok(token) => {
                                        manager.check_provisioned_expiry(&token);
                                        manager.held().current = Some(token);
                                    }
                                    Err(err) => tracing::error!(error = %err, "provisioned token unusable"),
                                }
                            }
                        }
                    }
                }
            }
            .instrument(span),
        )
    }

    fn background_due(&self, now: SystemTime) -> bool {
        let state = self.held();
        let due = match &state.current {
            Some(token) => now >= token.renew_at,
            None => false,
        };
        due && !state.renewing && state.next_attempt.is_none_or(|at| now >= at)
    }

    fn is_usable(&self, token: &Token, now: SystemTime) -> bool {
        token
            .expires_at
            .duration_since(now)
            .is_ok_and(|left| left > self.inner.settings.min_validity)
    }

    /// One renewal at a time; whoever waited for it gets its result instead of starting another.
    async fn renew(
        &self,
        correlation: &Correlation,
        rejected: Option<&AccessToken>,
    ) -> Result<Token, TokenError> {
        let _guard = self.inner.renewal.lock().await;
        let now = self.inner.clock.now();
        {
            let mut state = self.held();
            if let Some(current) = state.current.clone() {
                let usable = self.is_usable(&current, now) && rejected != Some(&current.access_token);
                let fresh = now < current.renew_at;
                let backing_off = state.next_attempt.is_some_and(|at| now < at);
                if usable && (fresh || backing_off) {
                    state.renewing = false;
                    return Ok(current);
                }
            }
            state.renewing = true;
        }
        let result = match &self.inner.credentials {
            Credentials::ClientSecret(secret) => self.fetch(correlation, secret).await,
            Credentials::ProvisionedToken(path) => {
                let token = self.read_provisioned(path);
                if let Ok(token) = &token {
                    self.check_provisioned_expiry(token);
                }
                token
            }
        };
        let mut state = self.held();
        state.renewing = false;
        match result {
            Ok(token) => {
                state.current = Some(token.clone());
                state.failures = 0;
                state.next_attempt = None;
                drop(state);
                if matches!(self.inner.credentials, Credentials::ClientSecret(_)) {
                    self.store(&token);
                }
                Ok(token)
            }
            Err(err) => {
                state.failures += 1;
                let backoff = self.retry_backoff(state.failures);
                state.next_attempt = Some(now + backoff);
                let fallback = state.current.clone().filter(|t| self.is_usable(t, now));
                drop(state);
                match fallback {
                    Some(old) if rejected.is_none() => {
                        tracing::warn!(
                            vat = %self.inner.vat,
                            error = %err,
                            retry_in_ms = backoff.as_millis() as u64,
                            "token renewal failed; the current token stays in use"
                        );
                        Ok(old)
                    }
                    _ => {
                        tracing::error!(vat = %self.inner.vat, error = %err, "no usable token");
                        Err(err)
                    }
                }
            }
        }
    }

    fn retry_backoff(&self, failures: u32) -> Duration {
        let s = &self.inner.settings;
        Backoff::jittered(s.retry_base, s.retry_max).delay(failures)
    }

    /// The client-credentials grant, retried like any other call (§7.2).
    async fn fetch(&self, correlation: &Correlation, secret: &Secret) -> Result<Token, TokenError> {
        let inner = &self.inner;
        let span = tracing::info_span!(
            "mobilepay",
            endpoint = "token",
            correlation_id = %correlation.id(),
            flow = correlation.kind(),
            vat = %inner.vat
        );
        async move {
            let unavailable = |reason: String| TokenError::Unavailable {
                vat: inner.vat.clone(),
                reason,
            };
            let form = [
                ("grant_type", "client_credentials"),
                ("merchant_vat", inner.vat.as_str()),
            ];
            let mut attempt = 0;
            loop {
                attempt += 1;
                let requested_at = inner.clock.now();
                let sent = inner
                    .http
                    .post(&inner.token_url)
                    .timeout(inner.timeout)
                    .basic_auth(&inner.client_id, Some(secret.expose()))
                    .header(headers::CLIENT_ID, &inner.client_id)
                    .header(headers::CORRELATION_ID, correlation.id().to_string())
                    .header(reqwest::header::ACCEPT, "application/json")
                    .form(&form)
                    .send()
                    .await;
                let outcome = match sent {
                    Ok(response) => {
                        let status = response.status();
                        match response.bytes().await {
                            Ok(body) if status.is_success() => {
                                return self.parse_token_answer(&body, requested_at).map_err(unavailable);
                            }
                            Ok(_) if status.is_server_error() => format!("HTTP {}", status.as_u16()),
                            Ok(_) => {
                                return Err(TokenError::Refused {
                                    vat: inner.vat.clone(),
                                    status: status.as_u16(),
                                })
                            }
                            Err(err) => describe_network_error(&err),
                        }
                    }
                    Err(err) => describe_network_error(&err),
                };
                if attempt > inner.retry.retries {
                    return Err(unavailable(format!("{outcome} after {attempt} attempts")));
                }
                let backoff = inner.retry.backoff().delay(attempt);
                tracing::warn!(attempt, problem = %outcome, "token request failed; retrying");
                tokio::time::sleep(backoff).await;
            }
        }
        .instrument(span)
        .await
    }

    fn parse_token_answer(&self, body: &[u8], requested_at: SystemTime) -> Result<Token, String> {
        // The serde error is not quoted: it could echo part of the token.
        let answer: TokenResponse = serde_json::from_slice(body)
            .map_err(|_| "the token answer is not the JSON MobilePay documents".to_string())?;
        if !answer.token_type.eq_ignore_ascii_case("bearer") {
            return Err(format!("unexpected token type {:?}", answer.token_type));
        }
        if answer.access_token.is_empty() || answer.expires_in == 0 {
            return Err("the token answer has no token or no lifetime".into());
        }
        let lifetime = Duration::from_secs(answer.expires_in);
        // Counted from when we asked, so network time only makes us renew a little early.
        let expires_at = requested_at + lifetime;
        // We asked for a merchant-locked token. If the JWT says otherwise (no `merchant_vat`
        // claim), calls carry the VAT header instead; an opaque token is taken as asked for.
        let merchant_locked = match jwt_claims(&answer.access_token) {
            Some(claims) => claims.merchant_vat.is_some(),
            None => true,
        };
        tracing::info!(
            expires_in_s = answer.expires_in,
            merchant_locked,
            "new access token"
        );
        Ok(Token {
            access_token: AccessToken::new(answer.access_token),
            expires_at,
            merchant_locked,
            renew_at: self.renew_time(requested_at, expires_at),
        })
    }

    /// `renew_before` (+ jitter) ahead of expiry, but never earlier than half-way through the
    /// lifetime, so short-lived tokens are not renewed continuously.
    fn renew_time(&self, obtained: SystemTime, expires_at: SystemTime) -> SystemTime {
        let s = &self.inner.settings;
        let lifetime = expires_at.duration_since(obtained).unwrap_or_default();
        let ahead = (s.renew_before + s.renew_jitter.mul_f64(rand::random::<f64>())).min(lifetime / 2);
        expires_at - ahead
    }

    fn read_provisioned(&self, path: &std::path::Path) -> Result<Token, TokenError> {
        let problem = |problem: String| TokenError::Provisioned {
            vat: self.inner.vat.clone(),
            path: path.display().to_string(),
            problem,
        };
        let secret = secrets::load_secret(&secrets::SecretSource::File(path.to_path_buf()))?;
        let claims = jwt_claims(secret.expose()).ok_or_else(|| problem("is not a JWT".into()))?;
        let exp = claims
            .exp
            .ok_or_else(|| problem("has no expiry (`exp` claim)".into()))?;
        let expires_at = UNIX_EPOCH + Duration::from_secs(exp);
        if let Some(vat) = &claims.merchant_vat {
            if vat != &self.inner.vat {
                return Err(problem(format!("is locked to merchant {vat}")));
            }
        }
        if expires_at <= self.inner.clock.now() {
            return Err(problem(format!("expired at {}", rfc3339(expires_at))));
        }
        Ok(Token {
            access_token: AccessToken::new(secret.expose()),
            expires_at,
            merchant_locked: claims.merchant_vat.is_some(),
            // Re-read on a 401 or daily, never "renewed" ahead of expiry.
            renew_at: expires_at,
        })
    }

    fn check_provisioned_expiry(&self, token: &Token) {
        let now = self.inner.clock.now();
        if let Ok(left) = token.expires_at.duration_since(now) {
            if left <= self.inner.settings.expiry_alarm {
                tracing::error!(
                    vat = %self.inner.vat,
                    expires_at = %rfc3339(token.expires_at),
                    days_left = left.as_secs() / 86_400,
                    "ALARM: the provisioned MobilePay token expires soon; provision a new one"
                );
            }
        }
    }

    fn cache_key(&self) -> String {
        format!("{}/{}", self.inner.client_id, self.inner.vat)
    }

    fn load_cached(&self) -> Option<Token> {
        let raw = match self.inner.tree.get(self.cache_key()) {
            Ok(raw) => raw?,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the token cache");
                return None;
            }
        };
        let stored: Stored = serde_json::from_slice(&raw).ok()?;
        let token = Token {
            access_token: AccessToken::new(stored.access_token),
            expires_at: UNIX_EPOCH + Duration::from_millis(stored.expires_at_ms),
            merchant_locked: stored.merchant_locked,
            renew_at: UNIX_EPOCH + Duration::from_millis(stored.renew_at_ms),
        };
        let usable = self.is_usable(&token, self.inner.clock.now());
        tracing::debug!(vat = %self.inner.vat, usable, "cached token found");
        usable.then_some(token)
    }

    /// Best effort: a token that is not cached only costs one token request after a restart.
    fn store(&self, token: &Token) {
        let stored = Stored {
            access_token: token.access_token.expose().to_string(),
            expires_at_ms: millis(token.expires_at),
            renew_at_ms: millis(token.renew_at),
            merchant_locked: token.merchant_locked,
        };
        let result = serde_json::to_vec(&stored)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| {
                self.inner.tree.insert(self.cache_key(), bytes)?;
                self.inner.db.durable()
            });
        if let Err(err) = result {
            tracing::warn!(error = %format!("{err:#}"), "cannot cache the token");
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.inner
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Deserialize)]
struct Claims {
    exp: Option<u64>,
    merchant_vat: Option<String>,
}

/// The claims of a JWT, read without checking the signature: the token is only passed on to
/// MobilePay, which does check it; we only need its expiry and merchant.
fn jwt_claims(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &serde_json::Value) -> String {
        let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            enc(br#"{"alg":"HS256","typ":"JWT"}"#),
            enc(claims.to_string().as_bytes()),
            enc(b"signature")
        )
    }

    #[test]
    fn jwt_claims_are_read_without_a_key() {
        let token = jwt(&serde_json::json!({"exp": 2_000_000_000u64, "merchant_vat": "DK12345678"}));
        let claims = jwt_claims(&token).unwrap();
        assert_eq!(claims.exp, Some(2_000_000_000));
        assert_eq!(claims.merchant_vat.as_deref(), Some("DK12345678"));
        assert!(jwt_claims("not-a-jwt").is_none());
        assert!(jwt_claims("a.b.c.d").is_none());
        assert!(jwt_claims("a.!!!.c").is_none());
    }

    struct FixedClock(SystemTime);
    impl Clock for FixedClock {
        fn now(&self) -> SystemTime {
            self.0
        }
    }

    fn manager(
        dir: &std::path::Path,
        credentials: Credentials,
        now: SystemTime,
    ) -> Result<TokenManager, TokenError> {
        let config = ClientConfig::new(
            crate::backends::pos_v10::config::Endpoints::single_host("http://127.0.0.1:9").unwrap(),
            "client",
        );
        let db = Arc::new(Db::open(&dir.join("db"), 1 << 20).unwrap());
        TokenManager::new(
            &config,
            reqwest::Client::new(),
            "DK12345678",
            credentials,
            db,
            Arc::new(FixedClock(now)),
            TokenSettings::default(),
        )
    }

    fn write_private(path: &std::path::Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn provisioned_token_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let path = dir.path().join("token");
        write_private(
            &path,
            &jwt(&serde_json::json!({"exp": 1_900_000_000u64 + 90 * 86_400, "merchant_vat": "DK12345678"})),
        );
        let m = manager(dir.path(), Credentials::ProvisionedToken(path.clone()), now).unwrap();
        let token = m.held().current.clone().unwrap();
        assert!(token.merchant_locked);
        assert_eq!(token.expires_at, now + Duration::from_secs(90 * 86_400));
        drop(m);

        write_private(&path, &jwt(&serde_json::json!({"exp": 1_800_000_000u64})));
        let err = manager(dir.path(), Credentials::ProvisionedToken(path.clone()), now).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");

        write_private(
            &path,
            &jwt(&serde_json::json!({"exp": 1_999_999_999u64, "merchant_vat": "DK87654321"})),
        );
        let err = manager(dir.path(), Credentials::ProvisionedToken(path.clone()), now).unwrap_err();
        assert!(err.to_string().contains("DK87654321"), "{err}");

        write_private(&path, "opaque-token");
        let err = manager(dir.path(), Credentials::ProvisionedToken(path), now).unwrap_err();
        assert!(err.to_string().contains("not a JWT"), "{err}");
        assert!(!err.to_string().contains("opaque-token"));
    }

    #[test]
    fn renewal_is_ahead_of_expiry_with_jitter_but_not_before_half_life() {
        let dir = tempfile::tempdir().unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let m = manager(dir.path(), Credentials::ClientSecret(Secret::new("s")), now).unwrap();
        for _ in 0..20 {
            let expires = now + Duration::from_secs(3700);
            let at = m.renew_time(now, expires);
            let ahead = expires.duration_since(at).unwrap();
            assert!(
                ahead >= Duration::from_secs(600) && ahead <= Duration::from_secs(720),
                "{ahead:?}"
            );
            let short = now + Duration::from_secs(60);
            assert_eq!(
                short.duration_since(m.renew_time(now, short)).unwrap(),
                Duration::from_secs(30)
            );
        }
    }

    #[test]
    fn a_bad_vat_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = ClientConfig::new(crate::backends::pos_v10::config::Endpoints::sandbox(), "client");
        let db = Arc::new(Db::open(&dir.path().join("db"), 1 << 20).unwrap());
        let err = TokenManager::new(
            &config,
            reqwest::Client::new(),
            "DK-12345678",
            Credentials::ClientSecret(Secret::new("s")),
            db,
            Arc::new(SystemClock),
            TokenSettings::default(),
        )
        .unwrap_err();
        assert!(matches!(err, TokenError::BadVat(_)));
    }
}
