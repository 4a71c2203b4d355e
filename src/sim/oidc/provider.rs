//! The provider's memory, without I/O: which portal user is logged in for which client, used
//! nonces, authorization codes, consents and refresh tokens. Every method takes the virtual
//! clock's time; the HTTP handlers sign and deliver what it decides.

use super::authorize::AuthorizeRequest;
use super::claims::{s256_challenge, Grant};
use super::error::OAuthError;
use crate::sim::clock::Millis;
use crate::sim::fixtures::{OidcFixtures, RefreshTokenUsage};
use rand::RngCore;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Authorization codes live 5 minutes (§1.4).
const CODE_LIFETIME_MS: Millis = 5 * 60 * 1000;

/// What the portal user does at the consent screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    Approve,
    Decline,
}

/// A portal user logged in for the next authorize request of one client.
#[derive(Clone, Debug)]
pub struct Login {
    pub client_id: String,
    pub user: String,
    pub decision: Decision,
}

/// The outcome of a well-formed authorize request.
#[derive(Debug, PartialEq, Eq)]
pub enum Authorized {
    /// Nobody is logged in for this client: the login page is shown, nothing is remembered.
    LoginNeeded,
    /// The user declined at the consent screen.
    Denied,
    /// A fresh code for the grant (consent given now or earlier).
    Code { code: String, grant: Grant },
}

struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: String,
    grant: Grant,
    consent_id: u64,
    issued_at: Millis,
    used: bool,
}

struct Consent {
    id: u64,
    merchant_vat: String,
    user: String,
    scopes: Vec<String>,
    granted_at: Millis,
    refreshes: u64,
}

struct RefreshToken {
    grant: Grant,
    consent_id: u64,
    issued_at: Millis,
    expires_at: Millis,
}

/// What the control API shows of a consent: never the tokens themselves.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentView {
    pub client_id: String,
    pub merchant_vat: String,
    pub merchant_id: String,
    pub user: String,
    pub scopes: Vec<String>,
    pub granted_at: Millis,
    /// Successful `refresh_token` grants since the consent was given.
    pub refreshes: u64,
    /// Refresh tokens that still work, as `(issued at, expires at)`.
    pub refresh_tokens: Vec<(Millis, Millis)>,
}

pub struct Provider {
    pub fixtures: OidcFixtures,
    refresh_lifetime: Millis,
    logins: Vec<Login>,
    nonces: HashSet<(String, String)>,
    codes: HashMap<String, Code>,
    /// By client id and merchant id.
    consents: BTreeMap<(String, String), Consent>,
    refresh_tokens: HashMap<String, RefreshToken>,
    next_consent: u64,
}

/// 32 random bytes as 64 upper-case hex digits, the shape of MobilePay's refresh tokens.
fn handle() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn covers(granted: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| granted.contains(w))
}

impl Provider {
    pub fn new(fixtures: OidcFixtures, refresh_lifetime: Millis) -> Self {
        Provider {
            fixtures,
            refresh_lifetime,
            logins: Vec::new(),
            nonces: HashSet::new(),
            codes: HashMap::new(),
            consents: BTreeMap::new(),
            refresh_tokens: HashMap::new(),
            next_consent: 1,
        }
    }

    /// A portal user logs in for the next authorize request of `client_id`.
    pub fn log_in(&mut self, login: Login) -> Result<(), String> {
        if self.fixtures.client(&login.client_id).is_none() {
            return Err(format!("unknown OIDC client {:?}", login.client_id));
        }
        if self.fixtures.user(&login.user).is_none() {
            return Err(format!("unknown portal user {:?}", login.user));
        }
        self.logins.push(login);
        Ok(())
    }

    /// End session: every pending login is forgotten.
    pub fn sign_out(&mut self) {
        self.logins.clear();
    }

