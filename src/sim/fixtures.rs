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
    /// The merchant-consent OpenID Connect provider's clients, merchants and portal users. A
    /// fixtures file without them gets the built-in ones.
    #[serde(default)]
    pub oidc: OidcFixtures,
    /// MobilePay Invoice's API gateway apps, invoice issuers and sandbox test users. A fixtures
    /// file without them gets the built-in ones.
    #[serde(default)]
    pub invoice: InvoiceFixtures,
    /// MobilePay Subscriptions' API gateway apps and subscription providers (its sandbox test
    /// users are Invoice's). A fixtures file without them gets the built-in ones.
    #[serde(default)]
    pub subscriptions: SubscriptionsFixtures,
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

/// OpenID Connect test data: the integrators' clients, the merchants they may get consent
/// from, and the MobilePay Portal users who give it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OidcFixtures {
    pub clients: Vec<OidcClient>,
    pub merchants: Vec<OidcMerchant>,
    pub users: Vec<PortalUser>,
}

/// What the refresh-token grant returns, a per-client setting at MobilePay.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum RefreshTokenUsage {
    /// A new refresh token every time; the one used is dead at once.
    OneTime,
    /// The same refresh token again, its lifetime restarted.
    #[serde(rename = "reUse")]
    ReUse,
}

/// An OIDC client (the credentials of the password-protected zip).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
    /// Whitelisted `redirect_uri`s, compared exactly.
    pub redirect_uris: Vec<String>,
    pub refresh_token_usage: RefreshTokenUsage,
    /// Product scopes the client may ask for (`openid` and `offline_access` always).
    pub scopes: Vec<String>,
}

/// A merchant that can consent: VAT number and the `MerchantId` its tokens carry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OidcMerchant {
    pub vat: String,
    pub merchant_id: String,
    pub name: String,
}

/// A MobilePay Portal login: `sub` of its tokens and the merchants (VAT) it may consent for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PortalUser {
    pub login: String,
    pub sub: String,
    pub merchants: Vec<String>,
}

/// Product scopes MobilePay's provider knew (§1.3 of the reference).
pub const OIDC_PRODUCT_SCOPES: [&str; 5] = [
    "invoice",
    "subscriptions",
    "transactionreporting",
    "merchantpayments",
    "webhooks",
];

pub const OIDC_ONETIME_CLIENT_ID: &str = "sim-oidc-onetime";
pub const OIDC_ONETIME_CLIENT_SECRET: &str = "sim-secret-oidc-onetime";
pub const OIDC_REUSE_CLIENT_ID: &str = "sim-oidc-reuse";
pub const OIDC_REUSE_CLIENT_SECRET: &str = "sim-secret-oidc-reuse";
/// A `reUse` client allowed the `invoice` scope only.
pub const OIDC_INVOICE_CLIENT_ID: &str = "sim-oidc-invoice-only";
pub const OIDC_INVOICE_CLIENT_SECRET: &str = "sim-secret-oidc-invoice-only";
/// The redirect URI of MobilePay's own C# sample, registered for every built-in client.
pub const OIDC_LOOPBACK_REDIRECT: &str = "http://127.0.0.1:7890/";
pub const OIDC_WEB_REDIRECT: &str = "https://integrator.example/mobilepay/consent";
pub const DK_MERCHANT_ID: &str = "3f1e5a7c-2b4d-4c6e-8a9b-0c1d2e3f4a5b";
pub const FI_MERCHANT_ID: &str = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d";
pub const OTHER_DK_MERCHANT_ID: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
/// Portal user of the Bageriet group: may consent for `DK12345678` and `FI12345678`.
pub const PORTAL_OWNER: &str = "owner@bageriet.example";
pub const PORTAL_OWNER_SUB: &str = "b7e6d5c4-a3b2-4c1d-9e0f-1a2b3c4d5e6f";
/// Portal user of the kiosk: may consent for `DK87654321` only.
pub const PORTAL_KIOSK: &str = "manager@kiosken.example";
pub const PORTAL_KIOSK_SUB: &str = "c8f7e6d5-b4a3-4d2c-8f1e-2b3c4d5e6f70";

