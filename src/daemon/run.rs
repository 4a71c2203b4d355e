//! The daemon's life: start-up in the order that keeps payments safe, the watchdog loop, and
//! an orderly stop.
//!
//! Start-up: open the store → recover each lane's unfinished work → serve the cash registers
//! (queries only) → onboard the points of sale → take payments → tell systemd READY. A lane
//! that cannot start yet (its point of sale cannot be registered because MobilePay is
//! unreachable) keeps retrying without holding up the others; READY is sent once every lane
//! takes payments. Until then systemd is told which lanes wait for MobilePay and why, and its
//! start timeout is extended, so a checkout that boots while the internet is down starts as
//! soon as MobilePay answers.
//!
//! A cash-register line that cannot be opened (its TCP port taken, its serial adapter
//! unplugged) does not hold READY back: it is a local fault that a restart would not cure, and
//! the lane's engine still finishes and reconciles its payments meanwhile. It is retried until
//! it opens, and named in the status line for as long as it is broken.

use super::config::{Config, LaneSettings, LaneSignupSettings};
use super::lane::{self, RunningLane};
use super::registration::{LaneContext, PosV10Context};
use super::state_dir;
use super::store_watch::StoreWatch;
use super::troubles::Troubles;
use super::webhooks::{self, stickers::StickerLane, SalesUnitHooks};
use crate::backends::epayment::engine::EpaymentBackend;
use crate::backends::invoice_v1::{InvoiceBackend, InvoiceClient};
use crate::backends::pos_v10::formats::qr_payload;
use crate::backends::pos_v10::onboarding::PendingCreations;
use crate::backends::pos_v10::MobilePayClient;
use crate::backends::products::CounterProducts;
use crate::backends::subscriptions_v1::{SubscriptionsBackend, SubscriptionsClient};
use crate::consent::driver::Consent;
use crate::consent::keeper;
use crate::consent::store::ConsentFile;
use crate::display::qr_size;
use crate::ecr::message::ConsentState;
use crate::engine::{journal::Journal, CommandId};
use crate::money::Currency;
use crate::service::{self, Notifier};
use anyhow::Context;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// How long running work gets to reach its durability points after a stop is requested.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long blocking work (a display draw) gets to finish once the daemon has stopped.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// Threads of the async runtime, whatever the number of cores: a few lanes waiting on the
/// network and the disk keep two busy at most, and each further thread (one per core by
/// default, four on a Raspberry Pi 3, 4 or 5) costs its stack and its own malloc arena. Two,
/// not one: a task busy for a moment on one thread (a store write, a large answer parsed) leaves
/// the other serving the cash-register links. Blocking work (fsync, display draws) runs on the
/// runtime's blocking pool, not on these.
const WORKER_THREADS: usize = 2;
/// While a lane waits for MobilePay at start-up, systemd is asked for this much more time,
/// every [`START_PROGRESS_EVERY`].
const START_EXTENSION: Duration = Duration::from_secs(30);
const START_PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Most malloc arenas the C library may create. glibc gives each thread that allocates while
/// another holds the lock an arena of its own, up to eight per core; the runtime's workers,
/// its blocking pool and sled's I/O threads would take a dozen, each with pages of its own
/// resident. Two serve a daemon that mostly waits on the network and the disk.
#[cfg(target_env = "gnu")]
const MALLOC_ARENAS: libc::c_int = 2;

