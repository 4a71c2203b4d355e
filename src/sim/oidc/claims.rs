//! What the provider's JWTs say, as MobilePay's decoded samples show it (§1.6 of the
//! reference): IdentityServer-style claims, `nbf`/`exp` 300 s apart, and `merchant_id` on
//! access tokens.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `iss` of every token. Deliberately not the simulator's address: MobilePay's issuer matched
/// neither of its discovery hosts, so a client must not validate the issuer against the host.
pub const ISSUER: &str = "https://api.mobilepay.dk/merchant";
/// `aud` of access tokens.
pub const AUDIENCE: &str = "https://api.mobilepay.dk/merchant/resources";
/// Access and identity tokens live exactly 300 s.
pub const TOKEN_LIFETIME_SECS: i64 = 300;
/// `idp` and `amr` as in MobilePay's samples.
const IDP: &str = "local";
const AMR: [&str; 2] = ["UserEnteredCode", "ServerProvidedKey"];

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub nbf: i64,
    pub exp: i64,
    pub client_id: String,
    pub sub: String,
    pub auth_time: i64,
    pub idp: String,
    pub merchant_id: String,
    pub scope: Vec<String>,
    pub amr: Vec<String>,
    pub jti: String,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct IdClaims {
    pub iss: String,
    pub aud: String,
    pub nbf: i64,
    pub iat: i64,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Front channel: hash of the code beside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub c_hash: Option<String>,
    /// Token endpoint: hash of the access token beside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    pub sub: String,
    pub auth_time: i64,
    pub idp: String,
    pub amr: Vec<String>,
}

/// Who consented, for which merchant and client, with which scopes: what every token of one
/// consent carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    pub sub: String,
    pub merchant_id: String,
    pub scopes: Vec<String>,
    /// Seconds since the epoch, on the virtual clock, of the portal login.
    pub auth_time: i64,
}

impl AccessClaims {
    pub fn new(grant: &Grant, now_secs: i64) -> Self {
        AccessClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            nbf: now_secs,
            exp: now_secs + TOKEN_LIFETIME_SECS,
            client_id: grant.client_id.clone(),
            sub: grant.sub.clone(),
            auth_time: grant.auth_time,
            idp: IDP.into(),
            merchant_id: grant.merchant_id.clone(),
            scope: grant.scopes.clone(),
            amr: AMR.iter().map(|s| s.to_string()).collect(),
            jti: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        }
    }
}

impl IdClaims {
    pub fn new(grant: &Grant, now_secs: i64) -> Self {
        IdClaims {
            iss: ISSUER.into(),
            aud: grant.client_id.clone(),
            nbf: now_secs,
            iat: now_secs,
            exp: now_secs + TOKEN_LIFETIME_SECS,
            nonce: None,
            c_hash: None,
            at_hash: None,
            sub: grant.sub.clone(),
            auth_time: grant.auth_time,
            idp: IDP.into(),
            amr: AMR.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// `at_hash` / `c_hash` for RS256 (OIDC Core §3.3.2.11): base64url of the left half of the
/// SHA-256 of the value's ASCII.
pub fn half_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// PKCE S256: base64url(SHA-256(verifier)).
pub fn s256_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636: 43 to 128 unreserved characters, for both verifier and challenge.
pub fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256_challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_pkce_value(verifier));
        assert!(!is_pkce_value(&verifier[..42]));
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", &verifier[..42])));
    }

    #[test]
    fn half_hash_is_sixteen_bytes_of_sha256() {
        assert_eq!(half_hash("x").len(), 22);
        assert_ne!(half_hash("x"), half_hash("y"));
    }
}
