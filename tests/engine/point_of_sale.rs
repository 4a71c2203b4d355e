//! The engine when its lane's point of sale is replaced at MobilePay: retired (new payments
//! refused, open ones reported), then moved to the new point of sale while the old one's
//! reservation is still finished there.

use super::sim_pos::register_pos;
use super::support::*;
use mposd::backends::pos_v10::engine::prompt;
use mposd::engine::api::{Command, EventKind, Outcome, RejectCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_point_of_sale_takes_no_payment_and_the_engine_moves_to_the_new_one() {
    let lane = lane().await;
    lane.customer_everywhere(CREDIT_USER, "accept", 50).await;
    let engine = lane.engine();
    let kept = lane.run("sale-1", pay(1000, "order-1", true)).await;
    assert!(matches!(kept, Outcome::Reserved { .. }), "{kept:?}");
    let kept_payment = payment_id_of(&kept);
    assert_eq!(engine.open_payments().await.unwrap(), vec![kept_payment.clone()]);

    // Retired: what is open is reported, and no payment starts any more.
    let open = engine
        .retire("the point of sale is being replaced")
        .await
        .unwrap();
    assert_eq!(open, vec![kept_payment.clone()]);
    match lane.run("sale-2", pay(2000, "order-2", false)).await {
        Outcome::Rejected { code, message } => {
            assert_eq!(code, RejectCode::LaneBusy);
            assert_eq!(message, "the point of sale is being replaced");
        }
        other => panic!("expected lane_busy, got {other:?}"),
    }
    assert_eq!(lane.payments().await.len(), 1, "nothing was created");

    // The new point of sale, as the daemon registers it.
    let beacon = "0b1d2c3e-0000-4000-8000-00000000beef";
    let new_pos = register_pos(&lane.client, &format!("moved-{}", lane.beacon_id), beacon).await;
    engine.move_to(&new_pos, prompt(beacon)).await.unwrap();
    assert_eq!(engine.point_of_sale(), new_pos);
    // The kept reservation lives on the old point of sale.
    assert!(engine.open_payments().await.unwrap().is_empty());

    // New payments run on the new point of sale and show its beacon.
    let mut events = engine.subscribe();
    let sold = lane.run("sale-3", pay(3000, "order-3", false)).await;
    assert!(matches!(sold, Outcome::Captured { .. }), "{sold:?}");
    let mut shown = None;
    while let Ok(event) = events.try_recv() {
        if let EventKind::WaitingForCustomer { prompt, .. } = event.kind {
            assert_eq!(event.point_of_sale, new_pos);
            shown = prompt.and_then(|p| p.sticker_id().map(str::to_string));
        }
    }
    assert_eq!(shown.as_deref(), Some(beacon));
    let all = lane
        .http
        .get(format!("{}/_sim/payments", lane.sim.base_url()))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let sale_3 = all["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["orderId"] == "order-3")
        .cloned()
        .expect("order-3");
    assert_eq!(sale_3["posId"], new_pos.as_str());

    // The reservation on the old point of sale is still captured by its command id.
    let captured = lane
        .run(
            "capture-1",
            Command::Capture {
                target: id("sale-1"),
                amount: None,
            },
        )
        .await;
    assert!(matches!(captured, Outcome::Captured { .. }), "{captured:?}");
    assert_eq!(lane.payment(&kept_payment).await["status"], "Captured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_point_of_sale_announces_its_new_prompt_once() {
    let lane = lane().await;
    let engine = lane.engine();
    let mut events = engine.subscribe();
    let beacon = "0b1d2c3e-0000-4000-8000-00000000cafe";
    let new_pos = register_pos(&lane.client, &format!("moved-{}", lane.beacon_id), beacon).await;
    engine.move_to(&new_pos, prompt(beacon)).await.unwrap();
    // Told again the same: nothing new to announce.
    engine.move_to(&new_pos, prompt(beacon)).await.unwrap();
    let mut announced = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let EventKind::PromptChanged { prompt } = event.kind {
            announced.push(prompt);
        }
    }
    assert_eq!(announced, vec![prompt(beacon)]);
}