pub fn run(config_path: &Path) -> anyhow::Result<()> {
    state_dir::private_umask();
    // SAFETY: mallopt only sets an allocator parameter, and no other thread runs yet.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
    }
    let config = Config::load(config_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(serve(config));
    // A display driver hanging in a blocking call must not hold the exit up until systemd's
    // SIGKILL: by now the store is durable, so whatever still blocks is left behind.
    runtime.shutdown_timeout(EXIT_GRACE);
    served
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let stop = service::stop_requested();
    tokio::pin!(stop);
    let notifier = Notifier::from_env();
    let shutdown = CancellationToken::new();
    notifier.status("opening the store");
    let dir = config.state.dir();
    state_dir::prepare(&dir)?;
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (journal, set_aside) =
        Journal::open_or_set_aside(&dir.join("store"), config.state.cache_mib << 20, now_s)?;
    if let Some(aside) = &set_aside {
        tracing::error!(moved_to = %aside.path.display(), reason = %aside.reason,
            "ALARM: the store was damaged and was moved aside; open work is rebuilt from MobilePay");
    }
    let db = journal.db().clone();
    let troubles = Troubles::default();
    let ctx = LaneContext {
        db: db.clone(),
        set_aside: set_aside.clone(),
        retention: config.state.retention(),
        shutdown: shutdown.clone(),
        troubles: troubles.clone(),
    };
    let consents = start_consents(&config, &dir, &troubles, &shutdown)?;
    let backends = LaneBackends::open(&config, &ctx, &consents)?;
    let mut starting = tokio::task::JoinSet::new();
    for settings in config.lanes.clone() {
        let backend = backends.for_lane(&ctx, &settings)?;
        let ctx = ctx.clone();
        starting.spawn(async move {
            match backend {
                LaneBackend::PosV10(v10) => lane::start_pos_v10(&v10, &settings).await,
                LaneBackend::Epayment(backend) => lane::start_epayment(&ctx, &settings, backend).await,
            }
        });
    }
    let mut lanes: Vec<RunningLane> = Vec::new();
    let mut progress = tokio::time::interval(START_PROGRESS_EVERY);
    let mut shown = String::new();
    while !starting.is_empty() {
        let waiting = troubles.waiting_for_mobilepay();
        let status = troubles.status(&match &waiting {
            Some(waiting) => format!("waiting for MobilePay to register {waiting}"),
            None if lanes.is_empty() => {
                "recovering unfinished payments and registering points of sale".into()
            }
            None => format!("{} of {} lanes serving", lanes.len(), config.lanes.len()),
        });
        if status != shown {
            match waiting {
                Some(_) => notifier.extend_start(&status, START_EXTENSION),
                None => notifier.status(&status),
            }
            shown = status;
        }
        tokio::select! {
            _ = progress.tick() => {
                if troubles.waiting_for_mobilepay().is_some() {
                    notifier.extend_start(&shown, START_EXTENSION);
                }
            }
            () = troubles.changed() => {}
            joined = starting.join_next() => match joined {
                Some(Ok(Ok(lane))) => lanes.push(lane),
                Some(Ok(Err(err))) => {
                    shutdown.cancel();
                    return Err(err);
                }
                Some(Err(join)) => {
                    shutdown.cancel();
                    anyhow::bail!("a lane failed to start: {join}");
                }
                None => {}
            },
            signal = &mut stop => {
                tracing::info!(%signal, "stop requested during start-up");
                shutdown.cancel();
                return Ok(());
            }
        }
    }
    start_webhooks(&config, &backends, &lanes, &ctx);
    let names: Vec<&str> = lanes.iter().map(|l| l.name.as_str()).collect();
    let serving = format!("serving {} lane(s): {}", lanes.len(), names.join(", "));
    notifier.ready(&troubles.status(&serving));
    tracing::info!(lanes = ?names, "mposd is ready");

    let interval = notifier.watchdog_interval().unwrap_or(Duration::from_secs(10));
    let store = {
        let (notifier, troubles, serving) = (notifier.clone(), troubles.clone(), serving.clone());
        StoreWatch::start(db.in_flight().clone(), interval, move |stuck| {
            notifier.status(&status_line(&troubles, &serving, stuck))
        })?
    };
    let watched = Watched {
        lanes: &lanes,
        store,
        troubles: &troubles,
        serving: &serving,
        interval,
    };
    let signal = watchdog_loop(&notifier, &watched, &mut stop).await;
    tracing::info!(%signal, "stopping");
    notifier.stopping("stopping: no new commands; finishing durable writes");
    // New commands are refused from here on (the cash register is told to send them again
    // after the restart); each link is kept until what it queued has been delivered.
    for lane in &lanes {
        lane.engine.stop_accepting();
    }
    shutdown.cancel();
    let ecr_tasks = lanes.iter_mut().map(|l| &mut l.ecr);
    let _ = tokio::time::timeout(STOP_GRACE, futures::future::join_all(ecr_tasks)).await;
    journal
        .durable_now()
        .context("final durable write of the store")?;
    tracing::info!("stopped");
    Ok(())
}

