//! Follows a lane's engine events and decides which screen the customer sees.
//!
//! [`ScreenFollower`] is a plain state machine (event in, screen out) so every mapping is
//! tested without timers; [`follow`] drives it from the engine's broadcast channel and
//! returns to the idle screen a few seconds after a result.
//!
//! Only the payment the customer is dealing with moves the screen: events of other commands
//! (a late capture of an old reservation, a query, a rejected command) are ignored, so a
//! cashier's back-office work never flashes over the current customer's payment.
//!
//! An invoice is shown like a sale while the customer is at the counter: its link as a QR code
//! (never for an invoice pushed to a phone), then how it stands when the cash register is
//! answered. An invoice answered early (scheduled, or outstanding: the customer left with the
//! goods) ends much later, while other customers pay; that late end is the cash register's
//! news, never the display's.
//!
//! A sign-up to a membership or subscription is shown the same way: the agreement's link as a
//! QR code with the plan, its price, the first payment and the time to accept by, then the
//! welcome or why it did not come about. Sign-ups do not hold the lane either: a sale that
//! starts meanwhile takes the screen, and the sign-up's late end stays off it.
//!
//! A QR code the payment backend drew as an image is fetched by the driver, never by the
//! follower: an update asks for it ([`QrImageFetch`]) and the symbol read from it comes back
//! through [`ScreenFollower::on_qr_image`], which drops it when the payment has moved on.

use super::qr::QrSymbol;
use super::qr_fetch::{self, QrFetcher};
use super::renderer::DisplayHandle;
use super::screen::{BackendCode, Reason, Screen, StaffHint};
use crate::engine::backend::CustomerPrompt;
use crate::engine::{
    AgreementEndReason, CommandId, DeclineReason, EventKind, InvoiceEndReason, LaneEvent, Outcome,
    RefundCancelReason,
};
use crate::money::{Currency, Minor};
use chrono::{NaiveTime, TimeZone, Timelike};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

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
    /// The backend's QR image to fetch for this screen.
    pub fetch: Option<QrImageFetch>,
}

impl Update {
    fn show(screen: Screen) -> Update {
        Update {
            screen,
            hold: false,
            fetch: None,
        }
    }

    fn result(screen: Screen) -> Update {
        Update {
            screen,
            hold: true,
            fetch: None,
        }
    }
}

/// A QR image for the driver to fetch; what it finds is handed back with `ticket` to
/// [`ScreenFollower::on_qr_image`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrImageFetch {
    pub ticket: u64,
    /// The image's address; its query is a credential of the payment, never to be logged.
    pub url: String,
}

#[derive(Clone, Debug)]
struct Active {
    command: Option<CommandId>,
    amount: Option<(Minor, Currency)>,
    /// The screen the payment was on, to return to when MobilePay is reachable again.
    screen: Screen,
    /// The ticket of the QR image this screen still waits for.
    fetching: Option<u64>,
    /// The plan a sign-up joins, for the welcome once it is done.
    plan: Option<String>,
}

