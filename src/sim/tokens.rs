//! Access tokens: JWTs carrying `client_id`, optionally `merchant_vat`, and `exp` on the
//! virtual clock.
//!
//! MobilePay signs RS256; the simulator signs HS256 with a key made at start. Clients never
//! verify the signature (they only read `exp`), so the algorithm makes no difference to them.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::sync::RwLock;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_vat: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub scope: String,
    pub jti: String,
}

/// Signs and checks tokens. The key can be replaced ([`TokenIssuer::rotate`]), which makes
/// every token issued so far invalid: that is how `/_sim/reset` forgets tokens.
pub struct TokenIssuer {
    keys: RwLock<(EncodingKey, DecodingKey)>,
}

fn fresh_keys() -> (EncodingKey, DecodingKey) {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    (
        EncodingKey::from_secret(&secret),
        DecodingKey::from_secret(&secret),
    )
}

impl TokenIssuer {
    pub fn new() -> Self {
        TokenIssuer {
            keys: RwLock::new(fresh_keys()),
        }
    }

    pub fn rotate(&self) {
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = fresh_keys();
    }

    pub fn issue(&self, claims: &Claims) -> String {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        // Encoding an in-memory struct with an HMAC key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &keys.0).unwrap_or_default()
    }

    /// The claims of a token we issued, if its signature is ours and it has not expired on the
    /// virtual clock (seconds since the epoch).
    pub fn verify(&self, token: &str, now_secs: i64) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let data = jsonwebtoken::decode::<Claims>(token, &keys.1, &validation).ok()?;
        (data.claims.exp > now_secs).then_some(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_on_the_given_clock_and_reject_foreign_signatures() {
        let issuer = TokenIssuer::new();
        let claims = Claims {
            client_id: "c".into(),
            merchant_vat: Some("DK12345678".into()),
            iat: 1000,
            exp: 2000,
            scope: "integrator_scope".into(),
            jti: "j".into(),
        };
        let token = issuer.issue(&claims);
        assert_eq!(issuer.verify(&token, 1999), Some(claims));
        assert_eq!(issuer.verify(&token, 2000), None);
        assert_eq!(TokenIssuer::new().verify(&token, 1000), None);
        assert_eq!(issuer.verify("not.a.jwt", 1000), None);
        issuer.rotate();
        assert_eq!(issuer.verify(&token, 1000), None);
    }
}