/// The clients of every merchant and sales unit the lanes use: one each (and so one token
/// manager each), shared by the merchant's lanes.
struct LaneBackends {
    pos_v10: HashMap<String, MobilePayClient>,
    pending: Option<PendingCreations>,
    epayment: HashMap<(String, Currency), Arc<EpaymentBackend>>,
    /// MobilePay Invoice per merchant (VAT), over the consent its keeper refreshes.
    invoice: HashMap<String, InvoiceClient>,
    /// MobilePay Subscriptions per lane (its own links and provider), over its merchant's
    /// consent.
    signup: HashMap<String, SubscriptionsBackend>,
}

/// How one lane takes payments.
enum LaneBackend {
    PosV10(Box<PosV10Context>),
    Epayment(Arc<EpaymentBackend>),
}

impl LaneBackends {
    fn open(
        config: &Config,
        ctx: &LaneContext,
        consents: &HashMap<String, Arc<Consent>>,
    ) -> anyhow::Result<LaneBackends> {
        let mut backends = LaneBackends {
            pos_v10: HashMap::new(),
            pending: None,
            epayment: HashMap::new(),
            invoice: HashMap::new(),
            signup: HashMap::new(),
        };
        for lane in &config.lanes {
            if let Some(signup) = &lane.signup {
                let client = subscriptions_client(config, consents, signup)
                    .with_context(|| format!("lane {}: MobilePay Subscriptions", lane.name))?;
                backends
                    .signup
                    .insert(lane.name.clone(), SubscriptionsBackend::new(client));
            }
            if let Some(invoice) = &lane.invoice {
                if !backends.invoice.contains_key(&invoice.merchant) {
                    let client = invoice_client(config, consents, &invoice.merchant)
                        .with_context(|| format!("lane {}: MobilePay Invoice", lane.name))?;
                    backends.invoice.insert(invoice.merchant.clone(), client);
                }
            }
            if let Some(pos) = &lane.pos {
                if backends.pos_v10.contains_key(&pos.vat) {
                    continue;
                }
                let client_config = config.client_config().map_err(anyhow::Error::msg)?;
                let credentials = config.credentials(&pos.vat).map_err(anyhow::Error::msg)?;
                let client = MobilePayClient::open(client_config, &pos.vat, credentials, ctx.db.clone())
                    .with_context(|| format!("MobilePay client for merchant {}", pos.vat))?;
                client.tokens().spawn_refresher(ctx.shutdown.clone());
                backends.pos_v10.insert(pos.vat.clone(), client);
                if backends.pending.is_none() {
                    backends.pending = Some(PendingCreations::open(ctx.db.clone())?);
                }
            }
            if let Some(msn) = &lane.msn {
                let key = (msn.clone(), lane.currency);
                if backends.epayment.contains_key(&key) {
                    continue;
                }
                let unit = config
                    .sales_unit(msn)
                    .with_context(|| format!("lane {}: no [[epayment]] section has msn {msn}", lane.name))?;
                let backend = unit
                    .backend(lane.currency)
                    .with_context(|| format!("ePayment client for sales unit {msn}"))?;
                backends.epayment.insert(key, Arc::new(backend));
            }
        }
        Ok(backends)
    }

    fn for_lane(&self, ctx: &LaneContext, settings: &LaneSettings) -> anyhow::Result<LaneBackend> {
        let missing = || anyhow::anyhow!("lane {}: its backend is not configured", settings.name);
        let invoicing = match &settings.invoice {
            Some(invoice) => Some(InvoiceBackend::new(
                self.invoice.get(&invoice.merchant).ok_or_else(missing)?.clone(),
                invoice.issuer.clone(),
            )),
            None => None,
        };
        let products = CounterProducts {
            invoicing,
            agreements: self.signup.get(&settings.name).cloned(),
        };
        match (&settings.pos, &settings.msn) {
            (Some(pos), _) => Ok(LaneBackend::PosV10(Box::new(PosV10Context {
                lane: ctx.clone(),
                client: self.pos_v10.get(&pos.vat).ok_or_else(missing)?.clone(),
                pending: self.pending.clone().ok_or_else(missing)?,
                pos: pos.clone(),
                products,
            }))),
            (None, Some(msn)) => {
                let shared = self
                    .epayment
                    .get(&(msn.clone(), settings.currency))
                    .ok_or_else(missing)?;
                let offers = products.invoicing.is_some() || products.agreements.is_some();
                Ok(LaneBackend::Epayment(if offers {
                    // The lane's own backend over the sales unit's client and check-ins.
                    Arc::new(EpaymentBackend::clone(shared).with_products(products))
                } else {
                    shared.clone()
                }))
            }
            (None, None) => Err(missing()),
        }
    }
}