    /// Decides a well-formed authorize request. The next login of the client plays the user,
    /// whatever the outcome; the nonce is spent only when an answer goes back to the client, so
    /// that a browser that reloads the same URL after logging in is not refused for its own
    /// nonce.
    pub fn authorize(&mut self, req: &AuthorizeRequest, now: Millis) -> Result<Authorized, String> {
        self.codes.retain(|_, c| now < c.issued_at + CODE_LIFETIME_MS);
        if self.nonces.contains(&(req.client_id.clone(), req.nonce.clone())) {
            return Err("nonce was used before".into());
        }
        let merchant = self
            .fixtures
            .merchant_by_vat(&req.merchant_vat)
            .ok_or_else(|| "merchant_vat is not a MobilePay merchant".to_string())?
            .clone();
        let Some(index) = self.logins.iter().position(|l| l.client_id == req.client_id) else {
            return Ok(Authorized::LoginNeeded);
        };
        let login = self.logins.remove(index);
        let user = self
            .fixtures
            .user(&login.user)
            .ok_or_else(|| "the portal user is gone".to_string())?
            .clone();
        if !user.merchants.contains(&req.merchant_vat) {
            return Err("the portal user may not act for merchant_vat".into());
        }
        self.nonces.insert((req.client_id.clone(), req.nonce.clone()));
        let key = (req.client_id.clone(), merchant.merchant_id.clone());
        let skip_screen = self
            .consents
            .get(&key)
            .is_some_and(|c| covers(&c.scopes, &req.scopes));
        if !skip_screen && login.decision == Decision::Decline {
            return Ok(Authorized::Denied);
        }
        let next_id = self.next_consent;
        let consent = self.consents.entry(key).or_insert_with(|| Consent {
            id: next_id,
            merchant_vat: merchant.vat.clone(),
            user: user.login.clone(),
            scopes: Vec::new(),
            granted_at: now,
            refreshes: 0,
        });
        if consent.id == next_id {
            self.next_consent += 1;
        }
        for scope in &req.scopes {
            if !consent.scopes.contains(scope) {
                consent.scopes.push(scope.clone());
            }
        }
        let grant = Grant {
            client_id: req.client_id.clone(),
            sub: user.sub.clone(),
            merchant_id: merchant.merchant_id.clone(),
            scopes: req.scopes.clone(),
            auth_time: now / 1000,
        };
        let code = handle();
        self.codes.insert(
            code.clone(),
            Code {
                client_id: req.client_id.clone(),
                redirect_uri: req.redirect_uri.clone(),
                challenge: req.code_challenge.clone(),
                nonce: req.nonce.clone(),
                grant: grant.clone(),
                consent_id: consent.id,
                issued_at: now,
                used: false,
            },
        );
        Ok(Authorized::Code { code, grant })
    }

