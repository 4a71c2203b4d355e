//! Keeping each configured point of sale registered at MobilePay, and retiring it safely.
//!
//! At start the daemon calls [`onboard`] for every configured PoS (reference §9.6): find the
//! PoS by its `merchantPosId`; if there is none, create it; read back its `beaconId` (MobilePay
//! generates one when the configuration leaves it open). A PoS cannot be edited, so when the
//! configured name, beacon or beacon types differ from the live PoS it is deleted and
//! re-created, but only when none of its payments is open (§17.16: active or reserved at
//! MobilePay, or still open in the caller's journal); otherwise the live PoS stays in use and
//! the result says what it waits for.
//!
//! The idempotency key of a creation is stored durably before the request goes out, so a
//! creation interrupted by a crash is repeated with the same key and cannot leave a second PoS.
//!
//! [`offboard`] deletes a PoS only after all its payments are captured or cancelled (§17.16).
use crate::correlation::Correlation;

use crate::{
    backends::pos_v10::{
        client::MobilePayClient,
        error::{codes, ApiError},
        formats,
        idempotency::IdempotencyKey,
        model::{BeaconType, CreatePosRequest, PosResponse},
    },
    store::Db,
};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// One point of sale as the configuration describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosSettings {
    /// The merchant's VAT number; it selects the client (and token) to use.
    pub vat: String,
    pub store: StoreRef,
    /// Our stable name for this checkout, unique per merchant.
    pub merchant_pos_id: String,
    /// Shown in the customer's app and on the receipt.
    pub name: String,
    pub beacon: BeaconChoice,
    pub supported_beacon_types: Vec<BeaconType>,
    #[serde(default)]
    pub require_payment_before_checkin: bool,
}

/// Which store the PoS belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreRef {
    /// The store's GUID.
    Id(String),
    /// The brand and location ids merchants know from older MobilePay APIs.
    Location {
        merchant_brand_id: String,
        merchant_location_id: String,
    },
}

/// The beacon customers scan or tap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BeaconChoice {
    /// A beacon id of a printed sticker or a device: 15 digits or a GUID.
    Fixed(String),
    /// Let MobilePay generate one (for a QR code drawn on a screen); read back at every start.
    Generated,
}

impl PosSettings {
    /// Checks the settings against MobilePay's formats, so that a typo is reported at start
    /// with the field's name instead of as a 400 from MobilePay.
    pub fn validate(&self) -> Result<(), OnboardingError> {
        match self.problems().into_iter().next() {
            Some((field, rule)) => Err(OnboardingError::Settings(format!(
                "PoS {:?}: {field} {rule}",
                self.merchant_pos_id
            ))),
            None => Ok(()),
        }
    }

