//! Follows a lane's engine events and decides which screen the customer sees.
//!
//! [`ScreenFollower`] is a plain state machine (event in, screen out) so every mapping is
//! tested without timers; [`follow`] drives it from the engine's broadcast channel and
//! returns to the idle screen a few seconds after a result.
//!
//! Only the payment the customer is dealing with moves the screen: events of other commands
//! (a late capture of an old reservation, a query, a rejected command) are ignored, so a
//! cashier's back-office work never flashes over the current customer's payment.

use super::renderer::DisplayHandle;
use super::screen::{Reason, Screen, StaffHint};
use crate::engine::backend::CustomerPrompt;
use crate::engine::{CommandId, DeclineReason, EventKind, LaneEvent, Outcome, RefundCancelReason};
use crate::money::{Currency, Minor};
use std::time::Duration;
use tokio::sync::broadcast;

/// How the display follows the engine; from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowSettings {
    /// Shown between payments: `Screen::Idle` (with the point of sale's QR content to invite
    /// early check-in, or without) or `Screen::Closed`.
    pub idle: Screen,
    /// The lane's currency, for events that carry only an amount (refunds).
    pub currency: Currency,
    /// How long a result (approved, declined...) stays before the idle screen returns.
    pub result_hold: Duration,
}

/// What to show after an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    pub screen: Screen,
    /// A result: return to the idle screen after [`FollowSettings::result_hold`].
    pub hold: bool,
}

#[derive(Clone, Debug)]
struct Active {
    command: Option<CommandId>,
    amount: Option<(Minor, Currency)>,
    /// The screen the payment was on, to return to when MobilePay is reachable again.
    screen: Screen,
}

pub struct ScreenFollower {
    settings: FollowSettings,
    /// The idle screen shows the point of sale's QR code, so it follows a changed prompt.
    idle_shows_qr: bool,
    active: Option<Active>,
    offline: bool,
    /// The customer was told MobilePay is unavailable for this command's outcome.
    unknown: Option<Option<CommandId>>,
}

fn decline_screen(reason: DeclineReason) -> Screen {
    match reason {
        DeclineReason::CancelledByUser => Screen::Declined {
            reason: Reason::RejectedByCustomer,
        },
        DeclineReason::ExpiredAndCancelled => Screen::Declined {
            reason: Reason::TimedOut,
        },
        DeclineReason::CancelledByMobilePay | DeclineReason::PointOfSaleBusy => Screen::Declined {
            reason: Reason::Other,
        },
        DeclineReason::CancelledByCashier => Screen::Cancelled {
            reason: Reason::CancelledByStaff,
        },
        DeclineReason::CancelledElsewhere | DeclineReason::Abandoned => Screen::Cancelled {
            reason: Reason::Other,
        },
    }
}

/// The screen that asks the customer to start paying, drawn from what the engine says they
/// are shown. Only QR content is drawn here; a QR image the backend draws, a request pushed
/// to the phone, or nothing to show get the screen without a code that fits best: "approve in
/// the app" with the amount, or the welcome screen while a prepared payment has no amount.
fn waiting_screen(prompt: Option<&CustomerPrompt>, amount: Option<(Minor, Currency)>) -> Screen {
    let qr = match prompt {
        Some(CustomerPrompt::Qr { content, .. }) => Some(content.clone()),
        Some(CustomerPrompt::QrImage { .. } | CustomerPrompt::PushSent) | None => None,
    };
    match (qr, amount) {
        (Some(qr), Some((amount, currency))) => Screen::ScanToPay { amount, currency, qr },
        // A prepared payment: invite the scan before the total is known.
        (Some(qr), None) => Screen::Idle { qr: Some(qr) },
        (None, Some(amount)) => Screen::CheckedIn { amount: Some(amount) },
        (None, None) => Screen::Idle { qr: None },
    }
}

fn refund_cancel_screen(reason: RefundCancelReason) -> Screen {
    match reason {
        RefundCancelReason::CancelledByCashier => Screen::Cancelled {
            reason: Reason::CancelledByStaff,
        },
        RefundCancelReason::CancelledByMobilePay => Screen::Declined {
            reason: Reason::RefusedByMobilePay,
        },
        RefundCancelReason::CancelledElsewhere | RefundCancelReason::Abandoned => Screen::Cancelled {
            reason: Reason::Other,
        },
    }
}

