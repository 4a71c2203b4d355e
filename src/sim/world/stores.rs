//! Merchants' stores and the points of sale integrators register on them, with the customer's
//! check-in on a point of sale: what `/stores` and `/pointofsales` act on.

use super::customer::UserData;
use super::records::{Caller, Pos};
use super::{new_id, World};
use crate::backends::pos_v10::model::{
    CreatePosRequest, GetCheckInResponse, PaymentStatus, PosResponse, StoreResponse,
};
use crate::sim::clock::Millis;
use crate::sim::error::ErrorAnswer;
use crate::sim::fixtures::Store;
use std::collections::BTreeSet;

impl World {
    pub fn stores_of(&self, vat: &str, brand_and_location: Option<(&str, &str)>) -> Vec<&Store> {
        let mut found: Vec<&Store> = self
            .stores
            .values()
            .filter(|(owner, s)| {
                owner == vat
                    && brand_and_location
                        .is_none_or(|(b, l)| s.merchant_brand_id == b && s.merchant_location_id == l)
            })
            .map(|(_, s)| s)
            .collect();
        found.sort_by(|a, b| a.store_id.cmp(&b.store_id));
        found
    }

    pub fn store(&self, caller: &Caller, store_id: &str) -> Result<StoreResponse, ErrorAnswer> {
        match self.stores.get(&store_id.to_lowercase()) {
            Some((vat, s)) if *vat == caller.vat => Ok(store_response(s)),
            _ => Err(ErrorAnswer::not_found()),
        }
    }

    pub fn create_pos(&mut self, caller: &Caller, req: &CreatePosRequest) -> Result<String, ErrorAnswer> {
        self.add_pos(caller, req, new_id())
    }

    /// Puts back a point of sale that MobilePay keeps under `pos_id` for the caller (the
    /// control API's seeding: a simulator started afresh knows none of the points of sale a
    /// box registered before). The same checks as [`World::create_pos`], and the id must be
    /// free.
    pub fn restore_pos(
        &mut self,
        caller: &Caller,
        req: &CreatePosRequest,
        pos_id: &str,
    ) -> Result<String, ErrorAnswer> {
        let pos_id = pos_id.to_lowercase();
        if self.poses.contains_key(&pos_id) {
            return Err(ErrorAnswer::conflict(
                "1200",
                "A point of sale with that PosId already exists",
            ));
        }
        self.add_pos(caller, req, pos_id)
    }

    fn add_pos(
        &mut self,
        caller: &Caller,
        req: &CreatePosRequest,
        pos_id: String,
    ) -> Result<String, ErrorAnswer> {
        let store_id = req.store_id.to_lowercase();
        match self.stores.get(&store_id) {
            None => return Err(ErrorAnswer::conflict("1002", "Store not found")),
            Some((vat, _)) if *vat != caller.vat => {
                return Err(ErrorAnswer::forbidden(
                    "1403",
                    "Cannot create a PoS on a store that does not belong to the merchant",
                ))
            }
            Some(_) => {}
        }
        let live = |p: &&Pos| !p.deleted;
        if self.poses.values().filter(live).any(|p| {
            p.client_id == caller.client_id && p.vat == caller.vat && p.merchant_pos_id == req.merchant_pos_id
        }) {
            return Err(ErrorAnswer::conflict(
                "1200",
                "A point of sale with that MerchantPosId already exists",
            ));
        }
        let beacon_id = match &req.beacon_id {
            Some(b) => b.clone(),
            None => new_id(),
        };
        if self
            .poses
            .values()
            .filter(live)
            .any(|p| p.beacon_id.eq_ignore_ascii_case(&beacon_id))
        {
            return Err(ErrorAnswer::conflict(
                "1202",
                "A point of sale with that BeaconId already exists",
            ));
        }
        self.poses.insert(
            pos_id.clone(),
            Pos {
                pos_id: pos_id.clone(),
                client_id: caller.client_id.clone(),
                vat: caller.vat.clone(),
                merchant_pos_id: req.merchant_pos_id.clone(),
                store_id,
                name: req.name.clone(),
                beacon_id,
                callback_alias: req.callback_alias.clone(),
                supported_beacon_types: req.supported_beacon_types.clone(),
                require_payment_before_checkin: req.require_payment_before_checkin.unwrap_or(false),
                deleted: false,
                checkin: None,
                open_payments: BTreeSet::new(),
                captured_payments: BTreeSet::new(),
            },
        );
        Ok(pos_id)
    }

