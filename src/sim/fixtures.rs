//! Seed data: integrators, merchants with brands and stores, and the sandbox test users.
//!
//! `mposd sim` needs no arguments because these defaults are built in; `--fixtures FILE`
//! replaces them with a JSON file of the same shape as `GET /_sim/fixtures`.

use crate::backends::pos_v10::formats;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Fixtures {
    pub integrators: Vec<Integrator>,
    pub merchants: Vec<Merchant>,
    pub users: Vec<User>,
    /// The ePayment API's sales units and test users. A fixtures file without them gets the
    /// built-in ones.
    #[serde(default)]
    pub epayment: EpaymentFixtures,
}

/// ePayment test data: sales units (each with its own API keys) and the app's test users.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EpaymentFixtures {
    pub sales_units: Vec<SalesUnit>,
    pub users: Vec<EpaymentUser>,
}

/// A sales unit (merchant serial number) with the keys of its API product.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SalesUnit {
    pub msn: String,
    pub client_id: String,
    pub client_secret: String,
    pub subscription_key: String,
    /// The market's currency; payments in another are refused with `5040`.
    pub currency: String,
    /// Approved for `PUSH_MESSAGE` payments; without it they are refused with `5080`.
    #[serde(default = "yes")]
    pub push_allowed: bool,
}

/// A test user of the app: a phone number (MSISDN without `+`) and the content of the
/// personal QR code the app shows for it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EpaymentUser {
    pub phone_number: String,
    pub personal_qr: String,
}

pub const EP_MSN: &str = "123456";
pub const EP_CLIENT_ID: &str = "8f6c2a1e-4b3d-4e5f-a6b7-c8d9e0f1a2b3";
pub const EP_CLIENT_SECRET: &str = "sim-secret-epayment-bageriet";
pub const EP_SUBSCRIPTION_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// A second sales unit, not approved for `PUSH_MESSAGE`.
pub const EP_OTHER_MSN: &str = "654321";
pub const EP_OTHER_CLIENT_ID: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
pub const EP_OTHER_CLIENT_SECRET: &str = "sim-secret-epayment-kiosken";
pub const EP_OTHER_SUBSCRIPTION_KEY: &str = "a0b1c2d3e4f5061728394a5b6c7d8e9f";
/// ePayment test users (Danish numbers, as the sales units are Danish).
pub const EP_USERS: [&str; 3] = ["4591000001", "4591000002", "4591000003"];

/// The personal QR content the built-in fixtures give a test user.
pub fn personal_qr_of(phone: &str) -> String {
    format!("https://qr.vipps.no/sim/personal/{phone}")
}

impl Default for EpaymentFixtures {
    fn default() -> Self {
        let unit = |msn: &str, id: &str, secret: &str, key: &str, push_allowed| SalesUnit {
            msn: msn.into(),
            client_id: id.into(),
            client_secret: secret.into(),
            subscription_key: key.into(),
            currency: "DKK".into(),
            push_allowed,
        };
        EpaymentFixtures {
            sales_units: vec![
                unit(EP_MSN, EP_CLIENT_ID, EP_CLIENT_SECRET, EP_SUBSCRIPTION_KEY, true),
                unit(
                    EP_OTHER_MSN,
                    EP_OTHER_CLIENT_ID,
                    EP_OTHER_CLIENT_SECRET,
                    EP_OTHER_SUBSCRIPTION_KEY,
                    false,
                ),
            ],
            users: EP_USERS
                .iter()
                .map(|phone| EpaymentUser {
                    phone_number: phone.to_string(),
                    personal_qr: personal_qr_of(phone),
                })
                .collect(),
        }
    }
}

impl EpaymentFixtures {
    pub fn sales_unit(&self, msn: &str) -> Option<&SalesUnit> {
        self.sales_units.iter().find(|u| u.msn == msn)
    }

    pub fn user_by_phone(&self, phone: &str) -> Option<&EpaymentUser> {
        self.users.iter().find(|u| u.phone_number == phone)
    }

