//! Correlation of the calls that make up one business flow.
//!
//! A payment is a dozen HTTP calls (initiate, polls, capture...). MobilePay support asks for a
//! `CorrelationId` per flow, and our own logs need the same id to tell two payments apart, so
//! every client call takes the [`Correlation`] it belongs to: its id goes into the `CorrelationId`
//! header and into the tracing span of each call.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A GUID naming one business flow; persist it with the flow to keep it across a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CorrelationId(Uuid);

impl CorrelationId {
    pub fn new() -> CorrelationId {
        CorrelationId(Uuid::new_v4())
    }

    pub fn parse(text: &str) -> Option<CorrelationId> {
        Uuid::try_parse(text).ok().map(CorrelationId)
    }
}

impl Default for CorrelationId {
    fn default() -> Self {
        CorrelationId::new()
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// One business flow: what it is (`"payment"`, `"refund"`, `"onboarding"`...) and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correlation {
    kind: &'static str,
    id: CorrelationId,
}

impl Correlation {
    pub fn new(kind: &'static str) -> Correlation {
        Correlation {
            kind,
            id: CorrelationId::new(),
        }
    }

    /// Continues a flow whose id was persisted (e.g. recovery after a restart).
    pub fn resume(kind: &'static str, id: CorrelationId) -> Correlation {
        Correlation { kind, id }
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn id(&self) -> CorrelationId {
        self.id
    }

    /// A span carrying the flow's kind and correlation id, for work done on its behalf.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!("flow", flow = self.kind, correlation_id = %self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_guids_that_round_trip() {
        let a = Correlation::new("payment");
        let b = Correlation::new("payment");
        assert_ne!(a.id(), b.id());
        let text = a.id().to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(CorrelationId::parse(&text), Some(a.id()));
        assert_eq!(Correlation::resume("payment", a.id()), a);
        assert_eq!(CorrelationId::parse("nope"), None);
    }
}
