//! What one webhook delivery means, decided without I/O: refused (bad or missing signature,
//! stale date), unreadable, someone else's, already seen, news of one of our payments, or a
//! customer checking in at one of our lanes' stickers.
//!
//! Deliveries are at-least-once and only notifications: a payment event makes the lane poll
//! the payment now, and what the poll finds is the truth. So a duplicate (same reference and
//! event name) is acknowledged and dropped, and nothing a delivery says is taken as a state.
//! A check-in is the one delivery that carries something polling cannot learn: the checked-in
//! customer's token (a duplicate repeats the token, and is dropped the same way).

use crate::backends::epayment::qr::{UserCheckedInEvent, USER_CHECKED_IN};
use crate::backends::epayment::webhooks::{verify, Signature, Untrusted};
use crate::secrets::Secret;
use serde::Deserialize;
use std::collections::{HashSet, VecDeque};
use std::time::Duration;

/// How far `x-ms-date` may be from the box's clock. Each attempt of a delivery is signed when
/// it is sent, so an honest delivery is seconds old; the margin covers a box whose clock
/// drifts. An older one is a replay, or the box's clock is wrong (then every delivery is
/// refused, polling carries on alone and the log says why).
pub const DATE_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// How many deliveries are remembered for spotting duplicates: far more than the events of
/// the payments of a day at one checkout, few enough to stay small on a Pi.
const REMEMBERED: usize = 4096;

/// The signing headers as received; a missing one is `None`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Headers<'a> {
    pub date: Option<&'a str>,
    pub content_sha256: Option<&'a str>,
    pub authorization: Option<&'a str>,
}

/// What to do with one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The registration is not known yet (the box is still registering): 503, the sender
    /// tries again later.
    NotReady,
    /// Not signed with our secret, or too old: 401.
    Refused(Untrusted),
    /// Signed, but not a body we can read: 400.
    Unreadable(String),
    /// Signed and read, but nothing for this box (another sales unit, an event type it does
    /// not use): 200.
    Ignored(String),
    /// Seen before: 200, nothing happens.
    Duplicate,
    /// News of the payment `reference`: 200, and the lane that has it polls it now.
    Payment { reference: String, event: String },
    /// A customer checked in at the sticker `merchant_qr_id` of one of our lanes: 200, and a
    /// sale for that sticker is pushed to `customer_token`.
    CheckIn {
        merchant_qr_id: String,
        customer_token: Secret,
    },
}

impl Verdict {
    /// The HTTP status the sender is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Verdict::NotReady => 503,
            Verdict::Refused(_) => 401,
            Verdict::Unreadable(_) => 400,
            Verdict::Ignored(_) | Verdict::Duplicate | Verdict::Payment { .. } | Verdict::CheckIn { .. } => {
                200
            }
        }
    }
}

/// Who the deliveries are for.
#[derive(Clone, Debug)]
pub struct Receiver {
    pub msn: String,
    /// The registered URL's `Host` value and path, which the sender signs.
    pub host: String,
    pub path: String,
    /// The `merchantQrId`s of the stickers of the sales unit's lanes.
    pub stickers: Vec<String>,
}

/// What a delivery tells: a check-in has a `customerToken`, a payment event a `reference`.
#[derive(Deserialize)]
#[serde(untagged)]
enum News {
    CheckIn(UserCheckedInEvent),
    Payment(PaymentNews),
}

/// The fields of a payment event this box uses; the rest (amount, pspReference, ...) is the
/// poll's business.
#[derive(Deserialize)]
struct PaymentNews {
    msn: String,
    reference: String,
    name: String,
}

