//! The decisions of a refresh, without I/O: what must be durable before the request is sent,
//! and what an answer means for the stored consent. The driver ([`super::client`]) does the
//! HTTP and the file writes in the order these decisions give.
//!
//! With a `OneTime` client every refresh spends the refresh token it sends. If the answer
//! never arrives (the connection drops, the server fails after committing, the box loses power
//! before the new token is on disk), the new token is gone and the old one may be dead. The
//! box cannot tell which, so it keeps a durable "refresh in flight" marker around the request:
//! found set, it means an answer was lost. The old token is then tried once more, which works
//! if the lost request never reached MobilePay; if MobilePay says `invalid_grant`, the token was
//! used up and only a new consent helps. That is reported as such, and never retried: a retry
//! loop could not bring the token back. A `reUse` client gets the same token back every time,
//! so a lost answer costs nothing and it simply tries again.

use super::store::{Needed, Record, RefreshToken};

/// The refresh-token rotation MobilePay configured for the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rotation {
    /// `OneTime`: every refresh answers a new refresh token and spends the old one.
    OneTime,
    /// `reUse`: the same refresh token is answered every time.
    Reuse,
}

/// What to do before a refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Refresh with the stored token. With `mark`, the in-flight marker must be durable before
    /// the request is sent. `after_lost_answer`: the marker was found set.
    Refresh { mark: bool, after_lost_answer: bool },
    /// Do not send anything: the consent has to be given again.
    ConsentNeeded(Needed),
}

pub fn plan(record: &Record, rotation: Rotation) -> Plan {
    if let Some(needed) = record.needed {
        return Plan::ConsentNeeded(needed);
    }
    Plan::Refresh {
        mark: rotation == Rotation::OneTime && !record.in_flight,
        after_lost_answer: record.in_flight,
    }
}

/// The token endpoint's answer to a refresh, in the terms that matter here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// New tokens; `refresh_token` is absent when the server kept the old one.
    Tokens {
        refresh_token: Option<RefreshToken>,
        scopes: Option<Vec<String>>,
    },
    /// `invalid_grant`: the refresh token is not (or no longer) valid.
    InvalidGrant,
    /// No usable answer: a network failure, a 5xx, a garbled body. The token may or may not
    /// have been spent.
    Lost(String),
    /// A definite refusal that does not concern the token (`invalid_client`, a bad request):
    /// nothing was spent, the configuration needs a look.
    Refused(String),
}

/// What to store after an answer, and what to tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Store the record durably, then use the new access token.
    Refreshed(Record),
    /// Store the record: the consent has to be given again, for the reason in its `needed`
    /// ([`Needed::LostAnswer`] when a lost answer used up a `OneTime` token: an alarm).
    ConsentNeeded(Record),
    /// Keep the file as it is (a set marker stays set) and try again later.
    TryLater(String),
    /// Store the record and report the refusal. This request spent nothing, so the marker it
    /// set is cleared; a marker found set before it stays, since the earlier lost answer is
    /// still unexplained.
    Refused { record: Record, reason: String },
}

