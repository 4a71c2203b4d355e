//! The HTML the browser sees: the generic "unauthorized" page, the login page, the
//! `form_post` answer and the end-session page.

use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

/// Also used by the Invoice landing page.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body>{body}</body></html>\n"
    );
    (status, Html(html)).into_response()
}

/// An invalid authorize request: no redirect back to the client, by MobilePay's design. The
/// reason is shown in a line of its own so that integrators (and tests) can see which rule
/// failed; MobilePay's page said nothing more than "unauthorized".
pub fn unauthorized(reason: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Unauthorized",
        &format!("<h1>Unauthorized</h1>\n<p id=\"reason\">{}</p>", escape(reason)),
    )
}

/// A valid request while no portal user is logged in for the client.
pub fn login(client_id: &str) -> Response {
    page(
        StatusCode::OK,
        "MobilePay Portal login",
        &format!(
            "<h1>Log in to MobilePay Portal</h1>\n<p>This simulator has no login form: \
             POST /_sim/oidc/login {{\"clientId\":\"{}\",\"user\":…}} plays the portal user, \
             then load this page again.</p>",
            escape(client_id)
        ),
    )
}

/// `response_mode=form_post`: a form that posts the answer to `redirect_uri` by itself.
pub fn form_post(redirect_uri: &str, fields: &[(&str, &str)]) -> Response {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape(name),
                escape(value)
            )
        })
        .collect();
    page(
        StatusCode::OK,
        "Submit this form",
        &format!(
            "<form method=\"post\" action=\"{}\">\n{inputs}<noscript><button type=\"submit\">Continue</button></noscript>\n</form>\n<script>document.forms[0].submit();</script>",
            escape(redirect_uri)
        ),
    )
}

pub fn signed_out() -> Response {
    page(StatusCode::OK, "Signed out", "<h1>You are signed out</h1>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