    /// Every setting that breaks MobilePay's formats: the setting's key (as written in the
    /// daemon's configuration, e.g. `store.id`) and the rule it breaks.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if !formats::is_valid_vat(&self.vat) {
            out.push(("vat", "must be DK or FI followed by 8 digits, e.g. DK12345678"));
        }
        if !formats::is_valid_text(&self.merchant_pos_id, formats::MAX_TEXT) {
            out.push(("merchant_pos_id", "must be 1 to 36 characters MobilePay accepts"));
        }
        if !formats::is_valid_text(&self.name, formats::MAX_TEXT) {
            out.push(("name", "must be 1 to 36 characters MobilePay accepts"));
        }
        match &self.store {
            StoreRef::Id(id) if !formats::is_guid(id) => out.push(("store.id", "must be a GUID")),
            StoreRef::Location {
                merchant_brand_id,
                merchant_location_id,
            } => {
                if !formats::is_valid_brand_id(merchant_brand_id) {
                    out.push((
                        "store.location.merchant_brand_id",
                        "must look like POSDK12345, POSFI12345 or MPPOS12345",
                    ));
                }
                if !formats::is_valid_location_id(merchant_location_id) {
                    out.push((
                        "store.location.merchant_location_id",
                        "must be exactly 5 characters, e.g. 00001",
                    ));
                }
            }
            StoreRef::Id(_) => {}
        }
        if let BeaconChoice::Fixed(id) = &self.beacon {
            if !formats::is_valid_beacon_id(id) {
                out.push(("beacon.fixed", "must be 15 digits or a GUID"));
            }
        }
        let unique: BTreeSet<_> = self.supported_beacon_types.iter().map(beacon_type_name).collect();
        if self.supported_beacon_types.is_empty() || unique.len() != self.supported_beacon_types.len() {
            out.push((
                "supported_beacon_types",
                "must list each way customers check in (QR, NFC, Bluetooth) once",
            ));
        }
        out
    }

    fn create_request(&self, store_id: &str) -> CreatePosRequest {
        CreatePosRequest {
            merchant_pos_id: self.merchant_pos_id.clone(),
            store_id: store_id.to_string(),
            name: self.name.clone(),
            beacon_id: match &self.beacon {
                BeaconChoice::Fixed(id) => Some(id.to_lowercase()),
                BeaconChoice::Generated => None,
            },
            callback_alias: None,
            supported_beacon_types: self.supported_beacon_types.clone(),
            require_payment_before_checkin: Some(self.require_payment_before_checkin),
        }
    }

    /// What differs between these settings and the live PoS (empty: in sync).
    pub fn differences(&self, store_id: &str, live: &PosResponse) -> Vec<String> {
        let mut out = Vec::new();
        if live.store_id.to_lowercase() != store_id.to_lowercase() {
            out.push(format!("store {} (configured {store_id})", live.store_id));
        }
        if live.name != self.name {
            out.push(format!("name {:?} (configured {:?})", live.name, self.name));
        }
        if let BeaconChoice::Fixed(id) = &self.beacon {
            if !live.beacon_id.eq_ignore_ascii_case(id) {
                out.push(format!("beacon id {} (configured {id})", live.beacon_id));
            }
        }
        let live_types: BTreeSet<_> = live.supported_beacon_types.iter().map(beacon_type_name).collect();
        let want_types: BTreeSet<_> = self.supported_beacon_types.iter().map(beacon_type_name).collect();
        if live_types != want_types {
            out.push(format!("beacon types {live_types:?} (configured {want_types:?})"));
        }
        if live.require_payment_before_checkin != self.require_payment_before_checkin {
            out.push(format!(
                "requirePaymentBeforeCheckin {} (configured {})",
                live.require_payment_before_checkin, self.require_payment_before_checkin
            ));
        }
        out
    }
}

fn beacon_type_name(t: &BeaconType) -> &'static str {
    match t {
        BeaconType::QR => "QR",
        BeaconType::NFC => "NFC",
        BeaconType::Bluetooth => "Bluetooth",
    }
}

/// A PoS ready for payments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnboardedPos {
    pub pos_id: String,
    /// The id to put in the QR code (lower case, see `formats::qr_payload`).
    pub beacon_id: String,
    pub store_id: String,
    pub outcome: SyncOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The live PoS matches the settings.
    Unchanged,
    /// There was no PoS; it was created.
    Created,
    /// The live PoS differed; it was deleted and created again.
    Recreated { differences: Vec<String> },
    /// The live PoS differs but has open payments, so it was left as it is (and is used)
    /// until they are captured or cancelled.
    OutOfSync {
        differences: Vec<String>,
        /// Payments active or reserved at MobilePay, and those the caller said are open.
        open_payments: Vec<String>,
    },
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum OnboardingError {
    #[error("invalid settings: {0}")]
    Settings(String),
    #[error(
        "PoS {merchant_pos_id:?} is configured for merchant {configured} but the client is for {client}"
    )]
    WrongMerchant {
        merchant_pos_id: String,
        configured: String,
        client: String,
    },
    #[error("no store of merchant {vat} at brand {brand} location {location}")]
    StoreNotFound {
        vat: String,
        brand: String,
        location: String,
    },
    #[error("the beacon id {beacon_id} is already used by another PoS ({other}); offboard that PoS or configure another beacon")]
    BeaconTaken { beacon_id: String, other: String },
    #[error("PoS {pos_id} still has open payments ({payments}); capture or cancel them before deleting it")]
    OpenPayments { pos_id: String, payments: String },
    #[error("MobilePay: {0}")]
    Api(#[from] ApiError),
    #[error("the onboarding records: {0}")]
    Store(String),
}