impl Default for OidcFixtures {
    fn default() -> Self {
        let client = |id: &str, secret: &str, usage, scopes: &[&str]| OidcClient {
            client_id: id.into(),
            client_secret: secret.into(),
            redirect_uris: vec![OIDC_LOOPBACK_REDIRECT.into(), OIDC_WEB_REDIRECT.into()],
            refresh_token_usage: usage,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        };
        let merchant = |vat: &str, id: &str, name: &str| OidcMerchant {
            vat: vat.into(),
            merchant_id: id.into(),
            name: name.into(),
        };
        let user = |login: &str, sub: &str, vats: &[&str]| PortalUser {
            login: login.into(),
            sub: sub.into(),
            merchants: vats.iter().map(|v| v.to_string()).collect(),
        };
        let both = ["invoice", "subscriptions"];
        OidcFixtures {
            clients: vec![
                client(
                    OIDC_ONETIME_CLIENT_ID,
                    OIDC_ONETIME_CLIENT_SECRET,
                    RefreshTokenUsage::OneTime,
                    &both,
                ),
                client(
                    OIDC_REUSE_CLIENT_ID,
                    OIDC_REUSE_CLIENT_SECRET,
                    RefreshTokenUsage::ReUse,
                    &both,
                ),
                client(
                    OIDC_INVOICE_CLIENT_ID,
                    OIDC_INVOICE_CLIENT_SECRET,
                    RefreshTokenUsage::ReUse,
                    &["invoice"],
                ),
            ],
            merchants: vec![
                merchant(DK_VAT, DK_MERCHANT_ID, "Bageriet ApS"),
                merchant(FI_VAT, FI_MERCHANT_ID, "Leipomo Oy"),
                merchant(OTHER_DK_VAT, OTHER_DK_MERCHANT_ID, "Kiosken I/S"),
            ],
            users: vec![
                user(PORTAL_OWNER, PORTAL_OWNER_SUB, &[DK_VAT, FI_VAT]),
                user(PORTAL_KIOSK, PORTAL_KIOSK_SUB, &[OTHER_DK_VAT]),
            ],
        }
    }
}

impl OidcFixtures {
    pub fn client(&self, client_id: &str) -> Option<&OidcClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub fn merchant_by_vat(&self, vat: &str) -> Option<&OidcMerchant> {
        self.merchants.iter().find(|m| m.vat == vat)
    }

    pub fn user(&self, login: &str) -> Option<&PortalUser> {
        self.users.iter().find(|u| u.login == login)
    }

    fn problems(&self, problems: &mut Vec<String>) {
        let mut ids = std::collections::HashSet::new();
        for c in &self.clients {
            if !ids.insert(c.client_id.as_str()) {
                problems.push(format!("OIDC client {:?} appears twice", c.client_id));
            }
            if c.redirect_uris.is_empty() {
                problems.push(format!("OIDC client {:?} has no redirect URI", c.client_id));
            }
            for s in c
                .scopes
                .iter()
                .filter(|s| !OIDC_PRODUCT_SCOPES.contains(&s.as_str()))
            {
                problems.push(format!("OIDC client {:?}: unknown scope {s:?}", c.client_id));
            }
        }
        let mut vats = std::collections::HashSet::new();
        for m in &self.merchants {
            if !vats.insert(m.vat.as_str()) {
                problems.push(format!("OIDC merchant VAT {:?} appears twice", m.vat));
            }
            if !formats::is_valid_vat(&m.vat) {
                problems.push(format!(
                    "OIDC merchant VAT {:?} is not DK or FI followed by 8 digits",
                    m.vat
                ));
            }
            if !formats::is_guid(&m.merchant_id) {
                problems.push(format!("OIDC merchantId {:?} is not a GUID", m.merchant_id));
            }
        }
        for u in &self.users {
            if !formats::is_guid(&u.sub) {
                problems.push(format!("portal user {:?}: sub is not a GUID", u.login));
            }
            for vat in u.merchants.iter().filter(|v| self.merchant_by_vat(v).is_none()) {
                problems.push(format!("portal user {:?}: no OIDC merchant {vat:?}", u.login));
            }
        }
    }
}

/// MobilePay Invoice test data: the developer portal's apps (the `x-ibm-client-id` and
/// `x-ibm-client-secret` every API call carries, distinct from the OIDC client), the invoice
/// issuers of each merchant, and the sandbox's test users.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceFixtures {
    pub gateway_apps: Vec<GatewayApp>,
    pub issuers: Vec<InvoiceIssuer>,
    pub users: Vec<InvoiceUser>,
}

