//! The token and introspection endpoints' request: a form whose parameters appear once, and
//! the client, authenticated by `client_id`/`client_secret` in the form (`client_secret_post`)
//! or by HTTP Basic (`client_secret_basic`), not both.

use super::error::OAuthError;
use crate::sim::fixtures::{OidcClient, OidcFixtures};
use axum::http::{header, HeaderMap};
use base64::Engine;
use std::collections::HashMap;

/// The form body, each parameter at most once (RFC 6749 §3.2).
pub fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("the body is not a valid form"))?;
    let mut form = HashMap::new();
    for (name, value) in pairs {
        if form.contains_key(&name) {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} is given twice"
            )));
        }
        form.insert(name, value);
    }
    Ok(form)
}

/// One part of a Basic credential, form-decoded as RFC 6749 §2.3.1 asks.
fn form_decode(part: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// The client, by HTTP Basic or by `client_id`/`client_secret` in the form (not both).
pub fn authenticate_client(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    fixtures: &OidcFixtures,
) -> Result<OidcClient, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let (id, secret, is_basic) = match basic {
        Some(encoded) => {
            if form.contains_key("client_secret") {
                return Err(OAuthError::invalid_request(
                    "the client authenticated in more than one way",
                ));
            }
            let bad = || OAuthError {
                basic: true,
                ..OAuthError::invalid_client("malformed Basic credentials")
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(bad)?;
            let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
            let id = form_decode(id).ok_or_else(bad)?;
            let secret = form_decode(secret).ok_or_else(bad)?;
            if form.get("client_id").is_some_and(|f| *f != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            (id, secret, true)
        }
        None => {
            let id = form.get("client_id").cloned().unwrap_or_default();
            let secret = form.get("client_secret").cloned().unwrap_or_default();
            (id, secret, false)
        }
    };
    fixtures
        .client(&id)
        .filter(|c| !secret.is_empty() && c.client_secret == secret)
        .cloned()
        .ok_or(OAuthError {
            basic: is_basic,
            ..OAuthError::invalid_client("unknown client or wrong secret")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixtures::{OIDC_REUSE_CLIENT_ID, OIDC_REUSE_CLIENT_SECRET};
    use axum::http::HeaderValue;

    fn basic(credentials: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        headers
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let f = OidcFixtures::default();
        let encoded = format!("sim%2Doidc%2Dreuse:{OIDC_REUSE_CLIENT_SECRET}");
        let client = authenticate_client(&basic(&encoded), &form(&[]), &f).unwrap();
        assert_eq!(client.client_id, OIDC_REUSE_CLIENT_ID);
        let wrong = authenticate_client(&basic(&format!("{OIDC_REUSE_CLIENT_ID}:x")), &form(&[]), &f);
        let wrong = wrong.unwrap_err();
        assert_eq!((wrong.error, wrong.basic), ("invalid_client", true));
        let garbage = authenticate_client(&basic("no colon"), &form(&[]), &f).unwrap_err();
        assert_eq!(garbage.error, "invalid_client");
    }

    #[test]
    fn one_way_of_authenticating_only() {
        let f = OidcFixtures::default();
        let creds = format!("{OIDC_REUSE_CLIENT_ID}:{OIDC_REUSE_CLIENT_SECRET}");
        let both = form(&[("client_secret", OIDC_REUSE_CLIENT_SECRET)]);
        assert_eq!(
            authenticate_client(&basic(&creds), &both, &f).unwrap_err().error,
            "invalid_request"
        );
        let other_id = form(&[("client_id", "someone-else")]);
        assert_eq!(
            authenticate_client(&basic(&creds), &other_id, &f)
                .unwrap_err()
                .error,
            "invalid_request"
        );
        let post = form(&[
            ("client_id", OIDC_REUSE_CLIENT_ID),
            ("client_secret", OIDC_REUSE_CLIENT_SECRET),
        ]);
        assert!(authenticate_client(&HeaderMap::new(), &post, &f).is_ok());
        let none = authenticate_client(&HeaderMap::new(), &form(&[]), &f).unwrap_err();
        assert_eq!((none.error, none.basic), ("invalid_client", false));
    }

    #[test]
    fn the_form_must_be_a_form_with_each_parameter_once() {
        let mut headers = HeaderMap::new();
        assert!(parse_form(&headers, b"a=1").is_err());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        assert_eq!(parse_form(&headers, b"a=1&b=x+y").unwrap()["b"], "x y");
        assert_eq!(
            parse_form(&headers, b"a=1&a=2").unwrap_err().error,
            "invalid_request"
        );
    }
}