pub fn settle(
    record: &Record,
    rotation: Rotation,
    after_lost_answer: bool,
    answer: Answer,
    now: u64,
) -> Settled {
    match answer {
        Answer::Tokens {
            refresh_token,
            scopes,
        } => Settled::Refreshed(Record {
            refresh_token: refresh_token.unwrap_or_else(|| record.refresh_token.clone()),
            refreshed_at: Some(now),
            refreshes: record.refreshes + 1,
            scopes: scopes.unwrap_or_else(|| record.scopes.clone()),
            in_flight: false,
            needed: None,
            ..record.clone()
        }),
        Answer::InvalidGrant => {
            let lost = after_lost_answer && rotation == Rotation::OneTime;
            let needed = if lost { Needed::LostAnswer } else { Needed::Refused };
            Settled::ConsentNeeded(Record {
                in_flight: false,
                needed: Some(needed),
                ..record.clone()
            })
        }
        Answer::Lost(reason) => Settled::TryLater(reason),
        Answer::Refused(reason) => Settled::Refused {
            record: Record {
                in_flight: after_lost_answer,
                ..record.clone()
            },
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Record {
        Record::new(RefreshToken::new("old"), vec!["openid".into()], 100)
    }

    fn tokens(new: Option<&str>) -> Answer {
        Answer::Tokens {
            refresh_token: new.map(RefreshToken::new),
            scopes: None,
        }
    }

    #[test]
    fn a_one_time_refresh_is_marked_first_and_a_reuse_refresh_is_not() {
        assert_eq!(
            plan(&stored(), Rotation::OneTime),
            Plan::Refresh {
                mark: true,
                after_lost_answer: false
            }
        );
        assert_eq!(
            plan(&stored(), Rotation::Reuse),
            Plan::Refresh {
                mark: false,
                after_lost_answer: false
            }
        );
        let marked = Record {
            in_flight: true,
            ..stored()
        };
        assert_eq!(
            plan(&marked, Rotation::OneTime),
            Plan::Refresh {
                mark: false,
                after_lost_answer: true
            }
        );
    }

    #[test]
    fn a_consent_needed_sends_nothing() {
        let needed = Record {
            needed: Some(Needed::LostAnswer),
            ..stored()
        };
        assert_eq!(
            plan(&needed, Rotation::OneTime),
            Plan::ConsentNeeded(Needed::LostAnswer)
        );
        assert_eq!(
            plan(&needed, Rotation::Reuse),
            Plan::ConsentNeeded(Needed::LostAnswer)
        );
    }

    #[test]
    fn new_tokens_replace_the_old_one_and_clear_the_marker() {
        let marked = Record {
            in_flight: true,
            ..stored()
        };
        let Settled::Refreshed(rec) = settle(&marked, Rotation::OneTime, true, tokens(Some("new")), 200)
        else {
            panic!("refreshed");
        };
        assert_eq!(rec.refresh_token, RefreshToken::new("new"));
        assert!(!rec.in_flight);
        assert_eq!(
            (rec.refreshed_at, rec.refreshes, rec.obtained_at),
            (Some(200), 1, 100)
        );
        let Settled::Refreshed(rec) = settle(&stored(), Rotation::Reuse, false, tokens(None), 200) else {
            panic!("refreshed");
        };
        assert_eq!(rec.refresh_token, RefreshToken::new("old"));
    }

    #[test]
    fn invalid_grant_after_a_lost_one_time_answer_is_the_alarm() {
        let marked = Record {
            in_flight: true,
            ..stored()
        };
        let settled = settle(&marked, Rotation::OneTime, true, Answer::InvalidGrant, 200);
        let Settled::ConsentNeeded(record) = settled else {
            panic!("consent needed");
        };
        assert_eq!(record.needed, Some(Needed::LostAnswer));
        assert!(!record.in_flight);
        // Never retried: the next plan sends nothing.
        assert_eq!(
            plan(&record, Rotation::OneTime),
            Plan::ConsentNeeded(Needed::LostAnswer)
        );
    }

    #[test]
    fn invalid_grant_without_a_lost_answer_means_revoked_or_expired() {
        for (rotation, after_lost) in [
            (Rotation::OneTime, false),
            (Rotation::Reuse, false),
            (Rotation::Reuse, true),
        ] {
            let Settled::ConsentNeeded(record) =
                settle(&stored(), rotation, after_lost, Answer::InvalidGrant, 200)
            else {
                panic!("consent needed");
            };
            assert_eq!(record.needed, Some(Needed::Refused));
        }
    }

    #[test]
    fn a_lost_answer_keeps_the_file_and_a_refusal_clears_only_its_own_marker() {
        assert_eq!(
            settle(
                &stored(),
                Rotation::OneTime,
                false,
                Answer::Lost("timeout".into()),
                200
            ),
            Settled::TryLater("timeout".into())
        );
        let marked = Record {
            in_flight: true,
            ..stored()
        };
        let Settled::Refused { record, reason } = settle(
            &marked,
            Rotation::OneTime,
            false,
            Answer::Refused("invalid_client".into()),
            200,
        ) else {
            panic!("refused");
        };
        assert!(!record.in_flight);
        assert_eq!(record.needed, None);
        assert_eq!(reason, "invalid_client");
        // After a lost answer the marker stays: the next invalid_grant still means "used up".
        let Settled::Refused { record, .. } = settle(
            &marked,
            Rotation::OneTime,
            true,
            Answer::Refused("invalid_client".into()),
            200,
        ) else {
            panic!("refused");
        };
        assert!(record.in_flight);
    }
}