    pub fn user_by_personal_qr(&self, content: &str) -> Option<&EpaymentUser> {
        self.users.iter().find(|u| u.personal_qr == content)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Integrator {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    pub vat: String,
    pub stores: Vec<Store>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    pub store_id: String,
    pub merchant_brand_id: String,
    pub merchant_location_id: String,
    pub brand_name: String,
    pub store_name: String,
    pub store_street: String,
    pub store_zip_code: String,
    pub store_city: String,
    /// A store that is not activated refuses payments with `1204`.
    #[serde(default = "yes")]
    pub activated: bool,
    /// Balance available for refunds before any payment is captured, in minor units. Captures
    /// add to it, refunds draw from it; a refund beyond it is refused with `1368`. Negative
    /// models a store whose takings were already paid out.
    #[serde(default = "large_balance")]
    pub opening_balance_minor: i64,
}

/// What a test user's payment source does in the simulator.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Feature {
    /// Pays by credit card: refused where credit cards are disallowed, no partial capture.
    Credit,
    /// Pays by debit card: refused where debit cards are disallowed, no partial capture.
    Debit,
    /// Credit card user with a Storebox receipt token.
    ReceiptToken,
    /// Credit card user enrolled in the merchant's loyalty programme.
    Loyalty,
    /// Account-to-account user: partial capture is possible.
    PartialCapture,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub phone_number: String,
    pub feature: Feature,
}

fn yes() -> bool {
    true
}

fn large_balance() -> i64 {
    100_000_000
}

pub const DEMO_CLIENT_ID: &str = "5c7a5b8e-0a4e-4d8e-9b1a-2f0c3d4e5f60";
pub const DEMO_CLIENT_SECRET: &str = "sim-secret-demo-integrator";
pub const OTHER_CLIENT_ID: &str = "0d3e2f1a-9b8c-4d7e-8f6a-5b4c3d2e1f00";
pub const OTHER_CLIENT_SECRET: &str = "sim-secret-other-integrator";
pub const DK_VAT: &str = "DK12345678";
pub const DK_STORE: &str = "401b5617-ae5e-4f1a-9a59-5a446dbb3caa";
pub const DK_STORE_INACTIVE: &str = "7a1c0f52-3d4b-4a6e-9c2d-0e1f2a3b4c5d";
pub const DK_STORE_PAID_OUT: &str = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e";
pub const FI_VAT: &str = "FI12345678";
pub const FI_STORE: &str = "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4";
pub const OTHER_DK_VAT: &str = "DK87654321";
pub const OTHER_DK_STORE: &str = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f";

impl Default for Fixtures {
    fn default() -> Self {
        let store = |id: &str,
                     brand: &str,
                     loc: &str,
                     brand_name: &str,
                     name: &str,
                     street: &str,
                     zip: &str,
                     city: &str| Store {
            store_id: id.into(),
            merchant_brand_id: brand.into(),
            merchant_location_id: loc.into(),
            brand_name: brand_name.into(),
            store_name: name.into(),
            store_street: street.into(),
            store_zip_code: zip.into(),
            store_city: city.into(),
            activated: true,
            opening_balance_minor: large_balance(),
        };
        let users = [
            ("+4520031801", Feature::Credit),
            ("+4520031802", Feature::Debit),
            ("+4520031803", Feature::ReceiptToken),
            ("+4520031804", Feature::Loyalty),
            ("+4520031805", Feature::PartialCapture),
            ("+358200318001", Feature::Credit),
            ("+358200318002", Feature::Debit),
            ("+358200318003", Feature::ReceiptToken),
            ("+358200318004", Feature::Loyalty),
            ("+358200318005", Feature::PartialCapture),
        ];
        Fixtures {
            integrators: vec![
                Integrator {
                    client_id: DEMO_CLIENT_ID.into(),
                    client_secret: DEMO_CLIENT_SECRET.into(),
                },
                Integrator {
                    client_id: OTHER_CLIENT_ID.into(),
                    client_secret: OTHER_CLIENT_SECRET.into(),
                },
            ],
            merchants: vec![
                Merchant {
                    vat: DK_VAT.into(),
                    stores: vec![
                        store(
                            DK_STORE,
                            "POSDK12345",
                            "00001",
                            "Bageriet",
                            "Bageriet Nørrebro",
                            "Nørrebrogade 1",
                            "2200",
                            "København N",
                        ),
                        Store {
                            activated: false,
                            ..store(
                                DK_STORE_INACTIVE,
                                "POSDK12345",
                                "00002",
                                "Bageriet",
                                "Bageriet Østerbro",
                                "Østerbrogade 2",
                                "2100",
                                "København Ø",
                            )
                        },
                        Store {
                            opening_balance_minor: -1_000_000,
                            ..store(
                                DK_STORE_PAID_OUT,
                                "POSDK12345",
                                "00003",
                                "Bageriet",
                                "Bageriet Vesterbro",
                                "Vesterbrogade 3",
                                "1620",
                                "København V",
                            )
                        },
                    ],
                },
                Merchant {
                    vat: FI_VAT.into(),
                    stores: vec![store(
                        FI_STORE,
                        "POSFI12345",
                        "00001",
                        "Leipomo",
                        "Leipomo Kallio",
                        "Helsinginkatu 4",
                        "00500",
                        "Helsinki",
                    )],
                },
                Merchant {
                    vat: OTHER_DK_VAT.into(),
                    stores: vec![store(
                        OTHER_DK_STORE,
                        "POSDK54321",
                        "00001",
                        "Kiosken",
                        "Kiosken Aarhus",
                        "Ryesgade 5",
                        "8000",
                        "Aarhus C",
                    )],
                },
            ],
            users: users
                .into_iter()
                .map(|(phone, feature)| User {
                    phone_number: phone.into(),
                    feature,
                })
                .collect(),
            epayment: EpaymentFixtures::default(),
        }
    }
}

impl Fixtures {
    /// Checks that a fixtures file is usable, naming every problem found.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.integrators.is_empty() {
            problems.push("at least one integrator is needed".to_string());
        }
        let mut store_ids = std::collections::HashSet::new();
        for m in &self.merchants {
            if !formats::is_valid_vat(&m.vat) {
                problems.push(format!(
                    "merchant VAT {:?} is not DK or FI followed by 8 digits",
                    m.vat
                ));
            }
            for s in &m.stores {
                if !formats::is_guid(&s.store_id) {
                    problems.push(format!("storeId {:?} is not a GUID", s.store_id));
                }
                if !store_ids.insert(s.store_id.to_lowercase()) {
                    problems.push(format!("storeId {:?} appears twice", s.store_id));
                }
                if !formats::is_valid_brand_id(&s.merchant_brand_id) {
                    problems.push(format!("merchantBrandId {:?} is not valid", s.merchant_brand_id));
                }
                if !formats::is_valid_location_id(&s.merchant_location_id) {
                    problems.push(format!(
                        "merchantLocationId {:?} is not 5 characters",
                        s.merchant_location_id
                    ));
                }
            }
        }
        let mut msns = std::collections::HashSet::new();
        for u in &self.epayment.sales_units {
            let digits = (4..=6).contains(&u.msn.len()) && u.msn.bytes().all(|b| b.is_ascii_digit());
            if !digits {
                problems.push(format!("sales unit MSN {:?} is not 4 to 6 digits", u.msn));
            }
            if !msns.insert(u.msn.clone()) {
                problems.push(format!("sales unit MSN {:?} appears twice", u.msn));
            }
            if !["NOK", "DKK", "EUR"].contains(&u.currency.as_str()) {
                problems.push(format!(
                    "sales unit currency {:?} is not NOK, DKK or EUR",
                    u.currency
                ));
            }
        }
        for u in &self.epayment.users {
            let valid = (10..=15).contains(&u.phone_number.len())
                && u.phone_number.bytes().all(|b| b.is_ascii_digit());
            if !valid {
                problems.push(format!(
                    "ePayment user {:?} is not a phone number of 10 to 15 digits",
                    u.phone_number
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    pub fn user(&self, phone: &str) -> Option<&User> {
        self.users.iter().find(|u| u.phone_number == phone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_fixtures_are_valid_and_round_trip() {
        let f = Fixtures::default();
        f.validate().unwrap();
        let json = serde_json::to_string(&f).unwrap();
        let back: Fixtures = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn invalid_fixtures_name_their_problems() {
        let mut f = Fixtures::default();
        f.merchants[0].vat = "DK-1".into();
        f.merchants[1].stores[0].store_id = DK_STORE.into();
        f.epayment.sales_units[1].msn = EP_MSN.into();
        f.epayment.users[0].phone_number = "+4591000001".into();
        let err = f.validate().unwrap_err();
        assert!(err.contains("DK-1") && err.contains("appears twice"), "{err}");
        assert!(err.contains("MSN \"123456\" appears twice"), "{err}");
        assert!(err.contains("+4591000001"), "{err}");
    }
}