impl ScreenFollower {
    pub fn new(settings: FollowSettings) -> ScreenFollower {
        ScreenFollower {
            idle_shows_qr: matches!(settings.idle, Screen::Idle { qr: Some(_) }),
            settings,
            active: None,
            offline: false,
            unknown: None,
        }
    }

    pub fn idle(&self) -> Screen {
        self.settings.idle.clone()
    }

    fn amount_or_lane_currency(&self, amount: Minor) -> (Minor, Currency) {
        let currency = self
            .active
            .as_ref()
            .and_then(|a| a.amount.map(|(_, c)| c))
            .unwrap_or(self.settings.currency);
        (amount, currency)
    }

    fn is_active(&self, command: &Option<CommandId>) -> bool {
        self.active.as_ref().is_some_and(|a| a.command == *command)
    }

    fn result(&mut self, screen: Screen) -> Option<Update> {
        self.active = None;
        Some(Update { screen, hold: true })
    }

    fn progress(&mut self, screen: Screen) -> Option<Update> {
        if let Some(active) = &mut self.active {
            active.screen = screen.clone();
        }
        Some(Update { screen, hold: false })
    }

    fn outcome_screen(&self, outcome: &Outcome) -> Option<Screen> {
        Some(match outcome {
            Outcome::Captured { amount, currency, .. }
            | Outcome::CapturePending { amount, currency, .. }
            | Outcome::Reserved { amount, currency, .. } => Screen::Approved {
                amount: *amount,
                currency: *currency,
            },
            Outcome::Declined { reason, .. } => decline_screen(*reason),
            Outcome::Cancelled { .. } => Screen::Cancelled {
                reason: Reason::CancelledByStaff,
            },
            Outcome::Refunded { amount, currency, .. } => Screen::Refund {
                amount: *amount,
                currency: *currency,
                done: true,
            },
            Outcome::RefundCancelled { reason, .. } => refund_cancel_screen(*reason),
            Outcome::NeedsHuman { .. } => Screen::Offline {
                hint: StaffHint::NeedsAttention,
            },
            Outcome::Unknown { .. } => Screen::Offline {
                hint: StaffHint::MobilePayUnavailable,
            },
            Outcome::Paired { .. } | Outcome::PartialCaptureRefused { .. } | Outcome::Rejected { .. } => {
                return None
            }
        })
    }

