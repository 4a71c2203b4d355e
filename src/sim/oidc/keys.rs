//! The provider's RS256 signing key and its JWKS entry.
//!
//! The key is a fixed RSA key embedded in the simulator: it is a simulator key, not a secret,
//! published with the source so that tokens stay verifiable across restarts and a client can
//! pin the simulator's JWKS in its tests. Nothing real trusts it.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// PKCS#1 RSA private key (2048 bits), PEM.
const PRIVATE_KEY_PEM: &str = include_str!("signing_key.pem");
/// The key's modulus and exponent, base64url, as the JWKS publishes them.
const MODULUS: &str = "nvcygBumynv5gynYhOs7Nsk4AXDHokkNNlaAZFlG_5wa5_vYxiMYnGGbA7z5EMtWFKCebZeB5TDAkTyLC2rITrHVkOkRAGBKZNnAO8w28cB3H6Ah-K1HwsrktBslZIRlHkFnPnzwSzslGN3Su6HcwgEkakzFnInG3vQwtm66lphozoDPJxp1OkaG5ojHNaDzFHujtoTDZEYKk_AUTF87i-uP8lHHFpfGVl2IUz9OtfXJtkos8PpTfIueVLjEOTe7SRcdxkGIAajLYNH2nONJZBQMgfSwUnoL3zC1dBOgdjj7HGUcUmG13BECqtNd4fqZhR-P8tkP6UVNLKCjbqUgJw";
const EXPONENT: &str = "AQAB";
/// 40 hex digits like MobilePay's `kid` (the first 20 bytes of SHA-256 of the modulus).
pub const KEY_ID: &str = "C9728561ACC0E232C98100C97B09E4D6107EDD3A";

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        use base64::Engine;
        let body: String = PRIVATE_KEY_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        // Both are constants of this file; the unit tests prove they decode and match.
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default();
        Keys {
            encoding: EncodingKey::from_rsa_der(&der),
            decoding: DecodingKey::from_rsa_components(MODULUS, EXPONENT)
                .unwrap_or_else(|_| DecodingKey::from_rsa_raw_components(&[], &[])),
        }
    })
}

/// Signs claims as an RS256 JWT with the provider's `kid`.
pub fn sign<T: Serialize>(claims: &T) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.into());
    jsonwebtoken::encode(&header, claims, &keys().encoding)
}

/// The key that checks what [`sign`] signed.
pub fn decoding_key() -> &'static DecodingKey {
    &keys().decoding
}

/// `GET …/jwks`.
pub fn jwks() -> Value {
    json!({
        "keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": KEY_ID,
            "n": MODULUS,
            "e": EXPONENT,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{jwk::JwkSet, Validation};

    #[test]
    fn the_published_key_checks_what_the_private_key_signs() {
        let token = sign(&json!({ "sub": "x", "exp": 4_000_000_000_i64 })).unwrap();
        let set: JwkSet = serde_json::from_value(jwks()).unwrap();
        let jwk = set.find(KEY_ID).expect("kid is published");
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let data = jsonwebtoken::decode::<Value>(&token, &key, &Validation::new(Algorithm::RS256)).unwrap();
        assert_eq!(data.claims["sub"], "x");
        assert_eq!(data.header.kid.as_deref(), Some(KEY_ID));
        jsonwebtoken::decode::<Value>(&token, decoding_key(), &Validation::new(Algorithm::RS256)).unwrap();
    }

    #[test]
    fn the_key_id_is_derived_from_the_modulus() {
        use base64::Engine;
        use sha2::Digest;
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(MODULUS)
            .unwrap();
        let digest = sha2::Sha256::digest(n);
        let hex: String = digest[..20].iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, KEY_ID);
    }
}
