//! One life of the daemon in the rot torture, seen from the cash register: the start (and why
//! a journal was set aside), the sales, the queries and repeats after a restart, the kill.

use crate::ledger::Ledger;
use crate::support::{DaemonLog, Setup};
use mposd::ecr::link::LinkConfig;
use mposd::ecr::message::{DaemonMessage, EcrMessage, Event, QueryState, WireOutcome};
use mposd::ecr::register::{Heard, Register};
use rand::rngs::StdRng;
use rand::seq::IteratorRandom;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::process::Child;

/// The longest the test waits for any answer of the daemon.
const WAIT: Duration = Duration::from_secs(90);
/// Answered sales queried again after each restart, besides those answered in the last life.
const OLD_ANSWERS_SAMPLED: usize = 10;

/// The final reply to one message of the register.
enum Reply {
    Outcome(WireOutcome),
    Query(QueryState, Option<WireOutcome>),
    Hello,
    Error(String),
    Closed,
}

/// One life of the daemon and the register's connection to it.
pub struct Life {
    pub daemon: Child,
    log: DaemonLog,
    pub register: Register,
    next_request: usize,
}

impl Life {
    pub async fn start(setup: &Setup, ledger: &mut Ledger) -> Life {
        let (mut daemon, log) = setup.start_daemon_logged().await;
        for line in log.lines() {
            if line.contains("was moved aside") {
                let entry: Value = serde_json::from_str(&line).unwrap_or_default();
                let reason = entry["fields"]["reason"].as_str().unwrap_or("unreadable");
                *ledger.tally.set_aside.entry(reason_kind(reason)).or_default() += 1;
                ledger.journal += 1;
            }
        }
        // "Ready" comes after each lane's cash-register line was opened.
        let stream = match tokio::net::TcpStream::connect(&setup.ecr_addr).await {
            Ok(stream) => stream,
            Err(error) => panic!(
                "cannot reach the daemon's cash-register listener ({error}); the daemon: {:?}; \
                 its log: {:#?}",
                daemon.try_wait(),
                log.lines()
            ),
        };
        let _ = stream.set_nodelay(true);
        let mut life = Life {
            daemon,
            log,
            register: Register::over(stream, LinkConfig::default()),
            next_request: 0,
        };
        let id = life.request_id();
        life.register.send(&EcrMessage::Hello {
            id: id.clone(),
            protocol: Some(1),
            ecr: Some("rot torture".into()),
        });
        match life.reply(&id, ledger).await {
            Reply::Hello => life,
            _ => panic!("no hello from the restarted daemon: {:?}", life.log.lines()),
        }
    }

    fn request_id(&mut self) -> String {
        self.next_request += 1;
        format!("q{}", self.next_request)
    }

    /// Reads until the final reply to `id`; every outcome heard on the way is given to the
    /// ledger (the register was told it).
    async fn reply(&mut self, id: &str, ledger: &mut Ledger) -> Reply {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let heard = tokio::time::timeout_at(deadline, self.register.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {id} within {WAIT:?}"));
            let message = match heard {
                None | Some(Heard::Closed) => return Reply::Closed,
                Some(Heard::GaveUp(body)) => panic!("the daemon did not acknowledge {body}"),
                Some(Heard::Unreadable(body)) => panic!("unreadable message from the daemon: {body}"),
                Some(Heard::Message(message)) => message,
            };
            match message {
                // Not final: the resolved outcome follows.
                DaemonMessage::Outcome {
                    outcome: WireOutcome::Unknown { .. },
                    ..
                } => {}
                DaemonMessage::Outcome { id: of, outcome, .. } => {
                    if of == id {
                        return Reply::Outcome(outcome);
                    }
                    ledger.told(&of, outcome);
                }
                DaemonMessage::QueryResult {
                    id: of,
                    state,
                    outcome,
                    ..
                } if of == id => return Reply::Query(state, outcome.map(|o| o.outcome)),
                DaemonMessage::Hello { id: of, .. } if of == id => return Reply::Hello,
                DaemonMessage::Accepted { id: of } => ledger.held(&of),
                DaemonMessage::Event {
                    event: Event::InvoiceIssued { link: Some(link), .. },
                    ..
                } => scan(link),
                DaemonMessage::Error {
                    id: Some(of),
                    code,
                    message,
                } if of == id => return Reply::Error(format!("{}: {message}", code.as_str())),
                _ => {}
            }
        }
    }

    /// Sends sale `id` (again) and waits for its final answer.
    pub async fn pay(&mut self, id: &str, ledger: &mut Ledger) {
        let message = ledger.sales[id].message(id);
        self.register.send(&message);
        match self.reply(id, ledger).await {
            Reply::Outcome(outcome) => ledger.told(id, outcome),
            Reply::Error(error) => panic!("{id} refused: {error}"),
            _ => panic!("the daemon went away while {id} ran: {:?}", self.log.lines()),
        }
    }