    /// The screen to show after `event`, or `None` to leave the display as it is.
    pub fn on_event(&mut self, event: &LaneEvent) -> Option<Update> {
        let command = &event.command_id;
        match &event.kind {
            EventKind::WaitingForCustomer {
                prompt,
                amount,
                currency,
                ..
            } => {
                let amount = amount.map(|a| (a, currency.unwrap_or(self.settings.currency)));
                let screen = waiting_screen(prompt.as_ref(), amount);
                self.active = Some(Active {
                    command: command.clone(),
                    amount,
                    screen: screen.clone(),
                });
                self.offline = false;
                Some(Update { screen, hold: false })
            }
            EventKind::RefundInProgress { amount, .. }
                if self.active.is_none() || self.is_active(command) =>
            {
                let (amount, currency) = self.amount_or_lane_currency(*amount);
                let screen = Screen::Refund {
                    amount,
                    currency,
                    done: false,
                };
                self.active = Some(Active {
                    command: command.clone(),
                    amount: Some((amount, currency)),
                    screen: screen.clone(),
                });
                Some(Update { screen, hold: false })
            }
            EventKind::PromptChanged { prompt } if self.idle_shows_qr => {
                let qr = match prompt {
                    CustomerPrompt::Qr { content, .. } => Some(content.clone()),
                    CustomerPrompt::QrImage { .. } | CustomerPrompt::PushSent => None,
                };
                self.settings.idle = Screen::Idle { qr };
                let quiet = self.active.is_none() && !self.offline;
                quiet.then(|| Update {
                    screen: self.idle(),
                    hold: false,
                })
            }
            EventKind::BackendOffline => {
                self.offline = true;
                Some(Update {
                    screen: Screen::Offline {
                        hint: StaffHint::CheckNetwork,
                    },
                    hold: false,
                })
            }
            EventKind::BackendOnline => {
                self.offline = false;
                let screen = self
                    .active
                    .as_ref()
                    .map(|a| a.screen.clone())
                    .unwrap_or_else(|| self.idle());
                Some(Update { screen, hold: false })
            }
            EventKind::Resolved { outcome } if self.unknown.as_ref() == Some(command) => {
                self.unknown = None;
                let screen = self.outcome_screen(outcome)?;
                self.result(screen)
            }
            EventKind::NeedsHuman { .. } if command.is_none() => Some(Update {
                screen: Screen::Offline {
                    hint: StaffHint::NeedsAttention,
                },
                hold: true,
            }),
            EventKind::Cancelled { .. } if self.active.is_none() => Some(Update {
                screen: Screen::Cancelled {
                    reason: Reason::CancelledByStaff,
                },
                hold: true,
            }),
            _ if !self.is_active(command) => None,
            EventKind::CustomerCheckedIn { .. } => {
                let amount = self.active.as_ref().and_then(|a| a.amount);
                self.progress(Screen::CheckedIn { amount })
            }
            EventKind::Reserved { amount, .. } | EventKind::Captured { amount, .. } => {
                let (amount, currency) = self.amount_or_lane_currency(*amount);
                self.progress(Screen::Approved { amount, currency })
            }
            EventKind::Declined { reason, .. } => self.progress(decline_screen(*reason)),
            EventKind::Refunded { amount, .. } => {
                let (amount, currency) = self.amount_or_lane_currency(*amount);
                self.progress(Screen::Refund {
                    amount,
                    currency,
                    done: true,
                })
            }
            EventKind::OutcomeUnknown { .. } => self.progress(Screen::Offline {
                hint: StaffHint::MobilePayUnavailable,
            }),
            EventKind::Finished { outcome } => {
                if let Outcome::Unknown { .. } = outcome {
                    self.unknown = Some(command.clone());
                }
                match self.outcome_screen(outcome) {
                    Some(screen) if matches!(outcome, Outcome::Unknown { .. }) => {
                        self.active = None;
                        Some(Update { screen, hold: false })
                    }
                    Some(screen) => self.result(screen),
                    // A prepared payment is paired: the customer waits for the total.
                    None if matches!(outcome, Outcome::Paired { .. }) => {
                        self.progress(Screen::CheckedIn { amount: None })
                    }
                    None => None,
                }
            }
            _ => None,
        }
    }
}