    /// `authorization_code` grant: the grant, the authorize request's nonce and a new refresh
    /// token. A code found for this client is spent even when a later check fails, as
    /// IdentityServer removes it from its store on first use.
    pub fn redeem(
        &mut self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        now: Millis,
    ) -> Result<(Grant, String, String), OAuthError> {
        let entry = self
            .codes
            .get_mut(code)
            .filter(|c| c.client_id == client_id)
            .ok_or_else(|| OAuthError::invalid_grant("unknown code"))?;
        if entry.used {
            return Err(OAuthError::invalid_grant("the code was used before"));
        }
        entry.used = true;
        if now >= entry.issued_at + CODE_LIFETIME_MS {
            return Err(OAuthError::invalid_grant("the code has expired"));
        }
        if entry.redirect_uri != redirect_uri {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorize request",
            ));
        }
        if s256_challenge(verifier) != entry.challenge {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match code_challenge",
            ));
        }
        let (grant, nonce, consent_id) = (entry.grant.clone(), entry.nonce.clone(), entry.consent_id);
        if !self.consent_alive(&grant, consent_id) {
            return Err(OAuthError::invalid_grant("the consent was removed"));
        }
        let token = self.new_refresh_token(grant.clone(), consent_id, now);
        Ok((grant, nonce, token))
    }

    /// `refresh_token` grant: the grant (narrowed to `scope` when given) and the refresh token
    /// to use next, which is the same one for `reUse` clients and a new one for `OneTime`.
    pub fn refresh(
        &mut self,
        client_id: &str,
        token: &str,
        scope: Option<&[String]>,
        now: Millis,
    ) -> Result<(Grant, String), OAuthError> {
        let dead = || OAuthError::invalid_grant("invalid refresh token");
        let entry = self
            .refresh_tokens
            .get(token)
            .filter(|t| t.grant.client_id == client_id)
            .ok_or_else(dead)?;
        if now >= entry.expires_at {
            self.refresh_tokens.remove(token);
            return Err(dead());
        }
        let (grant, consent_id) = (entry.grant.clone(), entry.consent_id);
        if !self.consent_alive(&grant, consent_id) {
            self.refresh_tokens.remove(token);
            return Err(dead());
        }
        if let Some(wanted) = scope {
            if !covers(&grant.scopes, wanted) {
                return Err(OAuthError::invalid_scope("scope exceeds the consent"));
            }
        }
        let usage = self
            .fixtures
            .client(client_id)
            .map(|c| c.refresh_token_usage)
            .unwrap_or(RefreshTokenUsage::OneTime);
        let next = match usage {
            RefreshTokenUsage::ReUse => {
                if let Some(entry) = self.refresh_tokens.get_mut(token) {
                    entry.expires_at = now + self.refresh_lifetime;
                }
                token.to_string()
            }
            RefreshTokenUsage::OneTime => {
                self.refresh_tokens.remove(token);
                self.new_refresh_token(grant.clone(), consent_id, now)
            }
        };
        if let Some(c) = self
            .consents
            .get_mut(&(grant.client_id.clone(), grant.merchant_id.clone()))
        {
            c.refreshes += 1;
        }
        let mut granted = grant;
        if let Some(wanted) = scope {
            granted.scopes = wanted.to_vec();
        }
        Ok((granted, next))
    }

    /// The SuperManager removes the consent of `client_id` for the merchant `merchant_vat`:
    /// its refresh tokens die; access tokens already issued live on until they expire.
    pub fn revoke(&mut self, client_id: &str, merchant_vat: &str) -> bool {
        let Some(merchant_id) = self
            .fixtures
            .merchant_by_vat(merchant_vat)
            .map(|m| m.merchant_id.clone())
        else {
            return false;
        };
        let Some(consent) = self.consents.remove(&(client_id.to_string(), merchant_id)) else {
            return false;
        };
        self.refresh_tokens.retain(|_, t| t.consent_id != consent.id);
        true
    }

    pub fn consents(&self, now: Millis) -> Vec<ConsentView> {
        self.consents
            .iter()
            .map(|((client_id, merchant_id), c)| {
                let mut refresh_tokens: Vec<_> = self
                    .refresh_tokens
                    .values()
                    .filter(|t| t.consent_id == c.id && now < t.expires_at)
                    .map(|t| (t.issued_at, t.expires_at))
                    .collect();
                refresh_tokens.sort_unstable();
                ConsentView {
                    client_id: client_id.clone(),
                    merchant_vat: c.merchant_vat.clone(),
                    merchant_id: merchant_id.clone(),
                    user: c.user.clone(),
                    scopes: c.scopes.clone(),
                    granted_at: c.granted_at,
                    refreshes: c.refreshes,
                    refresh_tokens,
                }
            })
            .collect()
    }

    fn consent_alive(&self, grant: &Grant, consent_id: u64) -> bool {
        self.consents
            .get(&(grant.client_id.clone(), grant.merchant_id.clone()))
            .is_some_and(|c| c.id == consent_id)
    }

    fn new_refresh_token(&mut self, grant: Grant, consent_id: u64, now: Millis) -> String {
        let token = handle();
        self.refresh_tokens.insert(
            token.clone(),
            RefreshToken {
                grant,
                consent_id,
                issued_at: now,
                expires_at: now + self.refresh_lifetime,
            },
        );
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixtures::{
        DK_VAT, OIDC_LOOPBACK_REDIRECT, OIDC_ONETIME_CLIENT_ID, OIDC_REUSE_CLIENT_ID, PORTAL_KIOSK,
        PORTAL_OWNER,
    };
    use crate::sim::oidc::claims::s256_challenge;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const DAY: Millis = 24 * 3600 * 1000;

    fn request(client: &str, nonce: &str) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: client.into(),
            redirect_uri: OIDC_LOOPBACK_REDIRECT.into(),
            response_mode: super::super::authorize::ResponseMode::Fragment,
            scopes: vec!["openid".into(), "offline_access".into(), "invoice".into()],
            state: "s".into(),
            nonce: nonce.into(),
            code_challenge: s256_challenge(VERIFIER),
            merchant_vat: DK_VAT.into(),
        }
    }

    fn provider() -> Provider {
        Provider::new(OidcFixtures::default(), 10 * DAY)
    }

    fn log_in(p: &mut Provider, client: &str, user: &str, decision: Decision) {
        p.log_in(Login {
            client_id: client.into(),
            user: user.into(),
            decision,
        })
        .unwrap();
    }

    /// Consent and the first refresh token of `client` for the DK merchant.
    fn consented(p: &mut Provider, client: &str, now: Millis) -> String {
        log_in(p, client, PORTAL_OWNER, Decision::Approve);
        let Ok(Authorized::Code { code, .. }) = p.authorize(&request(client, &handle()), now) else {
            panic!("code expected");
        };
        p.redeem(client, &code, OIDC_LOOPBACK_REDIRECT, VERIFIER, now)
            .unwrap()
            .2
    }

    #[test]
    fn the_nonce_is_spent_only_when_an_answer_is_delivered() {
        let mut p = provider();
        let req = request(OIDC_REUSE_CLIENT_ID, "n1");
        assert_eq!(p.authorize(&req, 0), Ok(Authorized::LoginNeeded));
        log_in(&mut p, OIDC_REUSE_CLIENT_ID, PORTAL_KIOSK, Decision::Approve);
        assert!(p.authorize(&req, 0).unwrap_err().contains("may not act"));
        assert_eq!(p.authorize(&req, 0), Ok(Authorized::LoginNeeded));
        log_in(&mut p, OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, Decision::Decline);
        assert_eq!(p.authorize(&req, 0), Ok(Authorized::Denied));
        log_in(&mut p, OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, Decision::Approve);
        assert!(p.authorize(&req, 0).unwrap_err().contains("nonce"));
        assert!(p.consents(0).is_empty());
        log_in(&mut p, OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, Decision::Approve);
        p.sign_out();
        assert_eq!(
            p.authorize(&request(OIDC_REUSE_CLIENT_ID, "n2"), 0),
            Ok(Authorized::LoginNeeded)
        );
    }

    #[test]
    fn an_existing_consent_skips_the_screen() {
        let mut p = provider();
        consented(&mut p, OIDC_REUSE_CLIENT_ID, 0);
        log_in(&mut p, OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, Decision::Decline);
        let again = p.authorize(&request(OIDC_REUSE_CLIENT_ID, "n2"), 1000);
        assert!(matches!(again, Ok(Authorized::Code { .. })), "{again:?}");
        assert_eq!(p.consents(1000).len(), 1);
    }

    #[test]
    fn reuse_keeps_the_token_and_slides_its_lifetime() {
        let mut p = provider();
        let token = consented(&mut p, OIDC_REUSE_CLIENT_ID, 0);
        let (_, next) = p.refresh(OIDC_REUSE_CLIENT_ID, &token, None, 9 * DAY).unwrap();
        assert_eq!(next, token);
        let (_, next) = p.refresh(OIDC_REUSE_CLIENT_ID, &token, None, 18 * DAY).unwrap();
        assert_eq!(next, token);
        assert_eq!(p.consents(18 * DAY)[0].refresh_tokens, [(0, 28 * DAY)]);
        let late = p
            .refresh(OIDC_REUSE_CLIENT_ID, &token, None, 28 * DAY)
            .unwrap_err();
        assert_eq!(late.error, "invalid_grant");
    }

    #[test]
    fn one_time_kills_the_used_token() {
        let mut p = provider();
        let token = consented(&mut p, OIDC_ONETIME_CLIENT_ID, 0);
        let (_, next) = p.refresh(OIDC_ONETIME_CLIENT_ID, &token, None, DAY).unwrap();
        assert_ne!(next, token);
        assert_eq!(
            p.refresh(OIDC_ONETIME_CLIENT_ID, &token, None, DAY)
                .unwrap_err()
                .error,
            "invalid_grant"
        );
        let consent = &p.consents(DAY)[0];
        assert_eq!((consent.refreshes, consent.refresh_tokens.len()), (1, 1));
        // Another client cannot use it.
        assert!(p.refresh(OIDC_REUSE_CLIENT_ID, &next, None, DAY).is_err());
        let wider = ["openid".to_string(), "subscriptions".to_string()];
        assert_eq!(
            p.refresh(OIDC_ONETIME_CLIENT_ID, &next, Some(&wider), DAY)
                .unwrap_err()
                .error,
            "invalid_scope"
        );
    }

    #[test]
    fn revoking_kills_refresh_tokens_and_a_new_consent_does_not_revive_them() {
        let mut p = provider();
        let old = consented(&mut p, OIDC_REUSE_CLIENT_ID, 0);
        assert!(p.revoke(OIDC_REUSE_CLIENT_ID, DK_VAT));
        assert!(!p.revoke(OIDC_REUSE_CLIENT_ID, DK_VAT));
        let fresh = consented(&mut p, OIDC_REUSE_CLIENT_ID, 1000);
        assert!(p.refresh(OIDC_REUSE_CLIENT_ID, &old, None, 2000).is_err());
        assert!(p.refresh(OIDC_REUSE_CLIENT_ID, &fresh, None, 2000).is_ok());
    }
}