/// What offboarding did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffboardOutcome {
    Deleted {
        pos_id: String,
    },
    /// No PoS with that `merchantPosId` exists (already offboarded).
    NotFound,
}

/// Durable storage of creation keys (one database tree).
#[derive(Clone)]
pub struct PendingCreations {
    db: Arc<Db>,
    tree: sled::Tree,
}

#[derive(Serialize, Deserialize)]
struct PendingCreate {
    key: IdempotencyKey,
    request: CreatePosRequest,
    created_at_ms: u64,
}

/// A stored key older than this is not reused: MobilePay keeps keys for at least 24 hours, so
/// a repeat with an older key could create a second PoS.
const KEY_REUSE_LIMIT: Duration = Duration::from_secs(20 * 3600);

impl PendingCreations {
    pub fn open(db: Arc<Db>) -> Result<PendingCreations, OnboardingError> {
        let tree = db
            .tree("onboarding")
            .map_err(|e| OnboardingError::Store(format!("{e:#}")))?;
        Ok(PendingCreations { db, tree })
    }

    fn record_key(vat: &str, merchant_pos_id: &str) -> String {
        format!("create/{vat}/{merchant_pos_id}")
    }

    /// The key for this creation: the stored one if it was made for the same request and is
    /// recent enough, else a new one, stored durably before it is returned.
    fn key_for(&self, vat: &str, request: &CreatePosRequest) -> Result<IdempotencyKey, OnboardingError> {
        let id = Self::record_key(vat, &request.merchant_pos_id);
        let store_err = |e: String| OnboardingError::Store(e);
        let now = millis(SystemTime::now());
        if let Some(raw) = self.tree.get(&id).map_err(|e| store_err(e.to_string()))? {
            if let Ok(pending) = serde_json::from_slice::<PendingCreate>(&raw) {
                let age = Duration::from_millis(now.saturating_sub(pending.created_at_ms));
                if pending.request == *request && age < KEY_REUSE_LIMIT {
                    tracing::info!(idempotency_key = %pending.key, "repeating an unfinished PoS creation with its key");
                    return Ok(pending.key);
                }
            }
        }
        let pending = PendingCreate {
            key: IdempotencyKey::generate(),
            request: request.clone(),
            created_at_ms: now,
        };
        let bytes = serde_json::to_vec(&pending).map_err(|e| store_err(e.to_string()))?;
        self.tree
            .insert(&id, bytes)
            .map_err(|e| store_err(e.to_string()))?;
        self.db.durable().map_err(|e| store_err(format!("{e:#}")))?;
        Ok(pending.key)
    }

    /// The creation has an answer; its key is no longer needed.
    fn finish(&self, vat: &str, merchant_pos_id: &str) {
        if let Err(err) = self.tree.remove(Self::record_key(vat, merchant_pos_id)) {
            tracing::warn!(error = %err, "cannot drop a finished creation record");
        }
    }

    /// The stored key of an unfinished creation, if any (for status displays and tests).
    pub fn pending_key(&self, vat: &str, merchant_pos_id: &str) -> Option<IdempotencyKey> {
        let raw = self.tree.get(Self::record_key(vat, merchant_pos_id)).ok()??;
        serde_json::from_slice::<PendingCreate>(&raw).ok().map(|p| p.key)
    }
}

