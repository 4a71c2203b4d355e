//! Sign-ups on a real display: the renderer writing PNG files for the smallest supported
//! panel, following a lane's events as the engine sends them. The agreement link is read back
//! from the pixels of the file; the customer is welcomed with the plan and the first payment;
//! a sign-up that runs out of time while the next sale runs leaves the sale on screen.

use crate::invoices::bench;
use crate::support::{AGREEMENT_LINK, GUID};
use mposd::display::Screen;
use mposd::engine::{AgreementEndReason, EventKind, Outcome};
use mposd::money::{Currency, Minor};

fn pending() -> EventKind {
    EventKind::AgreementPending {
        agreement_id: "agr-1".into(),
        link: AGREEMENT_LINK.into(),
        plan: "Brødklubben".into(),
        price: Some(Minor(9_900)),
        payments_per_year: Some(12),
        first_payment: Some(Minor(4_900)),
        currency: Currency::DKK,
        expires_at_ms: 1_796_564_140_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agreement_link_is_read_back_from_the_smallest_panel_and_the_customer_welcomed() {
    let bench = bench("da");
    bench.send(Some("join-1"), pending());
    bench.shows("signup-link").await;
    assert_eq!(bench.codes(), vec![AGREEMENT_LINK.to_string()]);
    let Screen::SignUpLink { accept_by, .. } = bench.display.handle.current() else {
        panic!("not the sign-up: {:?}", bench.display.handle.current())
    };
    assert!(accept_by.is_some(), "the time to accept by is shown");

    bench.send(None, EventKind::BackendOffline);
    bench.shows("offline").await;
    assert!(bench.codes().is_empty());
    bench.send(None, EventKind::BackendOnline);
    bench.shows("signup-link").await;
    assert_eq!(
        bench.codes(),
        vec![AGREEMENT_LINK.to_string()],
        "the customer can still scan the agreement"
    );

    bench.send(
        Some("join-1"),
        EventKind::AgreementAccepted {
            agreement_id: "agr-1".into(),
        },
    );
    bench.shows("signup-accepted").await;
    assert!(bench.codes().is_empty(), "no code once the customer accepted");
    bench.send(
        Some("join-1"),
        EventKind::SignedUp {
            agreement_id: "agr-1".into(),
            first_payment: Some(Minor(4_900)),
        },
    );
    bench.send(
        Some("join-1"),
        EventKind::Finished {
            outcome: Outcome::SignedUp {
                agreement_id: "agr-1".into(),
                first_payment_id: Some("oo-1".into()),
                first_payment: Some(Minor(4_900)),
                currency: Currency::DKK,
            },
        },
    );
    bench.shows("signed-up").await;
    assert_eq!(
        bench.display.handle.current(),
        Screen::SignedUp {
            plan: Some("Brødklubben".into()),
            first_payment: Some((Minor(4_900), Currency::DKK)),
        }
    );
    assert!(bench.codes().is_empty());
    assert_eq!(bench.display.handle.status().failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_that_runs_out_of_time_during_the_next_sale_leaves_the_sale_on_screen() {
    let bench = bench("fi");
    bench.send(Some("join-1"), pending());
    bench.shows("signup-link").await;

    // The cashier moves on to the next customer while the agreement still waits.
    bench.send(
        Some("sale-2"),
        EventKind::WaitingForCustomer {
            payment_id: "p2".into(),
            prompt: Some(mposd::backends::pos_v10::engine::prompt(GUID)),
            amount: Some(Minor(2_450)),
            currency: Some(Currency::DKK),
        },
    );
    bench.shows("scan-to-pay").await;
    let ended = |reason| EventKind::AgreementEnded {
        agreement_id: Some("agr-1".into()),
        reason,
    };
    bench.send(Some("join-1"), ended(AgreementEndReason::Expired));
    bench.send(
        Some("join-1"),
        EventKind::Finished {
            outcome: Outcome::AgreementEnded {
                agreement_id: Some("agr-1".into()),
                reason: AgreementEndReason::Expired,
            },
        },
    );
    // Had the sign-up's end taken the screen, the sale's check-in would not show.
    bench.send(
        Some("sale-2"),
        EventKind::CustomerCheckedIn {
            payment_id: "p2".into(),
            customer: Default::default(),
        },
    );
    bench.shows("checked-in").await;
    assert_eq!(
        bench.display.handle.current(),
        Screen::CheckedIn {
            amount: Some((Minor(2_450), Currency::DKK))
        }
    );

    // The next sign-up is rejected in the app: the customer is told so.
    bench.send(Some("join-2"), pending());
    bench.shows("signup-link").await;
    bench.send(Some("join-2"), ended(AgreementEndReason::RejectedByCustomer));
    bench.shows("signup-ended").await;
    assert_eq!(
        bench.display.handle.current(),
        Screen::SignUpEnded {
            reason: mposd::display::Reason::RejectedByCustomer
        }
    );
    assert!(bench.codes().is_empty());
}
