//! Every invoice the simulated MobilePay keeps, the rules a create must pass that need more
//! than the body (issuer, user, clock, duplicates, daily limit), the user's and merchant's
//! moves, the timers of §2.9 (scheduled payment, expiry) and the pushes each phone got.
//! Synchronous and free of I/O: the handlers call it under one lock with the virtual clock's
//! `now`, and timers are applied before every call ([`Book::tick`]).

use super::customer::{Action, Customer, Customers};
use super::error::InvError;
use super::input::{Kind, NewInvoice};
use super::lifecycle::{expiry_day, last_payment_day, Status};
use crate::sim::clock::Millis;
use crate::sim::fixtures::{Fixtures, InvoiceFixtures, InvoiceIssuer, IssuerStatus};
use chrono::{DateTime, Days, NaiveDate};
use std::collections::{BTreeMap, HashMap};

/// Invoices per consumer per merchant per day (§2.11).
pub const DAILY_LIMIT: usize = 10;
/// `DueDate` must be less than this many days ahead.
pub const DUE_DATE_HORIZON: u64 = 400;
const DK_MAX_MINOR: i64 = 300_000 * 100;
const FI_MAX_MINOR: i64 = 2_000 * 100;

#[derive(Debug)]
pub struct Invoice {
    pub id: String,
    pub merchant_id: String,
    pub new: NewInvoice,
    pub currency: &'static str,
    pub country: &'static str,
    pub status: Status,
    pub history: Vec<(Status, Millis)>,
    pub payment_date: Option<NaiveDate>,
    /// The phone of the user who accepted or paid it.
    pub payer: Option<String>,
    /// The opaque token in an InvoiceLink's `Href`.
    pub link_token: Option<String>,
    /// Phones of the users who opened the link's landing page.
    pub opened_by: Vec<String>,
    pub payment_failures: u32,
    card_fails: bool,
    payment_attempted: bool,
    scripted: Option<(Millis, Customer)>,
}

impl Invoice {
    pub fn created_at(&self) -> Millis {
        self.history.first().map(|h| h.1).unwrap_or_default()
    }

    fn set(&mut self, status: Status, at: Millis) {
        self.status = status;
        self.history.push((status, at));
    }
}

/// Why the user's accept failed: the sandbox answers 400 with the status and a text.
#[derive(Debug, PartialEq, Eq)]
pub struct Declined {
    pub status: &'static str,
    pub text: String,
}

pub struct Book {
    fixtures: InvoiceFixtures,
    /// `MerchantId` → `DK` or `FI`, from the merchants' VAT numbers.
    countries: HashMap<String, &'static str>,
    invoices: Vec<Invoice>,
    pushes: BTreeMap<String, u64>,
    pub customers: Customers,
}

/// The day of `ms` on the virtual clock, in UTC.
pub fn day_of(ms: Millis) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .date_naive()
}

/// The first millisecond of `day`, in UTC: when scheduled payments run and invoices expire
/// (MobilePay ran them in the Danish morning; UTC midnight keeps tests simple to reason about).
pub fn start_of(day: NaiveDate) -> Millis {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(Millis::MAX)
}

impl Book {
    pub fn new(fixtures: &Fixtures) -> Book {
        let countries = fixtures
            .oidc
            .merchants
            .iter()
            .map(|m| {
                let country = if m.vat.starts_with("FI") { "FI" } else { "DK" };
                (m.merchant_id.to_lowercase(), country)
            })
            .collect();
        Book {
            fixtures: fixtures.invoice.clone(),
            countries,
            invoices: Vec::new(),
            pushes: BTreeMap::new(),
            customers: Customers::default(),
        }
    }

    pub fn fixtures(&self) -> &InvoiceFixtures {
        &self.fixtures
    }

    pub fn invoices(&self) -> &[Invoice] {
        &self.invoices
    }

    pub fn pushes(&self) -> &BTreeMap<String, u64> {
        &self.pushes
    }

    /// A merchant of the Invoice product: one with at least one issuer.
    pub fn is_invoice_merchant(&self, merchant_id: &str) -> bool {
        self.fixtures.issuers_of(merchant_id).next().is_some()
    }