/// Drives the display from the lane's events until the engine's channel closes. A lagging
/// receiver skips to the newest events (the display only needs the present).
pub async fn follow(
    mut events: broadcast::Receiver<LaneEvent>,
    display: DisplayHandle,
    mut follower: ScreenFollower,
) {
    let hold = follower.settings.result_hold;
    let mut back_to_idle: Option<tokio::time::Instant> = None;
    loop {
        let event = match back_to_idle {
            Some(deadline) => tokio::select! {
                event = events.recv() => event,
                _ = tokio::time::sleep_until(deadline) => {
                    back_to_idle = None;
                    display.show(follower.idle());
                    continue;
                }
            },
            None => events.recv().await,
        };
        let event = match event {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "display skipped lane events");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if let Some(update) = follower.on_event(&event) {
            back_to_idle = update.hold.then(|| tokio::time::Instant::now() + hold);
            display.show(update.screen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CustomerInfo;

    fn settings() -> FollowSettings {
        FollowSettings {
            idle: Screen::Idle { qr: None },
            currency: Currency::DKK,
            result_hold: Duration::from_secs(5),
        }
    }

    fn ev(command: Option<&str>, kind: EventKind) -> LaneEvent {
        LaneEvent {
            point_of_sale: "pos-1".into(),
            command_id: command.map(|c| CommandId::new(c).unwrap()),
            at_ms: 0,
            kind,
            submitters: Vec::new(),
        }
    }

    const QR: &str = "mobilepaypos://pos?id=123456789012345&source=qr";

    fn waiting_with(prompt: Option<CustomerPrompt>, amount: Option<i64>) -> EventKind {
        EventKind::WaitingForCustomer {
            payment_id: "p1".into(),
            prompt,
            amount: amount.map(Minor),
            currency: amount.map(|_| Currency::EUR),
        }
    }

    fn waiting(amount: Option<i64>) -> EventKind {
        let prompt = CustomerPrompt::Qr {
            content: QR.into(),
            sticker_id: Some("123456789012345".into()),
        };
        waiting_with(Some(prompt), amount)
    }

    fn screen(u: Option<Update>) -> Option<Screen> {
        u.map(|u| u.screen)
    }

    #[test]
    fn a_sale_walks_through_scan_checked_in_and_approved() {
        let mut f = ScreenFollower::new(settings());
        assert_eq!(
            screen(f.on_event(&ev(Some("s1"), waiting(Some(4995))))),
            Some(Screen::ScanToPay {
                amount: Minor(4995),
                currency: Currency::EUR,
                qr: QR.into()
            })
        );
        let checked_in = EventKind::CustomerCheckedIn {
            payment_id: "p1".into(),
            customer: CustomerInfo::default(),
        };
        assert_eq!(
            screen(f.on_event(&ev(Some("s1"), checked_in))),
            Some(Screen::CheckedIn {
                amount: Some((Minor(4995), Currency::EUR))
            })
        );
        let captured = EventKind::Captured {
            payment_id: "p1".into(),
            amount: Minor(4995),
        };
        let approved = Screen::Approved {
            amount: Minor(4995),
            currency: Currency::EUR,
        };
        assert_eq!(
            screen(f.on_event(&ev(Some("s1"), captured))),
            Some(approved.clone())
        );
        let finished = f.on_event(&ev(
            Some("s1"),
            EventKind::Finished {
                outcome: Outcome::Captured {
                    payment_id: "p1".into(),
                    amount: Minor(4995),
                    currency: Currency::EUR,
                },
            },
        ));
        assert_eq!(
            finished,
            Some(Update {
                screen: approved,
                hold: true
            })
        );
    }

    #[test]
    fn an_idle_qr_code_follows_a_changed_point_of_sale_but_never_interrupts_a_sale() {
        let moved = |content: &str| EventKind::PromptChanged {
            prompt: CustomerPrompt::Qr {
                content: content.into(),
                sticker_id: None,
            },
        };
        // No QR code between payments: nothing to follow.
        let mut plain = ScreenFollower::new(settings());
        assert_eq!(plain.on_event(&ev(None, moved("new"))), None);
        let mut f = ScreenFollower::new(FollowSettings {
            idle: Screen::Idle { qr: Some(QR.into()) },
            ..settings()
        });
        let new_idle = Screen::Idle {
            qr: Some("new".into()),
        };
        assert_eq!(
            screen(f.on_event(&ev(None, moved("new")))),
            Some(new_idle.clone())
        );
        // During a sale the screen stays; the next idle screen has the new code.
        f.on_event(&ev(Some("s1"), waiting(Some(100))));
        assert_eq!(f.on_event(&ev(None, moved("newer"))), None);
        assert_eq!(
            f.idle(),
            Screen::Idle {
                qr: Some("newer".into())
            }
        );
        // A prompt without a QR code leaves the idle screen without one.
        let pushed = EventKind::PromptChanged {
            prompt: CustomerPrompt::PushSent,
        };
        f.on_event(&ev(None, pushed));
        assert_eq!(f.idle(), Screen::Idle { qr: None });
    }

    #[test]
    fn declines_carry_a_customer_reason() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("s1"), waiting(Some(100))));
        let declined = EventKind::Declined {
            payment_id: Some("p1".into()),
            reason: DeclineReason::CancelledByUser,
        };
        assert_eq!(
            screen(f.on_event(&ev(Some("s1"), declined))),
            Some(Screen::Declined {
                reason: Reason::RejectedByCustomer
            })
        );
        assert_eq!(
            decline_screen(DeclineReason::CancelledByCashier),
            Screen::Cancelled {
                reason: Reason::CancelledByStaff
            }
        );
        assert_eq!(
            decline_screen(DeclineReason::ExpiredAndCancelled),
            Screen::Declined {
                reason: Reason::TimedOut
            }
        );
    }

    #[test]
    fn other_commands_do_not_disturb_the_current_customer() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("s2"), waiting(Some(100))));
        let late_capture = EventKind::Captured {
            payment_id: "old".into(),
            amount: Minor(999),
        };
        assert_eq!(f.on_event(&ev(Some("capture-old"), late_capture)), None);
        let rejected = EventKind::Finished {
            outcome: Outcome::Rejected {
                code: crate::engine::RejectCode::LaneBusy,
                message: "busy".into(),
            },
        };
        assert_eq!(f.on_event(&ev(Some("s3"), rejected)), None);
    }

    #[test]
    fn offline_and_back_returns_to_the_payment_in_progress() {
        let mut f = ScreenFollower::new(settings());
        let scan = screen(f.on_event(&ev(Some("s1"), waiting(Some(100)))));
        assert_eq!(
            screen(f.on_event(&ev(None, EventKind::BackendOffline))),
            Some(Screen::Offline {
                hint: StaffHint::CheckNetwork
            })
        );
        assert_eq!(screen(f.on_event(&ev(None, EventKind::BackendOnline))), scan);
    }

    #[test]
    fn an_unknown_outcome_is_replaced_when_resolved() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("s1"), waiting(Some(100))));
        let unknown = f.on_event(&ev(
            Some("s1"),
            EventKind::Finished {
                outcome: Outcome::Unknown { payment_id: None },
            },
        ));
        assert_eq!(
            unknown,
            Some(Update {
                screen: Screen::Offline {
                    hint: StaffHint::MobilePayUnavailable
                },
                hold: false
            })
        );
        let resolved = EventKind::Resolved {
            outcome: Outcome::Declined {
                payment_id: None,
                reason: DeclineReason::Abandoned,
            },
        };
        assert_eq!(
            f.on_event(&ev(Some("s1"), resolved)),
            Some(Update {
                screen: Screen::Cancelled {
                    reason: Reason::Other
                },
                hold: true
            })
        );
    }

    #[test]
    fn prepared_payments_invite_a_scan_then_wait_for_the_total() {
        let mut f = ScreenFollower::new(settings());
        assert_eq!(
            screen(f.on_event(&ev(Some("prep"), waiting(None)))),
            Some(Screen::Idle { qr: Some(QR.into()) })
        );
        let paired = EventKind::Finished {
            outcome: Outcome::Paired {
                payment_id: "p1".into(),
                customer: CustomerInfo::default(),
            },
        };
        assert_eq!(
            screen(f.on_event(&ev(Some("prep"), paired))),
            Some(Screen::CheckedIn { amount: None })
        );
    }

    #[test]
    fn prompts_without_qr_content_show_no_code() {
        let image = CustomerPrompt::QrImage {
            url: "https://qr.example/p1.png".into(),
        };
        for prompt in [Some(image), Some(CustomerPrompt::PushSent), None] {
            let mut f = ScreenFollower::new(settings());
            assert_eq!(
                screen(f.on_event(&ev(Some("s1"), waiting_with(prompt.clone(), Some(4995))))),
                Some(Screen::CheckedIn {
                    amount: Some((Minor(4995), Currency::EUR))
                }),
                "{prompt:?}"
            );
            assert_eq!(
                screen(f.on_event(&ev(Some("prep"), waiting_with(prompt.clone(), None)))),
                Some(Screen::Idle { qr: None }),
                "{prompt:?}"
            );
        }
    }

    #[test]
    fn refunds_use_the_lane_currency() {
        let mut f = ScreenFollower::new(settings());
        let progress = EventKind::RefundInProgress {
            refund_id: None,
            amount: Minor(500),
        };
        assert_eq!(
            screen(f.on_event(&ev(Some("r1"), progress))),
            Some(Screen::Refund {
                amount: Minor(500),
                currency: Currency::DKK,
                done: false
            })
        );
        let done = EventKind::Refunded {
            refund_id: "r".into(),
            amount: Minor(500),
        };
        assert_eq!(
            screen(f.on_event(&ev(Some("r1"), done))),
            Some(Screen::Refund {
                amount: Minor(500),
                currency: Currency::DKK,
                done: true
            })
        );
    }
}