    /// A live PoS the caller may use, with MobilePay's codes for someone else's.
    fn own_pos(
        &self,
        caller: &Caller,
        pos_id: &str,
        other_merchant: &'static str,
    ) -> Result<&Pos, ErrorAnswer> {
        let pos = self
            .poses
            .get(&pos_id.to_lowercase())
            .filter(|p| !p.deleted)
            .ok_or_else(ErrorAnswer::not_found)?;
        if pos.client_id != caller.client_id {
            return Err(ErrorAnswer::forbidden(
                "1400",
                "PoS was created by a different integrator",
            ));
        }
        if pos.vat != caller.vat {
            return Err(ErrorAnswer::forbidden(
                other_merchant,
                "PoS was created on behalf of a different merchant",
            ));
        }
        Ok(pos)
    }

    pub fn get_pos(&self, caller: &Caller, pos_id: &str) -> Result<PosResponse, ErrorAnswer> {
        let pos = self.own_pos(caller, pos_id, "1410")?;
        Ok(PosResponse {
            pos_id: pos.pos_id.clone(),
            merchant_pos_id: pos.merchant_pos_id.clone(),
            store_id: pos.store_id.clone(),
            name: pos.name.clone(),
            beacon_id: pos.beacon_id.clone(),
            callback_alias: pos.callback_alias.clone(),
            supported_beacon_types: pos.supported_beacon_types.clone(),
            require_payment_before_checkin: pos.require_payment_before_checkin,
        })
    }

    pub fn find_pos(
        &self,
        caller: &Caller,
        store_id: Option<&str>,
        beacon_id: Option<&str>,
        merchant_pos_id: Option<&str>,
    ) -> Vec<String> {
        let mut ids: Vec<String> = self
            .poses
            .values()
            .filter(|p| !p.deleted && p.client_id == caller.client_id && p.vat == caller.vat)
            .filter(|p| store_id.is_none_or(|s| p.store_id.eq_ignore_ascii_case(s)))
            .filter(|p| beacon_id.is_none_or(|b| p.beacon_id.eq_ignore_ascii_case(b)))
            .filter(|p| merchant_pos_id.is_none_or(|m| p.merchant_pos_id == m))
            .map(|p| p.pos_id.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn delete_pos(&mut self, caller: &Caller, pos_id: &str, now: Millis) -> Result<(), ErrorAnswer> {
        let pos_id = self.own_pos(caller, pos_id, "1409")?.pos_id.clone();
        if let Some(active) = self.active_payment(&pos_id) {
            self.set_status(&active, PaymentStatus::CancelledByMobilePay, now);
        }
        let pos = self.poses.get_mut(&pos_id).ok_or_else(ErrorAnswer::not_found)?;
        pos.deleted = true;
        pos.checkin = None;
        if pos.open_payments.is_empty() && pos.captured_payments.is_empty() {
            self.poses.remove(&pos_id);
        }
        Ok(())
    }

    pub fn get_checkin(&mut self, caller: &Caller, pos_id: &str) -> Result<GetCheckInResponse, ErrorAnswer> {
        let pos_id = self.own_pos(caller, pos_id, "1400")?.pos_id.clone();
        let vat = caller.vat.clone();
        let delay = self.settings.checkin_poll_delay_ms;
        let fixtures = self.fixtures.clone();
        let pos = self.poses.get_mut(&pos_id).ok_or_else(ErrorAnswer::not_found)?;
        let Some(checkin) = pos.checkin.as_mut() else {
            return Ok(GetCheckInResponse {
                is_user_checked_in: false,
                loyalty_ids: None,
                poll_delay_in_ms: delay,
                customer_token: None,
                customer_receipt_token: None,
            });
        };
        let looked_up = checkin.polls > 0;
        checkin.polls += 1;
        let data = UserData::of(&fixtures, &checkin.phone, &vat);
        Ok(GetCheckInResponse {
            is_user_checked_in: true,
            loyalty_ids: looked_up.then(|| data.loyalty_ids.clone()),
            poll_delay_in_ms: delay,
            customer_token: Some(data.customer_token),
            customer_receipt_token: looked_up.then_some(data.receipt_token),
        })
    }

    pub(super) fn active_payment(&self, pos_id: &str) -> Option<String> {
        let pos = self.poses.get(pos_id)?;
        pos.open_payments
            .iter()
            .find(|id| self.payments.get(*id).is_some_and(|p| p.status.is_active()))
            .cloned()
    }

    /// Store balances for the ground truth.
    pub fn store_balance(&self, store_id: &str) -> i64 {
        self.store_balance.get(store_id).copied().unwrap_or_default()
    }
}

pub fn store_response(s: &Store) -> StoreResponse {
    StoreResponse {
        store_name: s.store_name.clone(),
        store_id: s.store_id.clone(),
        store_street: s.store_street.clone(),
        store_zip_code: s.store_zip_code.clone(),
        store_city: s.store_city.clone(),
        brand_name: s.brand_name.clone(),
        merchant_brand_id: s.merchant_brand_id.clone(),
        merchant_location_id: s.merchant_location_id.clone(),
    }
}