/// The Invoice client of merchant `vat`, over the consent `start_consents` keeps alive.
fn invoice_client(
    config: &Config,
    consents: &HashMap<String, Arc<Consent>>,
    vat: &str,
) -> anyhow::Result<InvoiceClient> {
    let settings = config
        .consents
        .iter()
        .find(|c| c.vat == vat)
        .with_context(|| format!("no [[consent]] section has vat = {vat:?}"))?;
    let consent = consents
        .get(vat)
        .with_context(|| format!("no consent of merchant {vat}"))?;
    let (client_config, app) = settings.invoice_client()?;
    InvoiceClient::new(client_config, app, consent.clone())
        .with_context(|| format!("MobilePay Invoice client for merchant {vat}"))
}

/// A lane's Subscriptions client, over its merchant's consent that `start_consents` keeps
/// alive.
fn subscriptions_client(
    config: &Config,
    consents: &HashMap<String, Arc<Consent>>,
    signup: &LaneSignupSettings,
) -> anyhow::Result<SubscriptionsClient> {
    let vat = &signup.merchant;
    let settings = config
        .consents
        .iter()
        .find(|c| &c.vat == vat)
        .with_context(|| format!("no [[consent]] section has vat = {vat:?}"))?;
    let consent = consents
        .get(vat)
        .with_context(|| format!("no consent of merchant {vat}"))?;
    let (client_config, app) = settings.subscriptions_client(signup)?;
    SubscriptionsClient::new(client_config, app, consent.clone())
        .with_context(|| format!("MobilePay Subscriptions client for merchant {vat}"))
}

/// Keeps every merchant's consent alive (refreshed now, then twice a day); each one's state
/// goes into the status line. A consent that is needed holds no lane back. Returns each
/// merchant's consent, for the clients of its products: they share it with the keeper, so that
/// there is one refresh state per merchant.
fn start_consents(
    config: &Config,
    dir: &Path,
    troubles: &Troubles,
    shutdown: &CancellationToken,
) -> anyhow::Result<HashMap<String, Arc<Consent>>> {
    let mut consents = HashMap::new();
    for settings in &config.consents {
        let client = settings
            .client()
            .with_context(|| format!("consent of merchant {}", settings.vat))?;
        let consent = Arc::new(Consent::new(client, ConsentFile::new(dir, &settings.vat))?);
        let (merchant, products) = (settings.vat.clone(), settings.scopes.clone());
        let troubles = troubles.clone();
        let report = move |state: &'static str, detail: String| {
            troubles.consent(ConsentState {
                merchant: merchant.clone(),
                products: products.clone(),
                state: state.into(),
                detail,
            })
        };
        consents.insert(settings.vat.clone(), consent.clone());
        tokio::spawn(keeper::keep(consent, report, shutdown.clone()));
    }
    Ok(consents)
}

/// Starts the webhooks of every sales unit that has them, for the engines of its lanes.
fn start_webhooks(config: &Config, backends: &LaneBackends, lanes: &[RunningLane], ctx: &LaneContext) {
    for unit in &config.sales_units {
        let Some(settings) = &unit.webhooks else {
            continue;
        };
        let serving: Vec<&LaneSettings> = config
            .lanes
            .iter()
            .filter(|l| l.msn.as_deref() == Some(unit.msn.as_str()))
            .collect();
        let Some(backend) = serving
            .iter()
            .find_map(|l| backends.epayment.get(&(unit.msn.clone(), l.currency)))
        else {
            continue;
        };
        let engines = lanes
            .iter()
            .filter(|lane| serving.iter().any(|l| l.name == lane.name))
            .map(|lane| lane.engine.clone())
            .collect();
        let stickers = serving
            .iter()
            .filter_map(|l| {
                let sticker = l.sticker.clone()?;
                let engine = lanes.iter().find(|lane| lane.name == l.name)?.engine.clone();
                let check_ins = backends
                    .epayment
                    .get(&(unit.msn.clone(), l.currency))?
                    .check_ins()
                    .clone();
                Some(StickerLane {
                    lane: l.name.clone(),
                    sticker,
                    engine,
                    check_ins,
                })
            })
            .collect();
        let hooks = SalesUnitHooks {
            settings: settings.clone(),
            client: backend.client().clone(),
            engines,
            stickers,
        };
        webhooks::start(hooks, ctx.db.clone(), ctx.shutdown.clone());
    }
}