pub struct ScreenFollower {
    settings: FollowSettings,
    /// The idle screen shows the point of sale's QR code, so it follows a changed prompt.
    idle_shows_qr: bool,
    active: Option<Active>,
    offline: bool,
    /// The customer was told MobilePay is unavailable for this command's outcome.
    unknown: Option<Option<CommandId>>,
    /// The last QR image ticket handed out.
    tickets: u64,
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
/// are shown. QR content is drawn at once; a QR image the backend drew is shown with the
/// amount once fetched. A request pushed to the phone, nothing to show, or a QR image without
/// an amount get the screen without a code that fits best: "approve in the app" with the
/// amount, or the welcome screen while a prepared payment has no amount.
fn waiting_screen(prompt: Option<&CustomerPrompt>, amount: Option<(Minor, Currency)>) -> Screen {
    if let (Some(CustomerPrompt::QrImage { .. }), Some((amount, currency))) = (prompt, amount) {
        return Screen::ScanBackendCode {
            amount,
            currency,
            code: BackendCode::Loading,
        };
    }
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

/// The screen of an invoice just issued: its link as a QR code, or "approve it in the app" for
/// one pushed to a phone (which may have a link too: a code on the display would invite
/// someone else to pay it). An invoice to scan that came without a link cannot be shown: the
/// customer is asked to turn to the cashier.
fn invoice_screen(
    link: Option<&str>,
    phone: Option<&str>,
    amount: Minor,
    currency: Currency,
    due_date: chrono::NaiveDate,
) -> Screen {
    match (phone, link) {
        (Some(phone), _) => Screen::InvoicePushed {
            amount,
            currency,
            phone: phone.to_string(),
        },
        (None, Some(link)) => Screen::InvoiceLink {
            amount,
            currency,
            due_date,
            link: link.to_string(),
        },
        (None, None) => Screen::ScanBackendCode {
            amount,
            currency,
            code: BackendCode::Unavailable,
        },
    }
}

fn invoice_end_screen(reason: InvoiceEndReason) -> Screen {
    match reason {
        InvoiceEndReason::RejectedByCustomer => Screen::Declined {
            reason: Reason::RejectedByCustomer,
        },
        InvoiceEndReason::Expired => Screen::Declined {
            reason: Reason::InvoiceExpired,
        },
        InvoiceEndReason::CancelledByCashier => Screen::Cancelled {
            reason: Reason::CancelledByStaff,
        },
        InvoiceEndReason::CancelledElsewhere | InvoiceEndReason::Abandoned => Screen::Cancelled {
            reason: Reason::Other,
        },
    }
}

fn agreement_end_screen(reason: AgreementEndReason) -> Screen {
    let reason = match reason {
        AgreementEndReason::RejectedByCustomer => Reason::RejectedByCustomer,
        AgreementEndReason::Expired => Reason::TimedOut,
        AgreementEndReason::CancelledByCashier => Reason::CancelledByStaff,
        AgreementEndReason::FirstPaymentFailed => Reason::FirstPaymentFailed,
        AgreementEndReason::CancelledElsewhere | AgreementEndReason::Abandoned => Reason::AskTheCashier,
    };
    Screen::SignUpEnded { reason }
}

/// The time of day in `zone` by which an agreement expiring at `at_ms` must be accepted, to
/// the minute and rounded down: a customer told 14.35 has until then at least. Shown once,
/// instead of a countdown that would need a redraw every second.
fn accept_by<Tz: TimeZone>(at_ms: u64, zone: &Tz) -> Option<NaiveTime> {
    let at = zone.timestamp_millis_opt(i64::try_from(at_ms).ok()?).single()?;
    at.time().with_second(0)?.with_nanosecond(0)
}

impl ScreenFollower {
    pub fn new(settings: FollowSettings) -> ScreenFollower {
        ScreenFollower {
            idle_shows_qr: matches!(settings.idle, Screen::Idle { qr: Some(_) }),
            settings,
            active: None,
            offline: false,
            unknown: None,
            tickets: 0,
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
        Some(Update::result(screen))
    }

    fn progress(&mut self, screen: Screen) -> Option<Update> {
        if let Some(active) = &mut self.active {
            active.screen = screen.clone();
            active.fetching = None;
        }
        Some(Update::show(screen))
    }

    /// The symbol read from the QR image of `ticket`, or `None` when it could not be fetched
    /// or read. Shown only while the payment still waits for it: an image arriving after the
    /// customer checked in, the payment ended or another one started is dropped. While
    /// MobilePay is unreachable it is kept for when the payment's screen returns.
    pub fn on_qr_image(&mut self, ticket: u64, symbol: Option<QrSymbol>) -> Option<Update> {
        let active = self.active.as_mut().filter(|a| a.fetching == Some(ticket))?;
        active.fetching = None;
        let Screen::ScanBackendCode { amount, currency, .. } = active.screen else {
            return None;
        };
        active.screen = Screen::ScanBackendCode {
            amount,
            currency,
            code: symbol.map_or(BackendCode::Unavailable, BackendCode::Ready),
        };
        let screen = active.screen.clone();
        (!self.offline).then(|| Update::show(screen))
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
            Outcome::InvoicePaid { amount, currency, .. } => Screen::Approved {
                amount: *amount,
                currency: *currency,
            },
            Outcome::InvoiceScheduled {
                amount,
                currency,
                payment_date,
                ..
            } => Screen::InvoiceScheduled {
                amount: *amount,
                currency: *currency,
                payment_date: *payment_date,
            },
            Outcome::InvoiceOutstanding {
                amount,
                currency,
                due_date,
                ..
            } => Screen::InvoiceOutstanding {
                amount: *amount,
                currency: *currency,
                due_date: *due_date,
            },
            Outcome::InvoiceEnded { reason, .. } => invoice_end_screen(*reason),
            Outcome::SignedUp {
                first_payment,
                currency,
                ..
            } => Screen::SignedUp {
                plan: self.active.as_ref().and_then(|a| a.plan.clone()),
                first_payment: first_payment.map(|a| (a, *currency)),
            },
            Outcome::AgreementEnded { reason, .. } => agreement_end_screen(*reason),
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
                let fetch = match (prompt, &screen) {
                    (Some(CustomerPrompt::QrImage { url }), Screen::ScanBackendCode { .. }) => {
                        self.tickets += 1;
                        Some(QrImageFetch {
                            ticket: self.tickets,
                            url: url.clone(),
                        })
                    }
                    _ => None,
                };
                self.active = Some(Active {
                    command: command.clone(),
                    amount,
                    screen: screen.clone(),
                    fetching: fetch.as_ref().map(|f| f.ticket),
                    plan: None,
                });
                self.offline = false;
                Some(Update {
                    screen,
                    hold: false,
                    fetch,
                })
            }
            // Like a sale waiting for its customer: the newest thing the cashier asked the
            // customer to do takes the screen.
            EventKind::InvoiceIssued {
                link,
                phone,
                amount,
                currency,
                due_date,
                ..
            } => {
                let screen = invoice_screen(link.as_deref(), phone.as_deref(), *amount, *currency, *due_date);
                self.active = Some(Active {
                    command: command.clone(),
                    amount: Some((*amount, *currency)),
                    screen: screen.clone(),
                    fetching: None,
                    plan: None,
                });
                self.offline = false;
                Some(Update::show(screen))
            }
            // Like an invoice: the sign-up the cashier just started takes the screen.
            EventKind::AgreementPending {
                link,
                plan,
                price,
                payments_per_year,
                first_payment,
                currency,
                expires_at_ms,
                ..
            } => {
                let screen = Screen::SignUpLink {
                    plan: plan.clone(),
                    price: *price,
                    payments_per_year: *payments_per_year,
                    first_payment: *first_payment,
                    currency: *currency,
                    accept_by: accept_by(*expires_at_ms, &chrono::Local),
                    link: link.clone(),
                };
                self.active = Some(Active {
                    command: command.clone(),
                    amount: first_payment.map(|a| (a, *currency)),
                    screen: screen.clone(),
                    fetching: None,
                    plan: Some(plan.clone()),
                });
                self.offline = false;
                Some(Update::show(screen))
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
                    fetching: None,
                    plan: None,
                });
                Some(Update::show(screen))
            }
            EventKind::PromptChanged { prompt } if self.idle_shows_qr => {
                let qr = match prompt {
                    CustomerPrompt::Qr { content, .. } => Some(content.clone()),
                    CustomerPrompt::QrImage { .. } | CustomerPrompt::PushSent => None,
                };
                self.settings.idle = Screen::Idle { qr };
                let quiet = self.active.is_none() && !self.offline;
                quiet.then(|| Update::show(self.idle()))
            }
            EventKind::BackendOffline => {
                self.offline = true;
                Some(Update::show(Screen::Offline {
                    hint: StaffHint::CheckNetwork,
                }))
            }
            EventKind::BackendOnline => {
                self.offline = false;
                let screen = self
                    .active
                    .as_ref()
                    .map(|a| a.screen.clone())
                    .unwrap_or_else(|| self.idle());
                Some(Update::show(screen))
            }
            EventKind::Resolved { outcome } if self.unknown.as_ref() == Some(command) => {
                self.unknown = None;
                // Whatever started meanwhile (a sale, an invoice, a refund) keeps the screen:
                // its customer is another one. Invoices do not hold the lane, so this happens.
                if self.active.is_some() {
                    return None;
                }
                let screen = self.outcome_screen(outcome)?;
                self.result(screen)
            }
            EventKind::NeedsHuman { .. } if command.is_none() => Some(Update::result(Screen::Offline {
                hint: StaffHint::NeedsAttention,
            })),
            EventKind::Cancelled { .. } if self.active.is_none() => Some(Update::result(Screen::Cancelled {
                reason: Reason::CancelledByStaff,
            })),
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
            EventKind::InvoiceScheduled { payment_date, .. } => {
                let (amount, currency) = self.active.as_ref().and_then(|a| a.amount)?;
                self.progress(Screen::InvoiceScheduled {
                    amount,
                    currency,
                    payment_date: *payment_date,
                })
            }
            EventKind::InvoicePaid { amount, .. } => {
                let (amount, currency) = self.amount_or_lane_currency(*amount);
                self.progress(Screen::Approved { amount, currency })
            }
            EventKind::InvoiceEnded { reason, .. } => self.progress(invoice_end_screen(*reason)),
            EventKind::AgreementAccepted { .. } => {
                let first_payment = self.active.as_ref().and_then(|a| a.amount);
                self.progress(Screen::SignUpAccepted { first_payment })
            }
            EventKind::SignedUp { first_payment, .. } => {
                let plan = self.active.as_ref().and_then(|a| a.plan.clone());
                let first_payment = first_payment.map(|a| self.amount_or_lane_currency(a));
                self.progress(Screen::SignedUp { plan, first_payment })
            }
            EventKind::AgreementEnded { reason, .. } => self.progress(agreement_end_screen(*reason)),
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
                        Some(Update::show(screen))
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
/// receiver skips to the newest events (the display only needs the present). A QR image is
/// fetched in a task of its own: the events, the engine and the other lanes never wait for
/// it, and a newer payment's image replaces a fetch still under way.
pub async fn follow(
    mut events: broadcast::Receiver<LaneEvent>,
    display: DisplayHandle,
    mut follower: ScreenFollower,
) {
    let hold = follower.settings.result_hold;
    let fetcher = Arc::new(QrFetcher::default());
    let (fetched_tx, mut fetched) = mpsc::channel(4);
    let mut fetching: Option<tokio::task::AbortHandle> = None;
    let mut back_to_idle: Option<tokio::time::Instant> = None;
    loop {
        let idle_at = back_to_idle.unwrap_or_else(tokio::time::Instant::now);
        let update = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => follower.on_event(&event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "display skipped lane events");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            Some((ticket, symbol)) = fetched.recv() => follower.on_qr_image(ticket, symbol),
            _ = tokio::time::sleep_until(idle_at), if back_to_idle.is_some() => {
                back_to_idle = None;
                display.show(follower.idle());
                continue;
            }
        };
        let Some(update) = update else { continue };
        if let Some(fetch) = update.fetch {
            if let Some(previous) = fetching.take() {
                previous.abort();
            }
            let task = tokio::spawn(fetch_qr_image(fetcher.clone(), fetch, fetched_tx.clone()));
            fetching = Some(task.abort_handle());
        }
        back_to_idle = update.hold.then(|| tokio::time::Instant::now() + hold);
        display.show(update.screen);
    }
    if let Some(fetch) = fetching {
        fetch.abort();
    }
}

/// Fetches the image of `fetch` and hands its symbol (or `None`) back to the driver. A
/// failure is logged here, once, without the address's query (the payment's token).
async fn fetch_qr_image(
    fetcher: Arc<QrFetcher>,
    fetch: QrImageFetch,
    fetched: mpsc::Sender<(u64, Option<QrSymbol>)>,
) {
    let symbol = match fetcher.symbol(&fetch.url).await {
        Ok(symbol) => Some(symbol),
        Err(error) => {
            tracing::warn!(
                url = %qr_fetch::loggable(&fetch.url),
                %error,
                "the payment's QR code cannot be shown; the customer is asked to turn to the cashier"
            );
            None
        }
    };
    // The driver is gone once the lane's engine stopped: nobody waits for the image then.
    let _ = fetched.send((fetch.ticket, symbol)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CustomerInfo;
    use chrono::NaiveDate;

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
        assert_eq!(finished, Some(Update::result(approved)));
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
            Some(Update::show(Screen::Offline {
                hint: StaffHint::MobilePayUnavailable
            }))
        );
        let resolved = EventKind::Resolved {
            outcome: Outcome::Declined {
                payment_id: None,
                reason: DeclineReason::Abandoned,
            },
        };
        assert_eq!(
            f.on_event(&ev(Some("s1"), resolved)),
            Some(Update::result(Screen::Cancelled {
                reason: Reason::Other
            }))
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
    fn prompts_without_a_code_to_show_ask_to_approve_in_the_app() {
        let image = CustomerPrompt::QrImage {
            url: "https://qr.example/p1.png".into(),
        };
        for prompt in [Some(CustomerPrompt::PushSent), None] {
            let mut f = ScreenFollower::new(settings());
            assert_eq!(
                screen(f.on_event(&ev(Some("s1"), waiting_with(prompt.clone(), Some(4995))))),
                Some(Screen::CheckedIn {
                    amount: Some((Minor(4995), Currency::EUR))
                }),
                "{prompt:?}"
            );
        }
        for prompt in [Some(image), Some(CustomerPrompt::PushSent), None] {
            let mut f = ScreenFollower::new(settings());
            let update = f.on_event(&ev(Some("prep"), waiting_with(prompt.clone(), None)));
            assert_eq!(
                update,
                Some(Update::show(Screen::Idle { qr: None })),
                "{prompt:?}: no amount, nothing to fetch"
            );
        }
    }

    const IMAGE_URL: &str = "https://qr.example/qr-image/v1?token=t1";

    fn image_waiting(url: &str) -> EventKind {
        let prompt = CustomerPrompt::QrImage { url: url.into() };
        waiting_with(Some(prompt), Some(4995))
    }

    fn backend_code(code: BackendCode) -> Screen {
        Screen::ScanBackendCode {
            amount: Minor(4995),
            currency: Currency::EUR,
            code,
        }
    }

    /// The image of the update's fetch, as the driver would hand it over.
    fn ticket(update: &Option<Update>, url: &str) -> u64 {
        let fetch = update.as_ref().and_then(|u| u.fetch.clone()).expect("a fetch");
        assert_eq!(fetch.url, url);
        fetch.ticket
    }

    #[test]
    fn a_backend_qr_image_is_fetched_and_its_symbol_shown_with_the_amount() {
        let symbol = QrSymbol::encode("https://qr.example/target/t1").unwrap();
        let mut f = ScreenFollower::new(settings());
        let waiting = f.on_event(&ev(Some("s1"), image_waiting(IMAGE_URL)));
        assert_eq!(screen(waiting.clone()), Some(backend_code(BackendCode::Loading)));
        let t = ticket(&waiting, IMAGE_URL);
        assert_eq!(
            f.on_qr_image(t, Some(symbol.clone())),
            Some(Update::show(backend_code(BackendCode::Ready(symbol.clone()))))
        );
        // Handed over twice (it cannot be, but a stale copy must not redraw anything).
        assert_eq!(f.on_qr_image(t, Some(symbol)), None);

        let mut failed = ScreenFollower::new(settings());
        let waiting = failed.on_event(&ev(Some("s1"), image_waiting(IMAGE_URL)));
        assert_eq!(
            failed.on_qr_image(ticket(&waiting, IMAGE_URL), None),
            Some(Update::show(backend_code(BackendCode::Unavailable)))
        );
    }

    #[test]
    fn a_late_qr_image_for_a_payment_that_moved_on_is_dropped() {
        let symbol = QrSymbol::encode("https://qr.example/target/t1").unwrap();
        let checked_in = EventKind::CustomerCheckedIn {
            payment_id: "p1".into(),
            customer: CustomerInfo::default(),
        };
        // The customer checked in before the image arrived.
        let mut f = ScreenFollower::new(settings());
        let t = ticket(&f.on_event(&ev(Some("s1"), image_waiting(IMAGE_URL))), IMAGE_URL);
        f.on_event(&ev(Some("s1"), checked_in));
        assert_eq!(f.on_qr_image(t, Some(symbol.clone())), None);

        // The payment ended, or the next one started with its own image.
        let mut f = ScreenFollower::new(settings());
        let first = ticket(&f.on_event(&ev(Some("s1"), image_waiting(IMAGE_URL))), IMAGE_URL);
        let cancelled = EventKind::Finished {
            outcome: Outcome::Declined {
                payment_id: None,
                reason: DeclineReason::CancelledByCashier,
            },
        };
        f.on_event(&ev(Some("s1"), cancelled));
        assert_eq!(f.on_qr_image(first, Some(symbol.clone())), None);
        let next_url = "https://qr.example/qr-image/v1?token=t2";
        let second = ticket(&f.on_event(&ev(Some("s2"), image_waiting(next_url))), next_url);
        assert_ne!(first, second);
        assert_eq!(f.on_qr_image(first, Some(symbol.clone())), None);
        assert_eq!(
            screen(f.on_qr_image(second, None)),
            Some(backend_code(BackendCode::Unavailable))
        );
    }

    #[test]
    fn a_qr_image_arriving_while_offline_waits_for_the_connection() {
        let symbol = QrSymbol::encode("https://qr.example/target/t1").unwrap();
        let mut f = ScreenFollower::new(settings());
        let t = ticket(&f.on_event(&ev(Some("s1"), image_waiting(IMAGE_URL))), IMAGE_URL);
        f.on_event(&ev(None, EventKind::BackendOffline));
        assert_eq!(f.on_qr_image(t, Some(symbol.clone())), None);
        assert_eq!(
            screen(f.on_event(&ev(None, EventKind::BackendOnline))),
            Some(backend_code(BackendCode::Ready(symbol)))
        );
    }

    const LINK: &str = "https://sandprod-open.mobilepay.dk/usersettings-landing-website/\
                        ?token=0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e&countryCode=DK&product=Invoice";

    fn due() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
    }

    fn issued(link: Option<&str>, phone: Option<&str>) -> EventKind {
        EventKind::InvoiceIssued {
            invoice_id: "i1".into(),
            link: link.map(str::to_string),
            phone: phone.map(str::to_string),
            amount: Minor(34_900),
            currency: Currency::DKK,
            due_date: due(),
        }
    }

    fn link_screen() -> Screen {
        Screen::InvoiceLink {
            amount: Minor(34_900),
            currency: Currency::DKK,
            due_date: due(),
            link: LINK.into(),
        }
    }

    fn finished(outcome: Outcome) -> EventKind {
        EventKind::Finished { outcome }
    }

    fn invoice_paid() -> Outcome {
        Outcome::InvoicePaid {
            invoice_id: "i1".into(),
            amount: Minor(34_900),
            currency: Currency::DKK,
        }
    }

    fn outstanding() -> Outcome {
        Outcome::InvoiceOutstanding {
            invoice_id: "i1".into(),
            amount: Minor(34_900),
            currency: Currency::DKK,
            due_date: due(),
        }
    }

    #[test]
    fn an_invoice_link_is_shown_as_its_code_until_paid() {
        let mut f = ScreenFollower::new(settings());
        let shown = f.on_event(&ev(Some("inv"), issued(Some(LINK), None)));
        assert_eq!(shown, Some(Update::show(link_screen())));
        assert_eq!(shown.unwrap().screen.qr(), Some(LINK));
        let approved = Screen::Approved {
            amount: Minor(34_900),
            currency: Currency::DKK,
        };
        let paid = EventKind::InvoicePaid {
            invoice_id: "i1".into(),
            amount: Minor(34_900),
        };
        assert_eq!(
            f.on_event(&ev(Some("inv"), paid)),
            Some(Update::show(approved.clone()))
        );
        assert_eq!(
            f.on_event(&ev(Some("inv"), finished(invoice_paid()))),
            Some(Update::result(approved))
        );
    }

    #[test]
    fn an_invoice_pushed_to_a_phone_shows_no_code() {
        // The engine may know the link of a pushed invoice too: it is not for the display.
        for link in [None, Some(LINK)] {
            let mut f = ScreenFollower::new(settings());
            let shown = screen(f.on_event(&ev(Some("inv"), issued(link, Some("+••••••5678")))));
            assert_eq!(
                shown,
                Some(Screen::InvoicePushed {
                    amount: Minor(34_900),
                    currency: Currency::DKK,
                    phone: "+••••••5678".into()
                }),
                "{link:?}"
            );
            assert_eq!(shown.unwrap().qr(), None);
        }
        // A link invoice whose link is missing cannot be scanned: ask the cashier.
        let mut f = ScreenFollower::new(settings());
        assert_eq!(
            screen(f.on_event(&ev(Some("inv"), issued(None, None)))),
            Some(Screen::ScanBackendCode {
                amount: Minor(34_900),
                currency: Currency::DKK,
                code: BackendCode::Unavailable
            })
        );
    }

    #[test]
    fn a_scheduled_invoice_is_a_success_but_never_shown_as_paid() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("inv"), issued(Some(LINK), None)));
        let day = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let scheduled = Screen::InvoiceScheduled {
            amount: Minor(34_900),
            currency: Currency::DKK,
            payment_date: Some(day),
        };
        let event = EventKind::InvoiceScheduled {
            invoice_id: "i1".into(),
            payment_date: Some(day),
        };
        assert_eq!(
            f.on_event(&ev(Some("inv"), event)),
            Some(Update::show(scheduled.clone()))
        );
        let answered = finished(Outcome::InvoiceScheduled {
            invoice_id: "i1".into(),
            amount: Minor(34_900),
            currency: Currency::DKK,
            payment_date: Some(day),
        });
        assert_eq!(
            f.on_event(&ev(Some("inv"), answered)),
            Some(Update::result(scheduled))
        );
    }

    #[test]
    fn an_invoice_answered_unpaid_tells_the_customer_when_it_is_due() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("inv"), issued(None, Some("+••••••5678"))));
        assert_eq!(
            f.on_event(&ev(Some("inv"), finished(outstanding()))),
            Some(Update::result(Screen::InvoiceOutstanding {
                amount: Minor(34_900),
                currency: Currency::DKK,
                due_date: due()
            }))
        );
    }

    #[test]
    fn an_invoice_ended_unpaid_says_why() {
        let cases = [
            (
                InvoiceEndReason::RejectedByCustomer,
                Screen::Declined {
                    reason: Reason::RejectedByCustomer,
                },
            ),
            (
                InvoiceEndReason::Expired,
                Screen::Declined {
                    reason: Reason::InvoiceExpired,
                },
            ),
            (
                InvoiceEndReason::CancelledByCashier,
                Screen::Cancelled {
                    reason: Reason::CancelledByStaff,
                },
            ),
            (
                InvoiceEndReason::CancelledElsewhere,
                Screen::Cancelled {
                    reason: Reason::Other,
                },
            ),
            (
                InvoiceEndReason::Abandoned,
                Screen::Cancelled {
                    reason: Reason::Other,
                },
            ),
        ];
        for (reason, expected) in cases {
            let mut f = ScreenFollower::new(settings());
            f.on_event(&ev(Some("inv"), issued(Some(LINK), None)));
            let ended = EventKind::InvoiceEnded {
                invoice_id: Some("i1".into()),
                reason,
            };
            assert_eq!(
                f.on_event(&ev(Some("inv"), ended)),
                Some(Update::show(expected.clone())),
                "{reason:?}"
            );
            let answered = finished(Outcome::InvoiceEnded {
                invoice_id: Some("i1".into()),
                reason,
            });
            assert_eq!(
                f.on_event(&ev(Some("inv"), answered)),
                Some(Update::result(expected)),
                "{reason:?}"
            );
        }
    }

    /// What the engine tells the lane when an invoice answered earlier ends at last.
    fn late_end(f: &mut ScreenFollower, outcome: Outcome) -> Vec<Option<Update>> {
        let progress = match &outcome {
            Outcome::InvoicePaid { amount, .. } => EventKind::InvoicePaid {
                invoice_id: "i1".into(),
                amount: *amount,
            },
            Outcome::InvoiceEnded { reason, .. } => EventKind::InvoiceEnded {
                invoice_id: Some("i1".into()),
                reason: *reason,
            },
            other => panic!("not an end: {other:?}"),
        };
        vec![
            f.on_event(&ev(Some("inv"), progress)),
            f.on_event(&ev(Some("inv"), EventKind::Resolved { outcome })),
        ]
    }

    #[test]
    fn a_late_invoice_resolution_never_replaces_a_sale_in_progress() {
        let ended = Outcome::InvoiceEnded {
            invoice_id: Some("i1".into()),
            reason: InvoiceEndReason::Expired,
        };
        for end in [invoice_paid(), ended] {
            let mut f = ScreenFollower::new(settings());
            f.on_event(&ev(Some("inv"), issued(Some(LINK), None)));
            f.on_event(&ev(Some("inv"), finished(outstanding())));
            let sale = screen(f.on_event(&ev(Some("s2"), waiting(Some(4995)))));
            assert_eq!(late_end(&mut f, end.clone()), vec![None, None], "{end:?}");
            // The sale goes on as if nothing happened.
            let checked_in = EventKind::CustomerCheckedIn {
                payment_id: "p1".into(),
                customer: CustomerInfo::default(),
            };
            assert!(sale.is_some());
            assert_eq!(
                screen(f.on_event(&ev(Some("s2"), checked_in))),
                Some(Screen::CheckedIn {
                    amount: Some((Minor(4995), Currency::EUR))
                })
            );
            // Between sales too: the customer left with the goods long ago.
            let mut idle = ScreenFollower::new(settings());
            idle.on_event(&ev(Some("inv"), issued(Some(LINK), None)));
            idle.on_event(&ev(Some("inv"), finished(outstanding())));
            assert_eq!(late_end(&mut idle, end.clone()), vec![None, None], "{end:?}");
        }
    }

    #[test]
    fn an_unknown_invoice_resolved_during_a_sale_leaves_the_sale_on_screen() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("inv"), issued(Some(LINK), None)));
        let unknown = finished(Outcome::Unknown { payment_id: None });
        assert_eq!(
            screen(f.on_event(&ev(Some("inv"), unknown))),
            Some(Screen::Offline {
                hint: StaffHint::MobilePayUnavailable
            })
        );
        // Invoices do not hold the lane: the next sale starts before the invoice is resolved.
        f.on_event(&ev(Some("s2"), waiting(Some(4995))));
        let abandoned = Outcome::InvoiceEnded {
            invoice_id: Some("i1".into()),
            reason: InvoiceEndReason::Abandoned,
        };
        assert_eq!(late_end(&mut f, abandoned), vec![None, None]);
        let captured = finished(Outcome::Captured {
            payment_id: "p1".into(),
            amount: Minor(4995),
            currency: Currency::EUR,
        });
        assert_eq!(
            screen(f.on_event(&ev(Some("s2"), captured))),
            Some(Screen::Approved {
                amount: Minor(4995),
                currency: Currency::EUR
            })
        );
    }

    #[test]
    fn offline_and_back_keeps_the_invoice_code() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("inv"), issued(Some(LINK), None)));
        assert_eq!(
            screen(f.on_event(&ev(None, EventKind::BackendOffline))),
            Some(Screen::Offline {
                hint: StaffHint::CheckNetwork
            })
        );
        let back = screen(f.on_event(&ev(None, EventKind::BackendOnline)));
        assert_eq!(back, Some(link_screen()));
        assert_eq!(back.unwrap().qr(), Some(LINK));
    }

    const AGREEMENT_LINK: &str = "https://sandprod-open.mobilepay.dk/subscriptions-landing-website/\
                                  ?flow=agreement&id=5d3c2b1a-0f9e-4d8c-b7a6-958473625140&countryCode=DK";

    /// 2026-12-06 13:35:40 UTC.
    const EXPIRES_AT_MS: u64 = 1_796_564_140_000;

    fn pending(first_payment: Option<i64>) -> EventKind {
        EventKind::AgreementPending {
            agreement_id: "agr-1".into(),
            link: AGREEMENT_LINK.into(),
            plan: "Brødklubben".into(),
            price: Some(Minor(9_900)),
            payments_per_year: Some(12),
            first_payment: first_payment.map(Minor),
            currency: Currency::DKK,
            expires_at_ms: EXPIRES_AT_MS,
        }
    }

    fn signup_screen(first_payment: Option<i64>) -> Screen {
        Screen::SignUpLink {
            plan: "Brødklubben".into(),
            price: Some(Minor(9_900)),
            payments_per_year: Some(12),
            first_payment: first_payment.map(Minor),
            currency: Currency::DKK,
            accept_by: accept_by(EXPIRES_AT_MS, &chrono::Local),
            link: AGREEMENT_LINK.into(),
        }
    }

    fn welcome(first_payment: Option<i64>) -> Screen {
        Screen::SignedUp {
            plan: Some("Brødklubben".into()),
            first_payment: first_payment.map(|a| (Minor(a), Currency::DKK)),
        }
    }

    fn signed_up(first_payment: Option<i64>) -> Outcome {
        Outcome::SignedUp {
            agreement_id: "agr-1".into(),
            first_payment_id: first_payment.map(|_| "oo-1".to_string()),
            first_payment: first_payment.map(Minor),
            currency: Currency::DKK,
        }
    }

    #[test]
    fn the_time_to_accept_by_is_the_local_time_to_the_minute_rounded_down() {
        let copenhagen = chrono::FixedOffset::east_opt(3600).unwrap();
        assert_eq!(
            accept_by(EXPIRES_AT_MS, &copenhagen),
            NaiveTime::from_hms_opt(14, 35, 0)
        );
        let helsinki = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(
            accept_by(EXPIRES_AT_MS + 19_999, &helsinki),
            NaiveTime::from_hms_opt(15, 35, 0)
        );
        // A time no clock can show is left out, never a panic.
        assert_eq!(accept_by(u64::MAX, &copenhagen), None);
    }

    #[test]
    fn a_sign_up_is_shown_as_its_code_then_welcomed_with_its_first_payment() {
        let mut f = ScreenFollower::new(settings());
        let shown = f.on_event(&ev(Some("join"), pending(Some(4_900))));
        assert_eq!(shown, Some(Update::show(signup_screen(Some(4_900)))));
        assert_eq!(shown.unwrap().screen.qr(), Some(AGREEMENT_LINK));
        let accepted = EventKind::AgreementAccepted {
            agreement_id: "agr-1".into(),
        };
        assert_eq!(
            screen(f.on_event(&ev(Some("join"), accepted))),
            Some(Screen::SignUpAccepted {
                first_payment: Some((Minor(4_900), Currency::DKK))
            })
        );
        let done = EventKind::SignedUp {
            agreement_id: "agr-1".into(),
            first_payment: Some(Minor(4_900)),
        };
        assert_eq!(
            f.on_event(&ev(Some("join"), done)),
            Some(Update::show(welcome(Some(4_900))))
        );
        assert_eq!(
            f.on_event(&ev(Some("join"), finished(signed_up(Some(4_900))))),
            Some(Update::result(welcome(Some(4_900))))
        );
    }

    #[test]
    fn a_sign_up_without_a_first_payment_is_welcomed_without_an_amount() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("join"), pending(None)));
        assert_eq!(
            f.on_event(&ev(Some("join"), finished(signed_up(None)))),
            Some(Update::result(welcome(None)))
        );
    }

    #[test]
    fn a_sign_up_that_did_not_come_about_says_why() {
        let cases = [
            (AgreementEndReason::RejectedByCustomer, Reason::RejectedByCustomer),
            (AgreementEndReason::Expired, Reason::TimedOut),
            (AgreementEndReason::CancelledByCashier, Reason::CancelledByStaff),
            (AgreementEndReason::FirstPaymentFailed, Reason::FirstPaymentFailed),
            (AgreementEndReason::CancelledElsewhere, Reason::AskTheCashier),
            (AgreementEndReason::Abandoned, Reason::AskTheCashier),
        ];
        for (reason, shown) in cases {
            let expected = Screen::SignUpEnded { reason: shown };
            let mut f = ScreenFollower::new(settings());
            f.on_event(&ev(Some("join"), pending(Some(4_900))));
            let ended = EventKind::AgreementEnded {
                agreement_id: Some("agr-1".into()),
                reason,
            };
            assert_eq!(
                f.on_event(&ev(Some("join"), ended)),
                Some(Update::show(expected.clone())),
                "{reason:?}"
            );
            let answered = finished(Outcome::AgreementEnded {
                agreement_id: Some("agr-1".into()),
                reason,
            });
            assert_eq!(
                f.on_event(&ev(Some("join"), answered)),
                Some(Update::result(expected)),
                "{reason:?}"
            );
        }
    }

    #[test]
    fn a_sale_started_during_a_sign_up_keeps_the_screen_when_the_sign_up_ends() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("join"), pending(Some(4_900))));
        assert!(screen(f.on_event(&ev(Some("s2"), waiting(Some(4995))))).is_some());
        // The pending agreement is cancelled once its time is over, while the sale runs.
        let ended = EventKind::AgreementEnded {
            agreement_id: Some("agr-1".into()),
            reason: AgreementEndReason::Expired,
        };
        let answered = finished(Outcome::AgreementEnded {
            agreement_id: Some("agr-1".into()),
            reason: AgreementEndReason::Expired,
        });
        assert_eq!(f.on_event(&ev(Some("join"), ended)), None);
        assert_eq!(f.on_event(&ev(Some("join"), answered)), None);
        let checked_in = EventKind::CustomerCheckedIn {
            payment_id: "p1".into(),
            customer: CustomerInfo::default(),
        };
        assert_eq!(
            screen(f.on_event(&ev(Some("s2"), checked_in))),
            Some(Screen::CheckedIn {
                amount: Some((Minor(4995), Currency::EUR))
            })
        );
    }

    #[test]
    fn offline_and_back_keeps_the_sign_up_code_and_an_unknown_sign_up_resolves_to_its_welcome() {
        let mut f = ScreenFollower::new(settings());
        f.on_event(&ev(Some("join"), pending(Some(4_900))));
        f.on_event(&ev(None, EventKind::BackendOffline));
        let back = screen(f.on_event(&ev(None, EventKind::BackendOnline)));
        assert_eq!(back, Some(signup_screen(Some(4_900))));
        let unknown = finished(Outcome::Unknown { payment_id: None });
        assert_eq!(
            screen(f.on_event(&ev(Some("join"), unknown))),
            Some(Screen::Offline {
                hint: StaffHint::MobilePayUnavailable
            })
        );
        // Resolved while nothing else is on the screen: the welcome, without the plan the
        // display no longer holds.
        let resolved = EventKind::Resolved {
            outcome: signed_up(Some(4_900)),
        };
        assert_eq!(
            f.on_event(&ev(Some("join"), resolved)),
            Some(Update::result(Screen::SignedUp {
                plan: None,
                first_payment: Some((Minor(4_900), Currency::DKK))
            }))
        );
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