impl Receiver {
    /// Judges a delivery of `body` signed with `headers`, checked against `secret` (`None`
    /// while the registration is not known) at `now`; `recent` remembers the ones accepted.
    pub fn judge(
        &self,
        secret: Option<&str>,
        headers: Headers<'_>,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
        recent: &mut Recent,
    ) -> Verdict {
        let Some(secret) = secret else {
            return Verdict::NotReady;
        };
        let signature = match (headers.date, headers.content_sha256, headers.authorization) {
            (Some(date), Some(hash), Some(authorization)) => Signature {
                date: date.to_string(),
                content_sha256: hash.to_string(),
                authorization: authorization.to_string(),
            },
            (None, ..) => return Verdict::Refused(Untrusted::Missing("x-ms-date")),
            (_, None, _) => return Verdict::Refused(Untrusted::Missing("x-ms-content-sha256")),
            (.., None) => return Verdict::Refused(Untrusted::Missing("Authorization")),
        };
        if let Err(e) = verify(
            secret,
            &self.host,
            &self.path,
            &signature,
            body,
            now,
            DATE_TOLERANCE,
        ) {
            return Verdict::Refused(e);
        }
        let news = match serde_json::from_slice(body) {
            Ok(News::Payment(news)) => news,
            Ok(News::CheckIn(check_in)) => return self.check_in(check_in, recent),
            Err(_) => return Verdict::Unreadable("neither a payment event nor a check-in".into()),
        };
        if news.msn != self.msn {
            return Verdict::Ignored(format!("an event of sales unit {}", news.msn));
        }
        if !recent.first_time(&news.reference, &news.name) {
            return Verdict::Duplicate;
        }
        Verdict::Payment {
            reference: news.reference,
            event: news.name,
        }
    }
}

impl Receiver {
    fn check_in(&self, event: UserCheckedInEvent, recent: &mut Recent) -> Verdict {
        if event.msn != self.msn {
            return Verdict::Ignored(format!("a check-in at sales unit {}", event.msn));
        }
        if !self.stickers.contains(&event.merchant_qr_id) {
            return Verdict::Ignored(format!(
                "a check-in at {:?}, the sticker of no lane of this box",
                event.merchant_qr_id
            ));
        }
        if !recent.first_time(&event.customer_token, USER_CHECKED_IN) {
            return Verdict::Duplicate;
        }
        Verdict::CheckIn {
            merchant_qr_id: event.merchant_qr_id,
            customer_token: Secret::new(event.customer_token),
        }
    }
}