/// What the watchdog loop looks after.
struct Watched<'a> {
    lanes: &'a [RunningLane],
    store: StoreWatch,
    troubles: &'a Troubles,
    serving: &'a str,
    /// How often the watchdog is pinged; also how long a write into the store may take.
    interval: Duration,
}

/// The status line: `serving`, what troubles the lanes, and a write into the store that is
/// stuck.
fn status_line(troubles: &Troubles, serving: &str, stuck: Option<&str>) -> String {
    let mut status = troubles.status(serving);
    if let Some(stuck) = stuck {
        status.push_str("; ");
        status.push_str(stuck);
    }
    status
}

/// Pings the systemd watchdog while every lane's engine answers and the store's writes
/// complete, and keeps the status line (`serving`, any broken cash-register line, a stuck
/// write) up to date; returns when a stop is requested. A hung engine, or a write into the
/// store that has not returned within one ping interval, stops the pings, and systemd
/// restarts the daemon.
///
/// The writes are watched because a write stuck inside sled holds its lane's payment while the
/// engines may still answer queries (see [`super::store_watch`]). One ping interval (15 s under
/// the shipped unit's `WatchdogSec=30s`) is many times what a slow SD card takes to fsync, even
/// when the file system must write back other files' data first, and short enough that systemd
/// restarts a stuck daemon within a minute of the write.
async fn watchdog_loop(
    notifier: &Notifier,
    watched: &Watched<'_>,
    stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = &'static str>>,
) -> &'static str {
    let interval = watched.interval;
    let probe = CommandId::new("mposd-watchdog-probe").expect("a valid command id");
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            signal = stop.as_mut() => return signal,
            () = watched.troubles.changed() => notifier.status(&status_line(
                watched.troubles,
                watched.serving,
                watched.store.stuck().as_deref(),
            )),
            _ = tick.tick() => {
                let mut healthy = true;
                for lane in watched.lanes {
                    let answered = tokio::time::timeout(interval / 2, lane.engine.query(&probe)).await;
                    if !matches!(answered, Ok(Ok(_))) {
                        healthy = false;
                        tracing::error!(lane = %lane.name, "the lane's engine does not answer");
                    }
                }
                if healthy && watched.store.writes_complete() {
                    notifier.alive();
                }
            }
        }
    }
}

/// `mposd check-config`: prints every problem with its line; the exit code tells CI.
pub fn check(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let text = std::fs::read_to_string(config_path).unwrap_or_default();
    println!(
        "{}: OK ({} lane{}, state in {})",
        config_path.display(),
        config.lanes.len(),
        if config.lanes.len() == 1 { "" } else { "s" },
        config.state.dir().display()
    );
    for warning in config.warnings(&text) {
        println!("  warning: {warning}");
    }
    for lane in &config.lanes {
        let Some(display) = &lane.display else { continue };
        let Ok(profile) = display.validate() else { continue };
        // The beacon id is not known before MobilePay generates it (a GUID, the longest kind):
        // size the code for the PoS V10 payload of a GUID. Invoice and agreement links are
        // longer still: the longest code the lane may show counts.
        let codes = [
            lane.pos
                .as_ref()
                .map(|_| qr_payload("00000000-0000-4000-8000-000000000000")),
            lane.invoice
                .as_ref()
                .map(|_| crate::backends::invoice_v1::LONGEST_LINK.to_string()),
            lane.signup
                .as_ref()
                .map(|_| crate::backends::subscriptions_v1::LONGEST_LINK.to_string()),
        ];
        let Some(worst_case) = codes.into_iter().flatten().max_by_key(String::len) else {
            continue;
        };
        if let Some(warning) = qr_size::warning(&profile, &worst_case, &display.look()) {
            println!("  lane {}: warning: {warning}", lane.name);
        }
    }
    Ok(())
}
