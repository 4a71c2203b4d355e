//! The checks of `GET /connect/authorize` (§1.3 of the reference), apart from who is logged
//! in: a request either is well-formed for a registered client or is rejected with a reason
//! that the generic "unauthorized" page shows (MobilePay never redirected an invalid request
//! back to the client).

use super::claims::is_pkce_value;
use crate::backends::pos_v10::formats;
use crate::sim::fixtures::OidcFixtures;
use std::collections::HashMap;

/// How the authorization response reaches `redirect_uri`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// An auto-submitting HTML form (MobilePay's recommendation and the default).
    FormPost,
    /// `redirect_uri#code=…&state=…&id_token=…`.
    Fragment,
}

/// A well-formed authorize request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
    pub merchant_vat: String,
}

const REQUIRED_SCOPES: [&str; 2] = ["openid", "offline_access"];

/// Checks the query parameters (in the order sent; a parameter given twice is refused).
pub fn parse(params: &[(String, String)], fixtures: &OidcFixtures) -> Result<AuthorizeRequest, String> {
    let mut map: HashMap<&str, &str> = HashMap::new();
    for (name, value) in params {
        if map.insert(name, value).is_some() {
            return Err(format!("parameter {name} is given twice"));
        }
    }
    let get = |name: &str| map.get(name).copied().filter(|v| !v.is_empty());
    let required = |name: &str| get(name).ok_or_else(|| format!("{name} is missing"));

    let client_id = required("client_id")?;
    let client = fixtures
        .client(client_id)
        .ok_or_else(|| "unknown client_id".to_string())?;
    let redirect_uri = required("redirect_uri")?;
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err("redirect_uri is not registered for this client".into());
    }
    let mut response_type: Vec<&str> = required("response_type")?.split(' ').collect();
    response_type.sort_unstable();
    if response_type != ["code", "id_token"] {
        return Err("response_type must be \"code id_token\"".into());
    }
    let response_mode = match get("response_mode") {
        None | Some("form_post") => ResponseMode::FormPost,
        Some("fragment") => ResponseMode::Fragment,
        Some(other) => return Err(format!("response_mode {other:?} is not supported")),
    };
    let mut scopes: Vec<String> = Vec::new();
    for scope in required("scope")?.split(' ').filter(|s| !s.is_empty()) {
        let allowed = REQUIRED_SCOPES.contains(&scope) || client.scopes.iter().any(|s| s == scope);
        if !allowed {
            return Err(format!("scope {scope:?} is not allowed for this client"));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_string());
        }
    }
    if let Some(missing) = REQUIRED_SCOPES.iter().find(|r| !scopes.iter().any(|s| s == *r)) {
        return Err(format!("scope must contain {missing}"));
    }
    let state = required("state")?;
    let nonce = required("nonce")?;
    let code_challenge = required("code_challenge")?;
    if !is_pkce_value(code_challenge) {
        return Err("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~".into());
    }
    if required("code_challenge_method")? != "S256" {
        return Err("code_challenge_method must be S256".into());
    }
    let merchant_vat = required("merchant_vat")?;
    if !formats::is_valid_vat(merchant_vat) {
        return Err("merchant_vat is not DK or FI followed by 8 digits".into());
    }
    Ok(AuthorizeRequest {
        client_id: client_id.into(),
        redirect_uri: redirect_uri.into(),
        response_mode,
        scopes,
        state: state.into(),
        nonce: nonce.into(),
        code_challenge: code_challenge.into(),
        merchant_vat: merchant_vat.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixtures::{OIDC_INVOICE_CLIENT_ID, OIDC_LOOPBACK_REDIRECT, OIDC_REUSE_CLIENT_ID};

    fn valid() -> Vec<(String, String)> {
        [
            ("client_id", OIDC_REUSE_CLIENT_ID),
            ("redirect_uri", OIDC_LOOPBACK_REDIRECT),
            ("response_type", "code id_token"),
            ("scope", "openid offline_access invoice"),
            ("state", "s"),
            ("nonce", "n"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
            ("merchant_vat", "DK12345678"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn with(name: &str, value: Option<&str>) -> Vec<(String, String)> {
        let mut params: Vec<_> = valid().into_iter().filter(|(k, _)| k != name).collect();
        if let Some(v) = value {
            params.push((name.into(), v.into()));
        }
        params
    }

    #[test]
    fn a_valid_request_defaults_to_form_post() {
        let req = parse(&valid(), &OidcFixtures::default()).unwrap();
        assert_eq!(req.response_mode, ResponseMode::FormPost);
        assert_eq!(req.scopes, ["openid", "offline_access", "invoice"]);
        let fragment = parse(&with("response_mode", Some("fragment")), &OidcFixtures::default());
        assert_eq!(fragment.unwrap().response_mode, ResponseMode::Fragment);
        assert!(parse(
            &with("response_type", Some("id_token code")),
            &OidcFixtures::default()
        )
        .is_ok());
    }

    #[test]
    fn every_rule_rejects_with_its_reason() {
        let f = OidcFixtures::default();
        let cases: [(&str, Option<&str>, &str); 14] = [
            ("client_id", Some("nobody"), "unknown client_id"),
            ("redirect_uri", Some("http://127.0.0.1:7890"), "not registered"),
            ("response_type", Some("code"), "response_type"),
            ("response_mode", Some("query"), "response_mode"),
            ("scope", Some("openid invoice"), "offline_access"),
            ("scope", Some("openid offline_access webhooks"), "\"webhooks\""),
            ("state", None, "state is missing"),
            ("nonce", Some(""), "nonce is missing"),
            ("code_challenge", None, "code_challenge is missing"),
            ("code_challenge", Some("short"), "43 to 128"),
            ("code_challenge_method", Some("plain"), "S256"),
            ("code_challenge_method", None, "code_challenge_method is missing"),
            ("merchant_vat", Some("SE12345678"), "merchant_vat"),
            ("merchant_vat", None, "merchant_vat is missing"),
        ];
        for (name, value, reason) in cases {
            let err = parse(&with(name, value), &f).unwrap_err();
            assert!(err.contains(reason), "{name}={value:?}: {err}");
        }
        let mut twice = valid();
        twice.push(("state".into(), "t".into()));
        assert!(parse(&twice, &f).unwrap_err().contains("twice"));
        let mut subs = with("scope", Some("openid offline_access subscriptions"));
        subs.retain(|(k, _)| k != "client_id");
        subs.push(("client_id".into(), OIDC_INVOICE_CLIENT_ID.into()));
        assert!(parse(&subs, &f).unwrap_err().contains("subscriptions"));
    }
}
