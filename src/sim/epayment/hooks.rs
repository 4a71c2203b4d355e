//! The registrations of the Webhooks API: which URLs of a sales unit want which event types,
//! with the documented limits. Pure bookkeeping; [`delivery`](super::delivery) sends.

use super::problem::EpError;
use crate::backends::epayment::qr::USER_CHECKED_IN;
use crate::backends::epayment::webhooks::{Registration, PAYMENT_EVENT_TYPES};
use axum::http::StatusCode;
use base64::{engine::general_purpose::STANDARD, Engine};
use rand::RngCore;

/// At most this many registrations of one sales unit may subscribe to one event type...
pub const MAX_PER_EVENT_TYPE: usize = 25;

/// ...except check-ins, which go to one registration only.
fn limit(event_type: &str) -> usize {
    if event_type == USER_CHECKED_IN {
        1
    } else {
        MAX_PER_EVENT_TYPE
    }
}

/// One registration with what only the simulator knows: its sales unit and secret.
#[derive(Clone, Debug)]
pub struct Hook {
    pub msn: String,
    pub registration: Registration,
    pub url: reqwest::Url,
    pub secret: String,
}

#[derive(Default)]
pub struct Registry {
    hooks: Vec<Hook>,
}

impl Registry {
    /// Validates and adds a registration for `msn`.
    pub fn register(&mut self, msn: &str, url: &str, events: &[String]) -> Result<Hook, EpError> {
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| EpError::field("url", "url must be an absolute http(s) URL"))?;
        if events.is_empty() {
            return Err(EpError::field(
                "events",
                "events must name at least one event type",
            ));
        }
        for (i, event) in events.iter().enumerate() {
            if !PAYMENT_EVENT_TYPES.contains(&event.as_str()) && event != USER_CHECKED_IN {
                return Err(EpError::field("events", format!("unknown event type {event:?}")));
            }
            if events[..i].contains(event) {
                return Err(EpError::field(
                    "events",
                    format!("event type {event:?} is listed twice"),
                ));
            }
            let most = limit(event);
            if self.matching(msn, event).count() >= most {
                return Err(EpError::field(
                    "events",
                    format!("at most {most} webhooks per event type: {event:?} has them"),
                ));
            }
        }
        let mut key = [0u8; 64];
        rand::thread_rng().fill_bytes(&mut key);
        let hook = Hook {
            msn: msn.to_string(),
            registration: Registration {
                id: uuid::Uuid::new_v4().to_string(),
                url: url.to_string(),
                events: events.to_vec(),
            },
            url: parsed,
            secret: STANDARD.encode(key),
        };
        self.hooks.push(hook.clone());
        Ok(hook)
    }

    /// The registrations of `msn`, oldest first.
    pub fn list(&self, msn: &str) -> Vec<Registration> {
        self.hooks
            .iter()
            .filter(|h| h.msn == msn)
            .map(|h| h.registration.clone())
            .collect()
    }

    /// Removes a registration of `msn`; another sales unit's id is as unknown as a wrong one.
    pub fn delete(&mut self, msn: &str, id: &str) -> Result<(), EpError> {
        let before = self.hooks.len();
        self.hooks.retain(|h| !(h.msn == msn && h.registration.id == id));
        if self.hooks.len() == before {
            return Err(EpError::plain(
                StatusCode::NOT_FOUND,
                format!("No webhook with id {id}"),
            ));
        }
        Ok(())
    }

    /// The registrations of `msn` that want `event_type`.
    pub fn matching<'a>(&'a self, msn: &'a str, event_type: &'a str) -> impl Iterator<Item = &'a Hook> + 'a {
        self.hooks
            .iter()
            .filter(move |h| h.msn == msn && h.registration.events.iter().any(|e| e == event_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(list: &[&str]) -> Vec<String> {
        list.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn twenty_five_per_event_type_and_sales_unit() {
        let mut registry = Registry::default();
        let created = events(&["epayments.payment.created.v1"]);
        for i in 0..MAX_PER_EVENT_TYPE {
            registry
                .register("123456", &format!("https://shop.example/{i}"), &created)
                .expect("within the limit");
        }
        let refused = registry.register("123456", "https://shop.example/x", &created);
        assert_eq!(refused.unwrap_err().status, StatusCode::BAD_REQUEST);
        registry
            .register("654321", "https://shop.example/x", &created)
            .expect("another sales unit has its own limit");
        registry
            .register(
                "123456",
                "https://shop.example/x",
                &events(&["epayments.payment.captured.v1"]),
            )
            .expect("another event type has its own limit");
    }

    #[test]
    fn one_check_in_registration_per_sales_unit() {
        let mut registry = Registry::default();
        let checked_in = events(&[USER_CHECKED_IN]);
        registry
            .register("123456", "https://shop.example/a", &checked_in)
            .unwrap();
        assert!(registry
            .register("123456", "https://shop.example/b", &checked_in)
            .is_err());
        registry
            .register("654321", "https://shop.example/b", &checked_in)
            .unwrap();
    }

    #[test]
    fn secrets_are_unique_and_ids_are_per_sales_unit() {
        let mut registry = Registry::default();
        let all = events(&PAYMENT_EVENT_TYPES);
        let a = registry
            .register("123456", "http://127.0.0.1:9/hook", &all)
            .unwrap();
        let b = registry
            .register("123456", "http://127.0.0.1:9/hook", &all)
            .unwrap();
        assert_ne!(a.secret, b.secret);
        assert_eq!(STANDARD.decode(&a.secret).unwrap().len(), 64);
        assert!(registry.delete("654321", &a.registration.id).is_err());
        registry.delete("123456", &a.registration.id).unwrap();
        assert_eq!(registry.list("123456"), vec![b.registration]);
    }
}
