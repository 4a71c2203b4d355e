//! The simulator's ground truth of either backend in one shape, so that the heavy suites (crash
//! torture, storage rot, network chaos) judge PoS V10 and ePayment by the same rules: at most
//! one payment per order, nothing captured twice or above its amount, every answer matching
//! the money. Which backends a run covers is chosen with `MPOSD_TORTURE_BACKEND`.

use serde_json::Value;
use std::collections::BTreeSet;

/// A MobilePay API the engine can run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    PosV10,
    Epayment,
}

impl Api {
    /// The name the environment variable and the reports use.
    pub fn name(self) -> &'static str {
        match self {
            Api::PosV10 => "pos-v10",
            Api::Epayment => "epayment",
        }
    }

    pub fn named(name: &str) -> Option<Api> {
        [Api::PosV10, Api::Epayment]
            .into_iter()
            .find(|api| api.name() == name)
    }

    /// The APIs chosen by `MPOSD_TORTURE_BACKEND`: `pos-v10`, `epayment` or `both` (the
    /// default, so a plain `cargo test` covers every backend). `products` chooses the tortures'
    /// lane of invoices and sign-ups alone, and none of the sales backends here.
    pub fn chosen() -> Vec<Api> {
        match std::env::var("MPOSD_TORTURE_BACKEND").as_deref() {
            Err(_) | Ok("both") => vec![Api::PosV10, Api::Epayment],
            Ok("products") => Vec::new(),
            Ok(name) => vec![Api::named(name).unwrap_or_else(|| {
                panic!("MPOSD_TORTURE_BACKEND={name}: expected pos-v10, epayment, products or both")
            })],
        }
    }
}

/// Where a payment's money is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Money {
    /// Reserved on the customer's card, nothing captured.
    Reserved,
    /// Captured (in whole or in part).
    Captured,
    /// Not (yet) paid, or given back: the API's own name of the state.
    Other(String),
}

/// One payment of the simulator as the suites judge it.
#[derive(Clone, Debug)]
pub struct Paid {
    /// The order id the engine gave it (PoS V10 `orderId`, ePayment `metadata.orderId`).
    pub order_id: String,
    /// PoS V10 `paymentId`, ePayment `reference` (derived from the command).
    pub payment_id: String,
    pub money: Money,
    pub amount: i64,
    pub captured: i64,
    /// Captures that MobilePay carried out.
    pub captures: usize,
    /// The simulator's own record, for failure messages.
    pub raw: Value,
}

impl Paid {
    pub fn is_paid(&self) -> bool {
        matches!(self.money, Money::Reserved | Money::Captured)
    }

    /// Panics unless the payment was captured at most once and for no more than its amount.
    pub fn assert_captured_once_at_most(&self) {
        assert!(self.captures <= 1, "captured twice: {}", self.raw);
        assert!(
            self.captured <= self.amount,
            "captured more than the amount: {}",
            self.raw
        );
    }
}

/// The payments of `api` at the simulator at `base_url`; only those of `orders` when given.
pub async fn payments(base_url: &str, api: Api, orders: Option<&BTreeSet<String>>) -> Vec<Paid> {
    if orders.is_some_and(BTreeSet::is_empty) {
        return Vec::new();
    }
    let list = match api {
        Api::PosV10 => "/_sim/payments",
        Api::Epayment => "/_sim/epayment/payments",
    };
    let path = match orders {
        Some(orders) => format!(
            "{list}?orderId={}",
            orders.iter().cloned().collect::<Vec<_>>().join(",")
        ),
        None => list.to_string(),
    };
    let response = reqwest::get(format!("{base_url}{path}"))
        .await
        .expect("the simulator's control API answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    let all: Value = response.json().await.expect("ground truth as JSON");
    all["payments"]
        .as_array()
        .expect("payments")
        .iter()
        .map(|raw| match api {
            Api::PosV10 => pos_v10(raw),
            Api::Epayment => epayment(raw),
        })
        .collect()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn pos_v10(raw: &Value) -> Paid {
    let status = text(&raw["status"]);
    Paid {
        order_id: text(&raw["orderId"]),
        payment_id: text(&raw["paymentId"]),
        money: match status.as_str() {
            "Reserved" => Money::Reserved,
            "Captured" => Money::Captured,
            _ => Money::Other(status.clone()),
        },
        amount: raw["amountMinor"].as_i64().unwrap_or(0),
        captured: raw["capturedMinor"].as_i64().unwrap_or(0),
        captures: raw["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|h| h["status"] == "Captured")
            .count(),
        raw: raw.clone(),
    }
}

fn epayment(raw: &Value) -> Paid {
    let state = text(&raw["state"]);
    let number = |field: &str| raw[field].as_i64().unwrap_or(0);
    let money = match state.as_str() {
        "AUTHORIZED" if number("capturedMinor") > 0 => Money::Captured,
        "AUTHORIZED" if number("cancelledMinor") == 0 => Money::Reserved,
        _ => Money::Other(state.clone()),
    };
    Paid {
        order_id: text(&raw["metadata"]["orderId"]),
        payment_id: text(&raw["reference"]),
        money,
        amount: number("amountMinor"),
        captured: number("capturedMinor"),
        captures: raw["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["name"] == "CAPTURED" && e["success"] != false)
            .count(),
        raw: raw.clone(),
    }
}