    pub fn issuer(&self, id: &str) -> Option<&InvoiceIssuer> {
        self.fixtures
            .issuers
            .iter()
            .find(|i| i.id.eq_ignore_ascii_case(id))
    }

    /// The merchant's invoice `id`; another merchant's is not found.
    pub fn get(&self, merchant_id: &str, id: &str) -> Option<&Invoice> {
        self.invoices
            .iter()
            .find(|i| i.id.eq_ignore_ascii_case(id) && i.merchant_id.eq_ignore_ascii_case(merchant_id))
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.invoices.iter().position(|i| i.id.eq_ignore_ascii_case(id))
    }

    /// Creates an invoice after the rules of §2.4 and §2.11 that need more than its body.
    ///
    /// Where the reference gives two codes for one rule, the simulator chooses (and
    /// docs/simulator.md says so): `10202` for an issuer the merchant does not have, `10303`
    /// for one not enabled; `10104` for a duplicate InvoiceDirect, `10301` for a duplicate
    /// InvoiceLink. The duplicate check covers every invoice the merchant has, whatever its
    /// state, and never names the existing one. The daily limit counts the invoices created
    /// for the phone on the virtual clock's UTC day, InvoiceLinks with an alias included.
    pub fn create(&mut self, merchant_id: &str, new: NewInvoice, now: Millis) -> Result<&Invoice, InvError> {
        let merchant_id = merchant_id.to_lowercase();
        let issuer = self
            .fixtures
            .issuers_of(&merchant_id)
            .find(|i| i.id.eq_ignore_ascii_case(&new.issuer))
            .ok_or_else(|| InvError::domain("10202", "Invoice issuer not found"))?;
        if issuer.status != IssuerStatus::Enabled {
            return Err(InvError::domain(
                "10303",
                "Invoice issuer not found or not enabled",
            ));
        }
        let country = self.countries.get(&merchant_id).copied().unwrap_or("DK");
        if new.total_minor <= 0 {
            return Err(InvError::domain("10008", "Total amount must be greater than 0"));
        }
        let max = if country == "FI" {
            FI_MAX_MINOR
        } else {
            DK_MAX_MINOR
        };
        if new.total_minor > max {
            return Err(InvError::domain("10201", "Total invoice amount is exceeded"));
        }
        let today = day_of(now);
        if new.due_date < today {
            return Err(InvError::domain("10311", "DueDate cannot be earlier than today"));
        }
        let horizon = today
            .checked_add_days(Days::new(DUE_DATE_HORIZON))
            .unwrap_or(NaiveDate::MAX);
        if new.due_date >= horizon {
            return Err(InvError::domain(
                "10310",
                "DueDate must be less than 400 days from today",
            ));
        }
        if new.issue_date.is_some_and(|d| d > today) {
            return Err(InvError::domain("10312", "IssueDate cannot be later than today"));
        }
        if new.kind == Kind::Direct {
            let alias = new.alias.as_deref().unwrap_or_default();
            let user = self
                .fixtures
                .user_by_phone(alias)
                .ok_or_else(|| InvError::domain("10101", "MobilePay user not found"))?;
            if !user.available {
                return Err(InvError::domain("10102", "MobilePay user not available"));
            }
        }
        let mine = || self.invoices.iter().filter(|i| i.merchant_id == merchant_id);
        if mine().any(|i| i.new.fingerprint == new.fingerprint) {
            let code = if new.kind == Kind::Direct {
                "10104"
            } else {
                "10301"
            };
            return Err(InvError::domain(code, "Invoice already exists"));
        }
        if let Some(alias) = &new.alias {
            let today_count = mine()
                .filter(|i| i.new.alias.as_ref() == Some(alias) && day_of(i.created_at()) == today)
                .count();
            if today_count >= DAILY_LIMIT {
                return Err(InvError::domain(
                    "10314",
                    "Daily limit of invoices for this MobilePay user is reached",
                ));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        let scripted = match new.kind {
            Kind::Direct => {
                let alias = new.alias.clone().unwrap_or_default();
                *self.pushes.entry(alias.clone()).or_default() += 1;
                self.customers
                    .at_phone(&alias)
                    .map(|c| (now + Millis::from(c.delay_ms), c.clone()))
            }
            Kind::Link => None,
        };
        self.invoices.push(Invoice {
            id,
            merchant_id,
            link_token: (new.kind == Kind::Link).then(|| uuid::Uuid::new_v4().to_string()),
            new,
            currency: if country == "FI" { "EUR" } else { "DKK" },
            country,
            status: Status::Created,
            history: vec![(Status::Created, now)],
            payment_date: None,
            payer: None,
            opened_by: Vec::new(),
            payment_failures: 0,
            card_fails: false,
            payment_attempted: false,
            scripted,
        });
        Ok(self.invoices.last().expect("just pushed"))
    }

    /// The merchant cancels (§2.8).
    pub fn cancel(&mut self, merchant_id: &str, id: &str, now: Millis) -> Result<(), InvError> {
        self.get(merchant_id, id).ok_or_else(InvError::not_found)?;
        let index = self.index(id).expect("found above");
        let invoice = &mut self.invoices[index];
        match invoice.status {
            s if s.cancelable() => {
                invoice.set(Status::Canceled, now);
                Ok(())
            }
            Status::Paid => Err(InvError::domain("10504", "Invoice has already been paid")),
            s => Err(InvError::uncoded(format!(
                "Invoice cannot be canceled, it is {s}"
            ))),
        }
    }

    /// Whether the user at `phone` may act on invoice `id`: an InvoiceDirect only its
    /// recipient, an InvoiceLink anyone (whoever opens a link may pay it).
    pub fn visible_to(&self, id: &str, phone: &str) -> bool {
        self.invoices.iter().any(|i| {
            i.id.eq_ignore_ascii_case(id)
                && match i.new.kind {
                    Kind::Direct => i.new.alias.as_deref() == Some(phone),
                    Kind::Link => true,
                }
        })
    }

    /// The user at `phone` pays (`payment_date` today) or schedules payment.
    pub fn accept(
        &mut self,
        id: &str,
        phone: &str,
        payment_date: NaiveDate,
        now: Millis,
    ) -> Result<Status, Declined> {
        let card_expired = self.fixtures.user_by_phone(phone).is_some_and(|u| u.card_expired);
        let Some(index) = self.index(id) else {
            return Err(declined("Failed", "Invoice not found"));
        };
        accept(&mut self.invoices[index], phone, payment_date, card_expired, now)
    }

    /// The user rejects.
    pub fn reject(&mut self, id: &str, now: Millis) -> Result<(), String> {
        let invoice = self
            .index(id)
            .map(|i| &mut self.invoices[i])
            .ok_or("Invoice not found")?;
        if !invoice.status.rejectable(invoice.new.kind) {
            return Err(format!(
                "Invoice cannot be rejected, it is {} ({:?})",
                invoice.status, invoice.new.kind
            ));
        }
        invoice.set(Status::Rejected, now);
        Ok(())
    }

    /// The landing page of an InvoiceLink is opened (its QR scanned). `None` when no link has
    /// that token or it expired (its data is deleted, §2.5): the page answers 404. The
    /// scripted link opener, if any, acts on it.
    pub fn open_link(&mut self, token: &str, now: Millis) -> Option<&Invoice> {
        let opener = self.customers.link_opener().cloned();
        let invoice = self
            .invoices
            .iter_mut()
            .find(|i| i.link_token.as_deref() == Some(token) && i.status != Status::Expired)?;
        if let Some(customer) = opener {
            invoice.opened_by.push(customer.phone.clone());
            if !invoice.status.is_final() {
                invoice.scripted = Some((now + Millis::from(customer.delay_ms), customer));
            }
        }
        Some(invoice)
    }

    /// Applies scripted customers, scheduled payments and expiry due at `now`, each at its
    /// own time and in order.
    pub fn tick(&mut self, now: Millis) {
        let fixtures = &self.fixtures;
        for invoice in &mut self.invoices {
            while let Some(at) = next_event(invoice).filter(|at| *at <= now) {
                fire(invoice, fixtures, at);
            }
        }
    }
}

fn declined(status: &'static str, text: impl Into<String>) -> Declined {
    Declined {
        status,
        text: text.into(),
    }
}

fn accept(
    invoice: &mut Invoice,
    phone: &str,
    payment_date: NaiveDate,
    card_fails: bool,
    now: Millis,
) -> Result<Status, Declined> {
    if !invoice.status.payable() {
        return Err(declined("Failed", format!("Invoice is {}", invoice.status)));
    }
    let today = day_of(now);
    if payment_date < today {
        return Err(declined("Failed", "PaymentDate cannot be in the past"));
    }
    if payment_date > last_payment_day(invoice.new.due_date) {
        return Err(declined(
            "Failed",
            "PaymentDate cannot be later than 30 days after DueDate",
        ));
    }
    if payment_date == today {
        if card_fails {
            invoice.payment_failures += 1;
            return Err(declined("Failed", "The payment card was declined"));
        }
        invoice.payer = Some(phone.to_string());
        invoice.payment_date = Some(today);
        invoice.set(Status::Paid, now);
        return Ok(Status::Paid);
    }
    invoice.payer = Some(phone.to_string());
    invoice.payment_date = Some(payment_date);
    invoice.card_fails = card_fails;
    invoice.payment_attempted = false;
    invoice.set(Status::Accepted, now);
    Ok(Status::Accepted)
}

/// When the next thing happens to `invoice` by itself, if anything will.
fn next_event(invoice: &Invoice) -> Option<Millis> {
    if invoice.status.is_final() {
        return None;
    }
    let scripted = invoice.scripted.as_ref().map(|(at, _)| *at);
    let payment = (invoice.status == Status::Accepted && !invoice.payment_attempted)
        .then(|| invoice.payment_date.map(start_of))
        .flatten();
    let expiry = Some(start_of(expiry_day(invoice.new.due_date)));
    [scripted, payment, expiry].into_iter().flatten().min()
}

fn fire(invoice: &mut Invoice, fixtures: &InvoiceFixtures, at: Millis) {
    if invoice.scripted.as_ref().is_some_and(|(due, _)| *due == at) {
        let (_, customer) = invoice.scripted.take().expect("checked above");
        act(invoice, fixtures, &customer, at);
        return;
    }
    let pay_due = invoice.status == Status::Accepted
        && !invoice.payment_attempted
        && invoice.payment_date.map(start_of) == Some(at);
    if pay_due {
        invoice.payment_attempted = true;
        if invoice.card_fails {
            invoice.payment_failures += 1;
        } else {
            invoice.set(Status::Paid, at);
        }
        return;
    }
    invoice.scripted = None;
    invoice.set(Status::Expired, at);
}

/// A scripted customer's action. Where the user could not do it (the invoice changed
/// meanwhile), nothing happens.
fn act(invoice: &mut Invoice, fixtures: &InvoiceFixtures, customer: &Customer, at: Millis) {
    let card_expired = fixtures
        .user_by_phone(&customer.phone)
        .is_some_and(|u| u.card_expired);
    let later = customer.payment_date.unwrap_or(invoice.new.due_date);
    let outcome = match customer.action {
        Action::Ignore => Ok(invoice.status),
        Action::PayNow => accept(invoice, &customer.phone, day_of(at), card_expired, at),
        Action::Schedule => accept(invoice, &customer.phone, later, card_expired, at),
        Action::CardFails => accept(invoice, &customer.phone, later, true, at),
        Action::Reject => {
            if invoice.new.kind == Kind::Link && invoice.status == Status::Created {
                invoice.payer = Some(customer.phone.clone());
                invoice.payment_date = Some(invoice.new.due_date);
                invoice.set(Status::Accepted, at);
            }
            if invoice.status.rejectable(invoice.new.kind) {
                invoice.set(Status::Rejected, at);
            }
            Ok(invoice.status)
        }
    };
    if let Err(declined) = outcome {
        tracing::debug!(invoice = %invoice.id, reason = %declined.text, "scripted invoice customer could not act");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixtures::{DK_ISSUER, DK_MERCHANT_ID, INVOICE_EXPIRED_CARD_PHONE, INVOICE_USER_PHONE};
    use crate::sim::invoice::input;
    use serde_json::json;

    const HOUR: Millis = 3_600_000;
    const DAY: Millis = 24 * HOUR;

    fn noon() -> Millis {
        start_of(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()) + 12 * HOUR
    }

    fn new(number: &str, phone: &str, due: &str) -> NewInvoice {
        let body = json!({
            "InvoiceIssuer": DK_ISSUER,
            "ConsumerAlias": {"Alias": phone, "AliasType": "Phone"},
            "TotalAmount": 100,
            "InvoiceNumber": number,
            "DueDate": due,
            "InvoiceArticles": [{"ArticleDescription": "Bread"}],
        });
        input::parse(body.to_string().as_bytes(), Kind::Direct).unwrap()
    }

    fn customer(phone: &str, action: Action, delay_ms: u32) -> Customer {
        Customer {
            phone: phone.into(),
            action,
            payment_date: None,
            delay_ms,
            opens_links: false,
        }
    }

    #[test]
    fn timers_fire_in_order_at_their_own_time() {
        let mut book = Book::new(&Fixtures::default());
        book.customers
            .add(customer(INVOICE_USER_PHONE, Action::Schedule, 1_000));
        let id = book
            .create(
                DK_MERCHANT_ID,
                new("T-1", INVOICE_USER_PHONE, "2026-03-03"),
                noon(),
            )
            .unwrap()
            .id
            .clone();
        // One tick long after everything: scheduled at +1 s, paid on the due day at 00:00.
        book.tick(noon() + 40 * DAY);
        let invoice = book.get(DK_MERCHANT_ID, &id).unwrap();
        let history: Vec<_> = invoice.history.iter().map(|(s, at)| (*s, *at - noon())).collect();
        assert_eq!(
            history,
            [
                (Status::Created, 0),
                (Status::Accepted, 1_000),
                (Status::Paid, 2 * DAY - 12 * HOUR)
            ]
        );
    }

    #[test]
    fn a_failing_card_keeps_the_invoice_accepted_until_it_expires() {
        let mut book = Book::new(&Fixtures::default());
        book.customers
            .add(customer(INVOICE_EXPIRED_CARD_PHONE, Action::Schedule, 0));
        let id = book
            .create(
                DK_MERCHANT_ID,
                new("T-2", INVOICE_EXPIRED_CARD_PHONE, "2026-03-02"),
                noon(),
            )
            .unwrap()
            .id
            .clone();
        book.tick(noon() + DAY);
        assert_eq!(book.get(DK_MERCHANT_ID, &id).unwrap().status, Status::Accepted);
        assert_eq!(book.get(DK_MERCHANT_ID, &id).unwrap().payment_failures, 1);
        // DueDate 2 March + 30 days = 1 April is the last day; expired from 2 April.
        let expiry = start_of(NaiveDate::from_ymd_opt(2026, 4, 2).unwrap());
        book.tick(expiry - 1);
        assert_eq!(book.get(DK_MERCHANT_ID, &id).unwrap().status, Status::Accepted);
        book.tick(expiry);
        let invoice = book.get(DK_MERCHANT_ID, &id).unwrap();
        assert_eq!(
            (invoice.status, invoice.history.last().unwrap().1),
            (Status::Expired, expiry)
        );
    }

    #[test]
    fn duplicates_and_the_daily_limit_push_nothing() {
        let mut book = Book::new(&Fixtures::default());
        book.create(
            DK_MERCHANT_ID,
            new("D-0", INVOICE_USER_PHONE, "2026-03-09"),
            noon(),
        )
        .unwrap();
        let dup = book
            .create(
                DK_MERCHANT_ID,
                new("D-0", INVOICE_USER_PHONE, "2026-03-09"),
                noon(),
            )
            .unwrap_err();
        assert_eq!(dup.code, Some("10104"));
        for n in 1..DAILY_LIMIT {
            book.create(
                DK_MERCHANT_ID,
                new(&format!("D-{n}"), INVOICE_USER_PHONE, "2026-03-09"),
                noon(),
            )
            .unwrap();
        }
        let limited = book
            .create(
                DK_MERCHANT_ID,
                new("D-x", INVOICE_USER_PHONE, "2026-03-09"),
                noon(),
            )
            .unwrap_err();
        assert_eq!(limited.code, Some("10314"));
        assert_eq!(book.pushes()[INVOICE_USER_PHONE], DAILY_LIMIT as u64);
        // The next day (UTC) counts afresh.
        book.create(
            DK_MERCHANT_ID,
            new("D-x", INVOICE_USER_PHONE, "2026-03-09"),
            noon() + DAY,
        )
        .unwrap();
    }
}