/// Makes sure the configured PoS exists at MobilePay and matches its settings.
///
/// `ours_open` are payments the caller still has open on its point of sale that MobilePay may
/// not list yet (e.g. a create on its way); like MobilePay's open payments they keep a
/// differing PoS from being deleted.
pub async fn onboard(
    client: &MobilePayClient,
    pending: &PendingCreations,
    correlation: &Correlation,
    settings: &PosSettings,
    ours_open: &[String],
) -> Result<OnboardedPos, OnboardingError> {
    settings.validate()?;
    if settings.vat != client.vat() {
        return Err(OnboardingError::WrongMerchant {
            merchant_pos_id: settings.merchant_pos_id.clone(),
            configured: settings.vat.clone(),
            client: client.vat().to_string(),
        });
    }
    let store_id = resolve_store(client, correlation, settings).await?;
    let existing = client
        .find_pos(correlation, Some(&settings.merchant_pos_id), None, None)
        .await?;
    let Some(pos_id) = existing.into_iter().next() else {
        let live = create(client, pending, correlation, settings, &store_id).await?;
        return Ok(onboarded(live, SyncOutcome::Created));
    };
    // Whatever creation may have been pending has evidently happened.
    pending.finish(&settings.vat, &settings.merchant_pos_id);
    let live = client.get_pos(correlation, &pos_id).await?;
    let differences = settings.differences(&store_id, &live);
    if differences.is_empty() {
        tracing::info!(pos_id = %live.pos_id, "PoS is in sync");
        return Ok(onboarded(live, SyncOutcome::Unchanged));
    }
    let mut open_payments = open_payments(client, correlation, &pos_id).await?;
    for payment in ours_open {
        if !open_payments.contains(payment) {
            open_payments.push(payment.clone());
        }
    }
    if !open_payments.is_empty() {
        tracing::warn!(
            pos_id = %pos_id,
            differences = ?differences,
            open_payments = ?open_payments,
            "PoS differs from its settings but has open payments; keeping it until they end"
        );
        return Ok(onboarded(
            live,
            SyncOutcome::OutOfSync {
                differences,
                open_payments,
            },
        ));
    }
    tracing::info!(pos_id = %pos_id, differences = ?differences, "PoS differs from its settings; re-creating it");
    delete_existing(client, correlation, &pos_id).await?;
    let live = create(client, pending, correlation, settings, &store_id).await?;
    Ok(onboarded(live, SyncOutcome::Recreated { differences }))
}

