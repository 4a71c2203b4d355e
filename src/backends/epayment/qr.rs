//! The QR API's merchant callback QR (a static sticker the customer scans to check in) and
//! the `user.checked-in.v1` webhook event it produces.

use serde::{Deserialize, Serialize};

/// The webhook event type of a check-in at a merchant callback QR.
pub const USER_CHECKED_IN: &str = "user.checked-in.v1";

/// `PUT /qr/v1/merchant-callback/{merchantQrId}` and
/// `PUT /qr/v1/merchant-callback/mobilepay/{beaconId}` (the latter takes no `category`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutMerchantCallbackRequest {
    pub location_description: String,
    /// `IN_STORE` or `VENDING`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// `GET /qr/v1/merchant-callback/{merchantQrId}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantCallbackQr {
    pub merchant_serial_number: String,
    pub merchant_qr_id: String,
    pub location_description: String,
    /// May change between calls; fetch it again rather than keeping it.
    pub qr_image_url: String,
    /// What the QR code encodes.
    pub qr_content: String,
}

/// The body of a `user.checked-in.v1` delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCheckedInEvent {
    /// Valid 15 minutes, for `customer.customerToken` of a `PUSH_MESSAGE` payment.
    pub customer_token: String,
    pub merchant_qr_id: String,
    pub msn: String,
    pub initiated_at: String,
}