/// The deliveries accepted lately, by reference and event name, oldest forgotten first.
#[derive(Debug, Default)]
pub struct Recent {
    seen: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl Recent {
    /// Whether this is the first delivery of `name` for `reference`; remembers it.
    fn first_time(&mut self, reference: &str, name: &str) -> bool {
        let key = (reference.to_string(), name.to_string());
        if self.seen.contains(&key) {
            return false;
        }
        if self.order.len() >= REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::epayment::webhooks::sign;

    const SECRET: &str = "c2VjcmV0LW9mLXRoZS1yZWdpc3RyYXRpb24=";

    fn receiver() -> Receiver {
        Receiver {
            msn: "123456".into(),
            host: "hooks.shop.example".into(),
            path: "/mposd".into(),
            stickers: vec!["kasse-1".into()],
        }
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc2822("Sat, 05 Dec 2026 10:00:00 GMT")
            .unwrap()
            .into()
    }

    fn event(reference: &str, name: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "msn": "123456", "reference": reference, "pspReference": "p-1", "name": name,
            "amount": {"currency": "DKK", "value": 4995}, "timestamp": "2026-12-05T10:00:00Z",
            "success": true
        }))
        .unwrap()
    }

    fn judge(body: &[u8], date: &str, secret: &str, recent: &mut Recent) -> Verdict {
        let signed = sign(secret, "hooks.shop.example", "/mposd", date, body);
        let headers = Headers {
            date: Some(&signed.date),
            content_sha256: Some(&signed.content_sha256),
            authorization: Some(&signed.authorization),
        };
        receiver().judge(Some(SECRET), headers, body, now(), recent)
    }

    const DATE: &str = "Sat, 05 Dec 2026 09:59:58 GMT";

    #[test]
    fn a_signed_payment_event_is_news_once() {
        let mut recent = Recent::default();
        let body = event("mposd-abc", "AUTHORIZED");
        let news = judge(&body, DATE, SECRET, &mut recent);
        assert_eq!(
            news,
            Verdict::Payment {
                reference: "mposd-abc".into(),
                event: "AUTHORIZED".into()
            }
        );
        assert_eq!(news.status(), 200);
        assert_eq!(judge(&body, DATE, SECRET, &mut recent), Verdict::Duplicate);
        assert!(matches!(
            judge(&event("mposd-abc", "CAPTURED"), DATE, SECRET, &mut recent),
            Verdict::Payment { .. }
        ));
    }

    #[test]
    fn bad_signatures_stale_dates_and_missing_headers_are_refused_and_not_remembered() {
        let mut recent = Recent::default();
        let body = event("mposd-abc", "AUTHORIZED");
        let forged = judge(&body, DATE, "not-our-secret", &mut recent);
        assert_eq!(forged, Verdict::Refused(Untrusted::Signature));
        assert_eq!(forged.status(), 401);
        let stale = judge(&body, "Sat, 05 Dec 2026 09:50:00 GMT", SECRET, &mut recent);
        assert!(
            matches!(stale, Verdict::Refused(Untrusted::Stale { .. })),
            "{stale:?}"
        );
        let unsigned = receiver().judge(Some(SECRET), Headers::default(), &body, now(), &mut recent);
        assert_eq!(unsigned, Verdict::Refused(Untrusted::Missing("x-ms-date")));
        // None of them counted: the genuine delivery is still news.
        assert!(matches!(
            judge(&body, DATE, SECRET, &mut recent),
            Verdict::Payment { .. }
        ));
    }

    #[test]
    fn before_registration_unreadable_and_foreign_deliveries() {
        let mut recent = Recent::default();
        let body = event("mposd-abc", "AUTHORIZED");
        let waiting = receiver().judge(None, Headers::default(), &body, now(), &mut recent);
        assert_eq!(waiting.status(), 503);
        let unreadable = judge(b"{\"hello\":1}", DATE, SECRET, &mut recent);
        assert_eq!(unreadable.status(), 400, "{unreadable:?}");
        let foreign = String::from_utf8(body).unwrap().replace("123456", "654321");
        let foreign = judge(foreign.as_bytes(), DATE, SECRET, &mut recent);
        assert!(matches!(foreign, Verdict::Ignored(_)), "{foreign:?}");
    }

    fn check_in(merchant_qr_id: &str, msn: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "customerToken": "dG9rZW4tb2YtdGhlLWN1c3RvbWVy", "merchantQrId": merchant_qr_id,
            "msn": msn, "initiatedAt": "2026-12-05T09:59:57.123Z"
        }))
        .unwrap()
    }

    #[test]
    fn a_check_in_at_a_lanes_sticker_carries_the_token_once() {
        let mut recent = Recent::default();
        let body = check_in("kasse-1", "123456");
        let verdict = judge(&body, DATE, SECRET, &mut recent);
        assert_eq!(
            verdict,
            Verdict::CheckIn {
                merchant_qr_id: "kasse-1".into(),
                customer_token: Secret::new("dG9rZW4tb2YtdGhlLWN1c3RvbWVy"),
            }
        );
        assert_eq!(verdict.status(), 200);
        assert!(
            !format!("{verdict:?}").contains("dG9rZW4"),
            "the token never reaches a log"
        );
        assert_eq!(judge(&body, DATE, SECRET, &mut recent), Verdict::Duplicate);
        let elsewhere = judge(&check_in("kasse-9", "123456"), DATE, SECRET, &mut recent);
        assert!(matches!(elsewhere, Verdict::Ignored(_)), "{elsewhere:?}");
        let foreign = judge(&check_in("kasse-1", "654321"), DATE, SECRET, &mut recent);
        assert!(matches!(foreign, Verdict::Ignored(_)), "{foreign:?}");
        let forged = judge(
            &check_in("kasse-1", "123456"),
            DATE,
            "not-our-secret",
            &mut recent,
        );
        assert_eq!(forged, Verdict::Refused(Untrusted::Signature));
    }

    #[test]
    fn the_oldest_deliveries_are_forgotten_first() {
        let mut recent = Recent::default();
        for i in 0..REMEMBERED {
            assert!(recent.first_time(&format!("r-{i}"), "CREATED"));
        }
        assert!(!recent.first_time("r-0", "CREATED"));
        assert!(recent.first_time("r-new", "CREATED"));
        assert!(recent.first_time("r-0", "CREATED"), "r-0 was the oldest");
        assert!(!recent.first_time("r-new", "CREATED"));
    }
}