/// An app of the API gateway (IBM API Connect), subscribed to the Invoice or Subscriptions
/// API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApp {
    pub client_id: String,
    pub client_secret: String,
}

/// An issuer's approval in the MobilePay portal; only `enabled` issuers may send invoices.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum IssuerStatus {
    Pending,
    Enabled,
    Disabled,
}

/// The department or brand invoices are sent under, belonging to one merchant (`MerchantId`
/// of the OIDC merchants).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceIssuer {
    pub merchant_id: String,
    pub id: String,
    pub name: String,
    pub status: IssuerStatus,
    pub address: String,
    pub city: String,
    pub zip_code: String,
}

/// A sandbox test user: the `AuthenticatedUser` GUID of the user simulation, the card it pays
/// with, and its phone number (`+` and country code).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceUser {
    pub authenticated_user: String,
    pub consumer_card: String,
    pub phone: String,
    /// Payments with this user's card fail.
    #[serde(default)]
    pub card_expired: bool,
    /// A user who cannot receive invoices (`10102` "MobilePay user not available").
    #[serde(default = "yes")]
    pub available: bool,
}

pub const INVOICE_GATEWAY_CLIENT_ID: &str = "e2a1c3d4-5b6f-4a7e-9c8d-1f2e3d4c5b6a";
pub const INVOICE_GATEWAY_CLIENT_SECRET: &str = "sim-secret-invoice-gateway";
pub const DK_ISSUER: &str = "0e6c5b4a-3d2f-4e1a-8b9c-7d6e5f4a3b2c";
pub const DK_ISSUER_PENDING: &str = "1f7d6c5b-4e3a-4f2b-9c0d-8e7f6a5b4c3d";
pub const DK_ISSUER_DISABLED: &str = "2a8e7d6c-5f4b-4a3c-8d1e-9f8a7b6c5d4e";
pub const FI_ISSUER: &str = "3b9f8e7d-6a5c-4b4d-9e2f-0a9b8c7d6e5f";
/// The reference's DK test user who pays.
pub const INVOICE_USER: &str = "f1a75bb4-c8a6-41f8-8603-4cf9278cd5ba";
pub const INVOICE_USER_PHONE: &str = "+4557373259";
/// The reference's DK test user whose card has expired.
pub const INVOICE_EXPIRED_CARD_USER: &str = "4f474aa2-6161-4094-97fd-62616ff3d21e";
pub const INVOICE_EXPIRED_CARD_PHONE: &str = "+4599592431";
/// A DK user who cannot receive invoices.
pub const INVOICE_UNAVAILABLE_USER: &str = "5c0a9f8e-7b6d-4c5e-8f3a-1b0c9d8e7f6a";
pub const INVOICE_UNAVAILABLE_PHONE: &str = "+4520202020";
pub const INVOICE_FI_USER: &str = "6d1b0a9f-8c7e-4d6f-9a4b-2c1d0e9f8a7b";
pub const INVOICE_FI_PHONE: &str = "+358401234567";

impl Default for InvoiceFixtures {
    fn default() -> Self {
        let issuer = |merchant: &str, id: &str, name: &str, status, address: &str, city: &str, zip: &str| {
            InvoiceIssuer {
                merchant_id: merchant.into(),
                id: id.into(),
                name: name.into(),
                status,
                address: address.into(),
                city: city.into(),
                zip_code: zip.into(),
            }
        };
        let user = |guid: &str, card: &str, phone: &str| InvoiceUser {
            authenticated_user: guid.into(),
            consumer_card: card.into(),
            phone: phone.into(),
            card_expired: false,
            available: true,
        };
        InvoiceFixtures {
            gateway_apps: vec![GatewayApp {
                client_id: INVOICE_GATEWAY_CLIENT_ID.into(),
                client_secret: INVOICE_GATEWAY_CLIENT_SECRET.into(),
            }],
            issuers: vec![
                issuer(
                    DK_MERCHANT_ID,
                    DK_ISSUER,
                    "Bageriet",
                    IssuerStatus::Enabled,
                    "Nørrebrogade 1",
                    "København N",
                    "2200",
                ),
                issuer(
                    DK_MERCHANT_ID,
                    DK_ISSUER_PENDING,
                    "Bageriet Catering",
                    IssuerStatus::Pending,
                    "Nørrebrogade 1",
                    "København N",
                    "2200",
                ),
                issuer(
                    DK_MERCHANT_ID,
                    DK_ISSUER_DISABLED,
                    "Bageriet Engros",
                    IssuerStatus::Disabled,
                    "Nørrebrogade 1",
                    "København N",
                    "2200",
                ),
                issuer(
                    FI_MERCHANT_ID,
                    FI_ISSUER,
                    "Leipomo",
                    IssuerStatus::Enabled,
                    "Helsinginkatu 4",
                    "Helsinki",
                    "00500",
                ),
            ],
            users: vec![
                user(
                    INVOICE_USER,
                    "6956b1ae-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
                    INVOICE_USER_PHONE,
                ),
                InvoiceUser {
                    card_expired: true,
                    ..user(
                        INVOICE_EXPIRED_CARD_USER,
                        "a6d8044d-2d3e-4f4a-9b0c-1d2e3f4a5b6c",
                        INVOICE_EXPIRED_CARD_PHONE,
                    )
                },
                InvoiceUser {
                    available: false,
                    ..user(
                        INVOICE_UNAVAILABLE_USER,
                        "b7e9155e-3e4f-4a5b-8c1d-2e3f4a5b6c7d",
                        INVOICE_UNAVAILABLE_PHONE,
                    )
                },
                user(
                    INVOICE_FI_USER,
                    "c8fa266f-4f5a-4b6c-9d2e-3f4a5b6c7d8e",
                    INVOICE_FI_PHONE,
                ),
            ],
        }
    }
}

