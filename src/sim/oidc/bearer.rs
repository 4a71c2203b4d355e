//! The API gateway's check of `Authorization: Bearer …` for the merchant APIs that trust this
//! provider: signature, audience, issuer and lifetime on the virtual clock. A revoked consent
//! does not stop a token already issued: it works until it expires (§1.8).

use super::claims::{AccessClaims, AUDIENCE, ISSUER};
use super::keys;
use axum::{
    http::{header::WWW_AUTHENTICATE, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, Validation};

/// Why the gateway refused a call. Its answer is the same deliberately vague 401 for every
/// reason; the reason is for the simulator's log only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Missing,
    Invalid,
    Expired,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        response
    }
}

/// The claims of an access token this provider signed, if it is valid at `now_secs`.
pub fn verify(token: &str, now_secs: i64) -> Result<AccessClaims, Denied> {
    let mut validation = Validation::new(Algorithm::RS256);
    // Lifetime is checked below on the virtual clock, not the host's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    let claims = jsonwebtoken::decode::<AccessClaims>(token, keys::decoding_key(), &validation)
        .map_err(|_| Denied::Invalid)?
        .claims;
    if now_secs < claims.nbf || now_secs >= claims.exp {
        return Err(Denied::Expired);
    }
    Ok(claims)
}

/// The check every Invoice and Subscriptions call starts with: the `Authorization` header's
/// value in, the merchant (`merchant_id`) and scopes of the consent out.
pub fn authenticate(authorization: Option<&HeaderValue>, now_secs: i64) -> Result<AccessClaims, Denied> {
    let token = authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(Denied::Missing)?;
    verify(token, now_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::oidc::claims::Grant;

    fn token_at(now: i64) -> String {
        let grant = Grant {
            client_id: "c".into(),
            sub: "s".into(),
            merchant_id: "m".into(),
            scopes: vec!["openid".into(), "invoice".into()],
            auth_time: now,
        };
        keys::sign(&AccessClaims::new(&grant, now)).unwrap()
    }

    #[test]
    fn valid_from_nbf_until_exp_on_the_given_clock() {
        let token = token_at(1_000);
        let header = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        let claims = authenticate(Some(&header), 1_000).unwrap();
        assert_eq!((claims.merchant_id.as_str(), claims.scope.len()), ("m", 2));
        assert!(authenticate(Some(&header), 1_299).is_ok());
        assert_eq!(authenticate(Some(&header), 1_300), Err(Denied::Expired));
        assert_eq!(authenticate(Some(&header), 999), Err(Denied::Expired));
    }

    #[test]
    fn refuses_missing_malformed_and_tampered_tokens() {
        assert_eq!(authenticate(None, 0), Err(Denied::Missing));
        let basic = HeaderValue::from_static("Basic abc");
        assert_eq!(authenticate(Some(&basic), 0), Err(Denied::Missing));
        let token = token_at(1_000);
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = token_at(2_000);
        parts[1] = other.split('.').nth(1).unwrap();
        assert_eq!(verify(&parts.join("."), 2_000), Err(Denied::Invalid));
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &AccessClaims::new(
                &Grant {
                    client_id: "c".into(),
                    sub: "s".into(),
                    merchant_id: "m".into(),
                    scopes: vec![],
                    auth_time: 0,
                },
                1_000,
            ),
            &jsonwebtoken::EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert_eq!(verify(&hs, 1_000), Err(Denied::Invalid));
    }
}