    /// What the register does after the daemon restarted: queries what it must know and acts
    /// on each answer as the protocol describes. Returns the ids it touched.
    pub async fn recheck(&mut self, ledger: &mut Ledger, all: bool, rng: &mut StdRng) -> BTreeSet<String> {
        let round = ledger.round;
        let open: Vec<String> = ledger
            .sales
            .iter()
            .filter(|(_, s)| !s.flagged)
            .filter(|(_, s)| all || s.last.is_none() || s.heard_in + 1 >= round)
            .map(|(id, _)| id.clone())
            .collect();
        let sample = ledger
            .sales
            .iter()
            .filter(|(id, s)| !s.flagged && s.last.is_some() && !open.contains(id))
            .map(|(id, _)| id.clone())
            .choose_multiple(rng, OLD_ANSWERS_SAMPLED);
        let mut again = Vec::new();
        for id in open.iter().chain(&sample) {
            let query = self.request_id();
            self.register.send(&EcrMessage::Query {
                id: query.clone(),
                command: id.clone(),
            });
            ledger.tally.queries += 1;
            let (state, outcome) = match self.reply(&query, ledger).await {
                Reply::Query(state, outcome) => (state, outcome),
                _ => panic!("query {id} not answered: {:?}", self.log.lines()),
            };
            match (state, outcome) {
                (QueryState::Finished, Some(outcome)) if !matches!(outcome, WireOutcome::Unknown { .. }) => {
                    if ledger.sales[id].approved.is_some() {
                        ledger.tally.confirmed += 1;
                    }
                    ledger.told(id, outcome);
                }
                (QueryState::Running | QueryState::Finished, _) => {
                    ledger.held(id);
                    match self.reply(id, ledger).await {
                        Reply::Outcome(outcome) => ledger.told(id, outcome),
                        _ => panic!("{id} was running but never answered: {:?}", self.log.lines()),
                    }
                }
                (QueryState::NotFound, _) => {
                    ledger.forgotten(id, "not_found");
                    ledger.tally.not_found_resent += 1;
                    again.push((id.clone(), false));
                }
                (QueryState::InDoubt, _) => {
                    ledger.forgotten(id, "in_doubt");
                    // The cashier checks the sale; then sends it again, which the protocol
                    // says is safe.
                    ledger.tally.in_doubt += 1;
                    again.push((id.clone(), true));
                }
            }
        }
        // Repeated only once every running command has ended: one payment at a time per lane.
        for (id, doubted) in &again {
            let approved = ledger.sales[id].approved.is_some();
            self.pay(id, ledger).await;
            if approved && !ledger.sales[id].flagged {
                ledger.tally.replayed_same += 1;
            }
            if *doubted {
                ledger.sales.get_mut(id).expect("a known sale").flagged = true;
            }
        }
        open.into_iter().chain(sample).collect()
    }

    /// SIGKILL; every outcome that reached the register before the line died counts.
    pub async fn kill(mut self, ledger: &mut Ledger) {
        self.daemon.kill().await.expect("SIGKILL");
        loop {
            match tokio::time::timeout(WAIT, self.register.next()).await {
                Ok(Some(Heard::Message(DaemonMessage::Outcome { id, outcome, .. }))) => {
                    if !matches!(outcome, WireOutcome::Unknown { .. }) {
                        ledger.told(&id, outcome);
                    }
                }
                Ok(Some(Heard::Message(DaemonMessage::Accepted { id }))) => ledger.held(&id),
                Ok(None | Some(Heard::Closed)) => return,
                Ok(Some(_)) => {}
                Err(_) => panic!("the line to the killed daemon did not close"),
            }
        }
    }
}

/// The customer scans the invoice's code shown on the display: opens its link on the phone,
/// whose scripted customer then does as set. Not awaited, as a phone is not; a link of an
/// invoice that has since ended is a customer looking at an old code.
fn scan(link: String) {
    tokio::spawn(async move {
        let _ = reqwest::get(link).await;
    });
}

/// A short name for why the daemon set its journal aside.
fn reason_kind(reason: &str) -> String {
    let known = [
        ("latest records are gone", "journal behind its mark"),
        ("do not match its summary", "records lost or changed"),
        ("lost its summary", "summary lost"),
        ("summary is unreadable", "summary unreadable"),
        ("mark is unreadable", "mark unreadable"),
        ("mark is missing", "mark missing"),
        ("checksum", "record checksum"),
        ("cannot open the database", "sled refused to open"),
        ("sled failed", "sled panicked"),
        ("data file is missing", "data file lost"),
        ("cannot read the payment journal", "sled failed to read it"),
    ];
    known
        .iter()
        .find(|(words, _)| reason.contains(words))
        .map(|(_, kind)| kind.to_string())
        .unwrap_or_else(|| reason.chars().take(60).collect())
}