impl InvoiceFixtures {
    pub fn user_by_phone(&self, phone: &str) -> Option<&InvoiceUser> {
        self.users.iter().find(|u| u.phone == phone)
    }

    pub fn user_by_guid(&self, guid: &str) -> Option<&InvoiceUser> {
        self.users
            .iter()
            .find(|u| u.authenticated_user.eq_ignore_ascii_case(guid))
    }

    pub fn issuers_of<'a>(&'a self, merchant_id: &'a str) -> impl Iterator<Item = &'a InvoiceIssuer> + 'a {
        self.issuers
            .iter()
            .filter(move |i| i.merchant_id.eq_ignore_ascii_case(merchant_id))
    }

    /// An issuer of a merchant the OIDC fixtures do not have is not a problem: nobody can get
    /// a token for it, so it is never used (and a file that replaces only the OIDC merchants
    /// keeps working with the built-in issuers).
    fn problems(&self, problems: &mut Vec<String>) {
        for i in &self.issuers {
            if !formats::is_guid(&i.id) || !formats::is_guid(&i.merchant_id) {
                problems.push(format!(
                    "invoice issuer {:?}: id and merchantId must be GUIDs",
                    i.id
                ));
            }
        }
        for u in &self.users {
            if !formats::is_guid(&u.authenticated_user) {
                problems.push(format!(
                    "invoice user {:?}: authenticatedUser is not a GUID",
                    u.phone
                ));
            }
            let digits = u.phone.strip_prefix('+').unwrap_or_default();
            let valid = (digits.starts_with("45") || digits.starts_with("358"))
                && (10..=13).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit());
            if !valid {
                problems.push(format!(
                    "invoice user phone {:?} is not +45 or +358 and digits",
                    u.phone
                ));
            }
        }
    }
}

/// MobilePay Subscriptions test data: the developer portal's apps subscribed to the
/// Subscriptions API and each merchant's subscription providers (one per brand, §3.3).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsFixtures {
    pub gateway_apps: Vec<GatewayApp>,
    pub providers: Vec<SubscriptionProvider>,
}

/// A provider's approval by MobilePay; only `enabled` providers may create agreements.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ProviderStatus {
    Pending,
    Enabled,
}

/// The brand agreements are made under, belonging to one merchant (`MerchantId` of the OIDC
/// merchants).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionProvider {
    pub merchant_id: String,
    pub id: String,
    pub name: String,
    pub status: ProviderStatus,
    pub homepage_url: String,
    pub customer_service_email: String,
    pub self_service_portal_url: String,
    pub faq_url: String,
    pub address: String,
    pub zip_code: String,
    pub city: String,
}

pub const DK_PROVIDER: &str = "5e1d2c3b-4a59-4687-9a1b-2c3d4e5f6a7b";
pub const DK_PROVIDER_PENDING: &str = "6f2e3d4c-5b6a-4798-8b2c-3d4e5f6a7b8c";
pub const FI_PROVIDER: &str = "7a3f4e5d-6c7b-48a9-9c3d-4e5f6a7b8c9d";