/// Deletes the PoS with `merchant_pos_id`, but only when none of its payments is still open
/// (active or reserved): those must be captured or cancelled first.
pub async fn offboard(
    client: &MobilePayClient,
    correlation: &Correlation,
    merchant_pos_id: &str,
) -> Result<OffboardOutcome, OnboardingError> {
    let found = client
        .find_pos(correlation, Some(merchant_pos_id), None, None)
        .await?;
    let Some(pos_id) = found.into_iter().next() else {
        return Ok(OffboardOutcome::NotFound);
    };
    let mut open = Vec::new();
    for payment_id in client
        .find_payments(correlation, Some(&pos_id), None, false)
        .await?
    {
        match client.get_payment(correlation, &payment_id).await {
            Ok(payment) if payment.status.is_terminal() => {}
            Ok(payment) => open.push(format!("{payment_id} {}", payment.status)),
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
    }
    if !open.is_empty() {
        return Err(OnboardingError::OpenPayments {
            pos_id,
            payments: open.join(", "),
        });
    }
    delete_existing(client, correlation, &pos_id).await?;
    tracing::info!(pos_id = %pos_id, merchant_pos_id, "PoS offboarded");
    Ok(OffboardOutcome::Deleted { pos_id })
}

fn onboarded(live: PosResponse, outcome: SyncOutcome) -> OnboardedPos {
    OnboardedPos {
        pos_id: live.pos_id,
        beacon_id: live.beacon_id.to_lowercase(),
        store_id: live.store_id,
        outcome,
    }
}

async fn resolve_store(
    client: &MobilePayClient,
    correlation: &Correlation,
    settings: &PosSettings,
) -> Result<String, OnboardingError> {
    match &settings.store {
        StoreRef::Id(id) => Ok(id.clone()),
        StoreRef::Location {
            merchant_brand_id,
            merchant_location_id,
        } => {
            let ids = client
                .find_stores(correlation, Some((merchant_brand_id, merchant_location_id)))
                .await?;
            ids.into_iter()
                .next()
                .ok_or_else(|| OnboardingError::StoreNotFound {
                    vat: settings.vat.clone(),
                    brand: merchant_brand_id.clone(),
                    location: merchant_location_id.clone(),
                })
        }
    }
}

/// Payments that block deleting a PoS (§17.16): active ones (Prepared, Initiated, Paired,
/// IssuedToUser), reserved ones (MobilePay would still let them be captured after the
/// deletion, but the best practice is to finish them first), and states this version does not
/// know.
async fn open_payments(
    client: &MobilePayClient,
    correlation: &Correlation,
    pos_id: &str,
) -> Result<Vec<String>, OnboardingError> {
    let mut open = Vec::new();
    for payment_id in client
        .find_payments(correlation, Some(pos_id), None, false)
        .await?
    {
        match client.get_payment(correlation, &payment_id).await {
            Ok(p) if !p.status.is_terminal() => open.push(payment_id),
            Ok(_) => {}
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(open)
}

/// Deletes a PoS we just found. A 404 means an earlier attempt whose answer was lost already
/// deleted it, which is the outcome we want.
async fn delete_existing(
    client: &MobilePayClient,
    correlation: &Correlation,
    pos_id: &str,
) -> Result<(), OnboardingError> {
    match client.delete_pos(correlation, pos_id).await {
        Ok(()) => Ok(()),
        Err(err) if err.is_not_found() => Ok(()),
        Err(err) => Err(err.into()),
    }
}

async fn create(
    client: &MobilePayClient,
    pending: &PendingCreations,
    correlation: &Correlation,
    settings: &PosSettings,
    store_id: &str,
) -> Result<PosResponse, OnboardingError> {
    let request = settings.create_request(store_id);
    let key = pending.key_for(&settings.vat, &request)?;
    let created = client.create_pos(correlation, &key, &request).await;
    let pos_id = match created {
        Ok(answer) => {
            pending.finish(&settings.vat, &settings.merchant_pos_id);
            answer.pos_id
        }
        Err(err) if err.is_conflict(codes::MERCHANT_POS_ID_EXISTS) => {
            // Created meanwhile (another start, or a lost answer whose key expired): use it.
            pending.finish(&settings.vat, &settings.merchant_pos_id);
            let found = client
                .find_pos(correlation, Some(&settings.merchant_pos_id), None, None)
                .await?;
            match found.into_iter().next() {
                Some(id) => id,
                None => return Err(err.into()),
            }
        }
        Err(err) if err.is_conflict(codes::BEACON_ID_EXISTS) => {
            pending.finish(&settings.vat, &settings.merchant_pos_id);
            let beacon_id = request.beacon_id.clone().unwrap_or_default();
            let other = client
                .find_pos(correlation, None, Some(&beacon_id), None)
                .await
                .ok()
                .and_then(|ids| ids.into_iter().next())
                .unwrap_or_else(|| "of another integrator or merchant".into());
            return Err(OnboardingError::BeaconTaken { beacon_id, other });
        }
        Err(err) => {
            // Only an unknown outcome keeps the key for the next attempt.
            if !err.outcome_unknown() {
                pending.finish(&settings.vat, &settings.merchant_pos_id);
            }
            return Err(err.into());
        }
    };
    let live = client.get_pos(correlation, &pos_id).await?;
    tracing::info!(pos_id = %live.pos_id, beacon_id = %live.beacon_id, "PoS created");
    Ok(live)
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PosSettings {
        PosSettings {
            vat: "DK12345678".into(),
            store: StoreRef::Id("401b5617-ae5e-4f1a-9a59-5a446dbb3caa".into()),
            merchant_pos_id: "kasse-1".into(),
            name: "Kasse 1".into(),
            beacon: BeaconChoice::Generated,
            supported_beacon_types: vec![BeaconType::QR],
            require_payment_before_checkin: false,
        }
    }

    fn live() -> PosResponse {
        PosResponse {
            pos_id: "p".into(),
            merchant_pos_id: "kasse-1".into(),
            store_id: "401B5617-AE5E-4F1A-9A59-5A446DBB3CAA".into(),
            name: "Kasse 1".into(),
            beacon_id: "0b1d2c3e-0000-4000-8000-000000000001".into(),
            callback_alias: None,
            supported_beacon_types: vec![BeaconType::QR],
            require_payment_before_checkin: false,
        }
    }

    #[test]
    fn settings_are_validated_with_the_field_named() {
        settings().validate().unwrap();
        let mut s = settings();
        s.vat = "DK123".into();
        assert!(s.validate().unwrap_err().to_string().contains("vat"));
        let mut s = settings();
        s.name = "x".repeat(37);
        assert!(s.validate().unwrap_err().to_string().contains("name"));
        let mut s = settings();
        s.beacon = BeaconChoice::Fixed("12345".into());
        assert!(s.validate().unwrap_err().to_string().contains("beacon"));
        let mut s = settings();
        s.supported_beacon_types = vec![BeaconType::QR, BeaconType::QR];
        assert!(s.validate().is_err());
        s.supported_beacon_types.clear();
        assert!(s.validate().is_err());
        // Every broken setting is listed, not only the first.
        let mut s = settings();
        s.vat = "DK123".into();
        s.store = StoreRef::Id("not-a-guid".into());
        let fields: Vec<_> = s.problems().into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["vat", "store.id"]);
        let mut s = settings();
        s.store = StoreRef::Location {
            merchant_brand_id: "POSDK12345".into(),
            merchant_location_id: "0001".into(),
        };
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("merchant_location_id"));
    }

    #[test]
    fn differences_ignore_case_order_and_generated_beacons() {
        let s = settings();
        let store = "401b5617-ae5e-4f1a-9a59-5a446dbb3caa";
        assert!(s.differences(store, &live()).is_empty());
        let mut l = live();
        l.supported_beacon_types = vec![BeaconType::QR];
        let mut s2 = s.clone();
        s2.supported_beacon_types = vec![BeaconType::NFC, BeaconType::QR];
        l.supported_beacon_types = vec![BeaconType::QR, BeaconType::NFC];
        assert!(s2.differences(store, &l).is_empty());
        let mut s3 = s.clone();
        s3.beacon = BeaconChoice::Fixed("0B1D2C3E-0000-4000-8000-000000000001".into());
        assert!(s3.differences(store, &live()).is_empty());
        s3.beacon = BeaconChoice::Fixed("123456789012345".into());
        s3.name = "Kasse 2".into();
        let d = s3.differences(store, &live());
        assert_eq!(d.len(), 2, "{d:?}");
        let mut s4 = s.clone();
        s4.require_payment_before_checkin = true;
        assert_eq!(s4.differences(store, &live()).len(), 1);
    }

    #[test]
    fn creation_keys_are_durable_and_reused_only_for_the_same_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let request = settings().create_request("401b5617-ae5e-4f1a-9a59-5a446dbb3caa");
        let first = {
            let pending = PendingCreations::open(Arc::new(Db::open(&path, 1 << 20).unwrap())).unwrap();
            pending.key_for("DK12345678", &request).unwrap()
        };
        let pending = PendingCreations::open(Arc::new(Db::open(&path, 1 << 20).unwrap())).unwrap();
        assert_eq!(pending.pending_key("DK12345678", "kasse-1"), Some(first.clone()));
        assert_eq!(pending.key_for("DK12345678", &request).unwrap(), first);
        let mut changed = request.clone();
        changed.name = "Kasse 9".into();
        let second = pending.key_for("DK12345678", &changed).unwrap();
        assert_ne!(second, first);
        pending.finish("DK12345678", "kasse-1");
        assert_eq!(pending.pending_key("DK12345678", "kasse-1"), None);
    }

    #[test]
    fn settings_read_from_toml() {
        let s: PosSettings = toml::from_str(
            r#"
            vat = "DK12345678"
            merchant_pos_id = "kasse-1"
            name = "Kasse 1"
            beacon = { fixed = "123456789012345" }
            supported_beacon_types = ["QR", "NFC"]
            store = { location = { merchant_brand_id = "POSDK12345", merchant_location_id = "00001" } }
            "#,
        )
        .unwrap();
        s.validate().unwrap();
        assert!(!s.require_payment_before_checkin);
        let g: PosSettings = toml::from_str(
            r#"
            vat = "DK12345678"
            merchant_pos_id = "kasse-1"
            name = "Kasse 1"
            beacon = "generated"
            supported_beacon_types = ["QR"]
            store = { id = "401b5617-ae5e-4f1a-9a59-5a446dbb3caa" }
            "#,
        )
        .unwrap();
        assert_eq!(g.beacon, BeaconChoice::Generated);
    }
}