impl Default for SubscriptionsFixtures {
    fn default() -> Self {
        let provider = |merchant: &str,
                        id: &str,
                        name: &str,
                        status,
                        site: &str,
                        address: &str,
                        zip: &str,
                        city: &str| {
            SubscriptionProvider {
                merchant_id: merchant.into(),
                id: id.into(),
                name: name.into(),
                status,
                homepage_url: format!("https://{site}"),
                customer_service_email: format!("service@{site}"),
                self_service_portal_url: format!("https://{site}/account"),
                faq_url: format!("https://{site}/faq"),
                address: address.into(),
                zip_code: zip.into(),
                city: city.into(),
            }
        };
        SubscriptionsFixtures {
            // One developer-portal app subscribed to both APIs, as an integrator of both had.
            gateway_apps: InvoiceFixtures::default().gateway_apps,
            providers: vec![
                provider(
                    DK_MERCHANT_ID,
                    DK_PROVIDER,
                    "Bageriet Brødklub",
                    ProviderStatus::Enabled,
                    "bageriet.example",
                    "Nørrebrogade 1",
                    "2200",
                    "København N",
                ),
                provider(
                    DK_MERCHANT_ID,
                    DK_PROVIDER_PENDING,
                    "Bageriet Kaffeklub",
                    ProviderStatus::Pending,
                    "kaffe.bageriet.example",
                    "Nørrebrogade 1",
                    "2200",
                    "København N",
                ),
                provider(
                    FI_MERCHANT_ID,
                    FI_PROVIDER,
                    "Leipomo Leipäklubi",
                    ProviderStatus::Enabled,
                    "leipomo.example",
                    "Helsinginkatu 4",
                    "00500",
                    "Helsinki",
                ),
            ],
        }
    }
}

impl SubscriptionsFixtures {
    pub fn providers_of<'a>(
        &'a self,
        merchant_id: &'a str,
    ) -> impl Iterator<Item = &'a SubscriptionProvider> + 'a {
        self.providers
            .iter()
            .filter(move |p| p.merchant_id.eq_ignore_ascii_case(merchant_id))
    }

    /// The merchant's provider `id`; another merchant's is not found.
    pub fn provider(&self, merchant_id: &str, id: &str) -> Option<&SubscriptionProvider> {
        self.providers
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(id) && p.merchant_id.eq_ignore_ascii_case(merchant_id))
    }

    fn problems(&self, problems: &mut Vec<String>) {
        let mut ids = std::collections::HashSet::new();
        for p in &self.providers {
            if !formats::is_guid(&p.id) || !formats::is_guid(&p.merchant_id) {
                problems.push(format!(
                    "subscription provider {:?}: id and merchantId must be GUIDs",
                    p.id
                ));
            }
            if !ids.insert(p.id.to_lowercase()) {
                problems.push(format!("subscription provider {:?} appears twice", p.id));
            }
        }
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
            oidc: OidcFixtures::default(),
            invoice: InvoiceFixtures::default(),
            subscriptions: SubscriptionsFixtures::default(),
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
        self.oidc.problems(&mut problems);
        self.invoice.problems(&mut problems);
        self.subscriptions.problems(&mut problems);
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
        f.oidc.users[1].merchants.push("DK00000000".into());
        f.oidc.clients[1].client_id = OIDC_ONETIME_CLIENT_ID.into();
        f.invoice.issuers[0].merchant_id = "merchant".into();
        f.invoice.users[0].phone = "4557373259".into();
        f.subscriptions.providers[1].id = DK_PROVIDER.into();
        let err = f.validate().unwrap_err();
        assert!(err.contains("DK-1") && err.contains("appears twice"), "{err}");
        assert!(err.contains("MSN \"123456\" appears twice"), "{err}");
        assert!(err.contains("+4591000001"), "{err}");
        assert!(err.contains("no OIDC merchant \"DK00000000\""), "{err}");
        assert!(
            err.contains("OIDC client \"sim-oidc-onetime\" appears twice"),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "invoice issuer \"{DK_ISSUER}\": id and merchantId must be GUIDs"
            )),
            "{err}"
        );
        assert!(err.contains("invoice user phone \"4557373259\""), "{err}");
        assert!(
            err.contains(&format!("subscription provider \"{DK_PROVIDER}\" appears twice")),
            "{err}"
        );
    }
}
