//! A proxy in front of DynamoDB Local that injects faults.
//!
//! [`FaultProxy`] is an HTTP proxy on 127.0.0.1 that forwards DynamoDB
//! requests to a real upstream, normally a [`DynamoDbLocal`](crate::DynamoDbLocal),
//! and fails some of them on the way, as described by [`Faults`]:
//!
//! - **throttle**: answers `400 ProvisionedThroughputExceededException` (or
//!   another throttling error, see [`Faults::throttle_error`]) without forwarding.
//! - **server error**: answers `500 InternalServerError` without forwarding.
//! - **reset**: closes the connection abruptly (TCP `RST`) without an answer
//!   and without forwarding, so the client sees a connection error.
//! - **lost reply**: forwards the request, so it *is* applied, waits for the
//!   answer and then resets the connection instead of returning it.
//! - **partial batch**: for `BatchWriteItem` and `BatchGetItem`, forwards
//!   only a random part of `RequestItems` and returns the upstream's answer
//!   with the rest added to `UnprocessedItems` or `UnprocessedKeys`.
//!
//! Nothing is mocked: every request that is not failed reaches the upstream,
//! and its real answer is returned unchanged. Whether a request is failed is
//! decided by a random number generator seeded by [`Faults::seed`], so a test
//! that sends the same requests in the same order sees the same faults on
//! every run. Requests sent concurrently draw in the order they arrive.
//!
//! The proxy runs on its own thread with its own Tokio runtime, so it works
//! from synchronous code and from any async runtime, and outlives the runtime
//! of the test that started it. It stops when the [`FaultProxy`] is dropped.
//!
//! # Example
//!
//! ```no_run
//! use aws_sdk_dynamodb::types::AttributeValue;
//! use singletable_local::{DynamoDbLocal, Faults};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = DynamoDbLocal::shared()?;
//! let (_, table) = db.fresh_table("orders").await?;
//! let proxy = db
//!     .with_faults(Faults::none().seed(7).throttle(0.2).partial_batch(0.5))
//!     .await?;
//! // Built like `DynamoDbLocal::client`, so the SDK retries as usual.
//! let client = proxy.client().await;
//!
//! client
//!     .put_item()
//!     .table_name(&table)
//!     .item("pk", AttributeValue::S("order#1".into()))
//!     .item("sk", AttributeValue::S("order".into()))
//!     .send()
//!     .await?;
//! println!("{:?}", proxy.injected());
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify, Semaphore};

use crate::Error;

/// The largest request or response body the proxy reads into memory; the
/// service itself limits requests to 16 MB.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// How many client connections are served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 256;
/// How long the upstream may take to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);
/// How many decisions [`FaultProxy::decisions`] keeps.
const DECISION_LOG: usize = 10_000;
/// Threads of the proxy's runtime.
const WORKER_THREADS: usize = 2;

/// The prefix of DynamoDB's error types.
const ERROR_NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810";
/// Added to the message of every injected error.
const INJECTED: &str = "(injected by the singletable-local fault proxy)";

/// Per-operation fault probabilities, each from `0.0` (never) to `1.0`
/// (always).
///
/// A request gets at most one fault. One random number is drawn per request
/// and compared with the rates in the order of the fields, so when the rates
/// add up to at most 1 each is the exact probability of its fault; when they
/// add up to more, the faults later in the order get what is left.
/// `partial_batch` only applies to `BatchWriteItem` and `BatchGetItem`.
///
/// Rates outside `0.0..=1.0` are clamped, and NaN counts as `0.0`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Rates {
    /// Answer with a throttling error without forwarding.
    pub throttle: f64,
    /// Answer `500 InternalServerError` without forwarding.
    pub server_error: f64,
    /// Reset the connection without forwarding.
    pub reset: f64,
    /// Forward, then reset the connection instead of answering.
    pub lost_reply: f64,
    /// Forward only part of a batch and report the rest as unprocessed.
    pub partial_batch: f64,
}

impl Rates {
    /// All rates zero: no faults.
    pub const NONE: Self = Self {
        throttle: 0.0,
        server_error: 0.0,
        reset: 0.0,
        lost_reply: 0.0,
        partial_batch: 0.0,
    };

    /// All rates zero: no faults.
    pub fn none() -> Self {
        Self::NONE
    }

    /// Sets the rate of throttling errors.
    pub fn throttle(mut self, rate: f64) -> Self {
        self.throttle = clamp(rate);
        self
    }

    /// Sets the rate of `500 InternalServerError` answers.
    pub fn server_error(mut self, rate: f64) -> Self {
        self.server_error = clamp(rate);
        self
    }

    /// Sets the rate of connections reset before forwarding.
    pub fn reset(mut self, rate: f64) -> Self {
        self.reset = clamp(rate);
        self
    }

    /// Sets the rate of requests forwarded whose answer is then lost.
    pub fn lost_reply(mut self, rate: f64) -> Self {
        self.lost_reply = clamp(rate);
        self
    }

    /// Sets the rate of batches only partly forwarded.
    pub fn partial_batch(mut self, rate: f64) -> Self {
        self.partial_batch = clamp(rate);
        self
    }

    /// The rates in decision order, with `partial_batch` zeroed unless the
    /// request is a batch.
    fn in_order(&self, batch: bool) -> [(Fault, f64); 5] {
        [
            (Fault::Throttle, clamp(self.throttle)),
            (Fault::ServerError, clamp(self.server_error)),
            (Fault::Reset, clamp(self.reset)),
            (Fault::LostReply, clamp(self.lost_reply)),
            (
                Fault::PartialBatch,
                if batch {
                    clamp(self.partial_batch)
                } else {
                    0.0
                },
            ),
        ]
    }
}

fn clamp(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// The error a throttled request is answered with, all with status 400.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThrottleError {
    /// `ProvisionedThroughputExceededException`, what a table answers when
    /// its capacity is exceeded.
    #[default]
    ProvisionedThroughputExceeded,
    /// `ThrottlingException`, what the control plane answers to too many
    /// requests.
    Throttling,
    /// `RequestLimitExceeded`, what an account answers past its throughput
    /// quota.
    RequestLimitExceeded,
}

impl ThrottleError {
    /// The `__type` of the answer and the message that goes with it.
    fn type_and_message(self) -> (String, &'static str) {
        match self {
            Self::ProvisionedThroughputExceeded => (
                format!("{ERROR_NAMESPACE}#ProvisionedThroughputExceededException"),
                "The level of configured provisioned throughput for the table was exceeded. \
                 Consider increasing your provisioning level with the UpdateTable API.",
            ),
            Self::Throttling => (
                "com.amazon.coral.availability#ThrottlingException".to_owned(),
                "Rate of requests exceeds the allowed throughput.",
            ),
            Self::RequestLimitExceeded => (
                format!("{ERROR_NAMESPACE}#RequestLimitExceeded"),
                "Throughput exceeds the current throughput limit for your account.",
            ),
        }
    }
}

/// What a [`FaultProxy`] does to requests: fault rates for every operation,
/// overrides for single operations, and the seed of the random decisions.
///
/// Start from [`Faults::none`] and add rates:
///
/// ```
/// use singletable_local::Faults;
///
/// let faults = Faults::none()
///     .seed(42)
///     .throttle(0.1)
///     .for_operation("BatchWriteItem", |rates| rates.partial_batch(0.5))
///     .for_operation("TransactWriteItems", |rates| rates.lost_reply(1.0));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    seed: u64,
    rates: Rates,
    operations: BTreeMap<String, Rates>,
    enabled: bool,
    throttle_error: ThrottleError,
}

impl Default for Faults {
    fn default() -> Self {
        Self::none()
    }
}

impl Faults {
    /// No faults, seed 0, enabled: every request is forwarded unchanged.
    pub fn none() -> Self {
        Self {
            seed: 0,
            rates: Rates::NONE,
            operations: BTreeMap::new(),
            enabled: true,
            throttle_error: ThrottleError::default(),
        }
    }

    /// Seeds the random decisions; the default is 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Throttles this share of the requests of every operation.
    pub fn throttle(mut self, rate: f64) -> Self {
        self.rates = self.rates.throttle(rate);
        self
    }

    /// Answers this share of the requests of every operation with
    /// `500 InternalServerError`.
    pub fn server_error(mut self, rate: f64) -> Self {
        self.rates = self.rates.server_error(rate);
        self
    }

    /// Resets the connection of this share of the requests of every
    /// operation, without forwarding them.
    pub fn reset(mut self, rate: f64) -> Self {
        self.rates = self.rates.reset(rate);
        self
    }

    /// Forwards this share of the requests of every operation but drops the
    /// answer and resets the connection.
    pub fn lost_reply(mut self, rate: f64) -> Self {
        self.rates = self.rates.lost_reply(rate);
        self
    }

    /// Forwards only part of this share of `BatchWriteItem` and
    /// `BatchGetItem` requests, and reports the rest as unprocessed.
    ///
    /// At least one item is withheld, and at least one is forwarded when the
    /// batch has two or more; a batch of one item is answered without
    /// forwarding, with that item unprocessed.
    pub fn partial_batch(mut self, rate: f64) -> Self {
        self.rates = self.rates.partial_batch(rate);
        self
    }

    /// Sets all rates for every operation at once.
    pub fn rates(mut self, rates: Rates) -> Self {
        self.rates = rates;
        self
    }

    /// Sets the rates of one operation, such as `"PutItem"` (the
    /// `DynamoDB_20120810.` prefix of `X-Amz-Target` may be included).
    ///
    /// `f` gets the rates the operation has so far, its own if set before,
    /// otherwise those for every operation, and returns the new ones. They
    /// apply to this operation instead of the rates for every operation,
    /// which later calls of [`Faults::throttle`] and the like no longer change.
    ///
    /// To fault only some operations, start from [`Faults::none`] and set
    /// just theirs.
    pub fn for_operation(mut self, operation: &str, f: impl FnOnce(Rates) -> Rates) -> Self {
        let operation = short_operation(operation).to_owned();
        let current = self.rates_for(&operation);
        self.operations.insert(operation, f(current));
        self
    }

    /// Which error a throttled request gets; the default is
    /// `ProvisionedThroughputExceededException`.
    pub fn throttle_error(mut self, error: ThrottleError) -> Self {
        self.throttle_error = error;
        self
    }

    /// Whether faults are injected from the start (the default) or only
    /// after [`FaultProxy::set_enabled`]`(true)`, for example to set up a
    /// test's data through the proxy first.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The rates that apply to `operation`.
    pub fn rates_for(&self, operation: &str) -> Rates {
        self.operations
            .get(short_operation(operation))
            .copied()
            .unwrap_or(self.rates)
    }
}

/// `PutItem` for `DynamoDB_20120810.PutItem`.
fn short_operation(operation: &str) -> &str {
    operation.rsplit('.').next().unwrap_or(operation)
}

/// One kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// Answered with a throttling error, not forwarded.
    Throttle,
    /// Answered with `500 InternalServerError`, not forwarded.
    ServerError,
    /// Connection reset, not forwarded.
    Reset,
    /// Forwarded, then the connection was reset instead of answering.
    LostReply,
    /// Part of a batch forwarded, the rest reported unprocessed.
    PartialBatch,
}

/// What the proxy decided for one request, as listed by
/// [`FaultProxy::decisions`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// The operation, such as `PutItem`, or `unknown` without a readable
    /// `X-Amz-Target`.
    pub operation: String,
    /// The fault injected, or `None` if the request was forwarded unchanged.
    pub fault: Option<Fault>,
    /// For [`Fault::PartialBatch`], how many items or keys were withheld.
    pub withheld: usize,
}

/// How many requests a [`FaultProxy`] saw and what it did to them, from
/// [`FaultProxy::injected`] or [`FaultProxy::injected_for`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Injected {
    /// Requests received, with or without faults.
    pub requests: u64,
    /// Requests forwarded unchanged whose answer was returned unchanged.
    pub forwarded: u64,
    /// Requests (whole, or the part of a partial batch) that reached the upstream and were
    /// answered by it, whatever the proxy then did with the answer, and whether or not the
    /// client still waited for it: what DynamoDB Local received.
    pub upstream: u64,
    /// Requests answered with a throttling error.
    pub throttles: u64,
    /// Requests answered with `500 InternalServerError`.
    pub server_errors: u64,
    /// Connections reset instead of forwarding.
    pub resets: u64,
    /// Requests forwarded whose answer was dropped.
    pub lost_replies: u64,
    /// Batches only partly forwarded.
    pub partial_batches: u64,
    /// Items and keys withheld from partial batches and reported unprocessed.
    pub withheld_items: u64,
    /// Requests answered with an error because the upstream could not be
    /// reached, timed out or answered unreadably, or the request was too large.
    pub proxy_errors: u64,
}

impl Injected {
    /// All injected faults: throttles, server errors, resets, lost replies and
    /// partial batches.
    pub fn total_faults(&self) -> u64 {
        self.throttles + self.server_errors + self.resets + self.lost_replies + self.partial_batches
    }

    fn count(&mut self, fault: Fault) {
        match fault {
            Fault::Throttle => self.throttles += 1,
            Fault::ServerError => self.server_errors += 1,
            Fault::Reset => self.resets += 1,
            Fault::LostReply => self.lost_replies += 1,
            Fault::PartialBatch => self.partial_batches += 1,
        }
    }
}

/// An HTTP proxy on 127.0.0.1 that forwards DynamoDB requests to an upstream
/// and injects [`Faults`]; see the [module documentation](self).
///
/// Runs on its own thread and stops when dropped; connections still open
/// then are closed.
pub struct FaultProxy {
    endpoint: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("endpoint", &self.endpoint)
            .field("upstream", &self.shared.upstream)
            .field("enabled", &self.is_enabled())
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a proxy on a free port of 127.0.0.1 that forwards to
    /// `upstream`, an `http://` URL such as [`DynamoDbLocal::endpoint`](crate::DynamoDbLocal::endpoint).
    ///
    /// Returns once the proxy accepts connections. Does not contact the
    /// upstream; requests fail with `502 Bad Gateway` while it is unreachable.
    pub async fn start(upstream: &str, faults: Faults) -> Result<Self, Error> {
        Self::start_blocking(upstream, faults)
    }

    fn start_blocking(upstream: &str, faults: Faults) -> Result<Self, Error> {
        let upstream = parse_upstream(upstream)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("singletable-fault-proxy")
            .enable_all()
            .build()
            .map_err(|source| Error::io("start the fault proxy's runtime".to_owned(), source))?;
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| {
                listener.set_nonblocking(true)?;
                Ok(listener)
            })
            .map_err(|source| {
                Error::io("listen on 127.0.0.1 for the fault proxy".to_owned(), source)
            })?;
        let address = listener
            .local_addr()
            .map_err(|source| Error::io("read the fault proxy's address".to_owned(), source))?;
        let listener = {
            let _context = runtime.enter();
            TcpListener::from_std(listener).map_err(|source| {
                Error::io("register the fault proxy's socket".to_owned(), source)
            })?
        };
        let shared = Arc::new(Shared::new(upstream, faults));
        let (shutdown, stop) = oneshot::channel();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("singletable-fault-proxy".to_owned())
            .spawn(move || {
                runtime.block_on(accept_loop(listener, serving, stop));
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
            .map_err(|source| Error::io("start the fault proxy's thread".to_owned(), source))?;
        let endpoint = format!("http://{address}");
        tracing::debug!(%endpoint, upstream = %shared.upstream, "started fault proxy");
        Ok(Self {
            endpoint,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The proxy's endpoint, such as `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The endpoint requests are forwarded to.
    pub fn upstream(&self) -> &str {
        &self.shared.upstream
    }

    /// A new client for the proxy, built like [`DynamoDbLocal::client`](crate::DynamoDbLocal::client):
    /// the SDK's default configuration, including its retries, with region
    /// `us-east-1` and static test credentials.
    ///
    /// For a client without retries:
    ///
    /// ```no_run
    /// # async fn f(proxy: &singletable_local::FaultProxy) {
    /// use aws_sdk_dynamodb::config::retry::RetryConfig;
    ///
    /// let client = proxy.client().await;
    /// let config = client.config().to_builder().retry_config(RetryConfig::disabled());
    /// let client = aws_sdk_dynamodb::Client::from_conf(config.build());
    /// # }
    /// ```
    pub async fn client(&self) -> aws_sdk_dynamodb::Client {
        crate::client_for(&self.endpoint).await
    }

    /// Counts of requests and faults so far, for all operations.
    pub fn injected(&self) -> Injected {
        lock(&self.shared.counts).total.clone()
    }

    /// Counts of requests and faults so far for one operation, such as
    /// `"PutItem"`.
    pub fn injected_for(&self, operation: &str) -> Injected {
        lock(&self.shared.counts)
            .by_operation
            .get(short_operation(operation))
            .cloned()
            .unwrap_or_default()
    }

    /// The decisions made so far while faults were enabled, oldest first,
    /// including requests left alone; only the last 10 000 are kept.
    pub fn decisions(&self) -> Vec<Decision> {
        lock(&self.shared.decisions).iter().cloned().collect()
    }

    /// Turns fault injection on or off. While off, every request is
    /// forwarded unchanged and no random numbers are drawn, so the decisions
    /// made while on do not depend on how many requests passed in between.
    pub fn set_enabled(&self, enabled: bool) {
        self.shared.enabled.store(enabled, Ordering::SeqCst);
    }

    /// Whether faults are injected, see [`FaultProxy::set_enabled`].
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // An error means the accept loop has already ended.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!(endpoint = %self.endpoint, "the fault proxy's thread panicked");
            }
        }
    }
}

/// `http://host:port` without a trailing slash, or an error.
fn parse_upstream(upstream: &str) -> Result<String, Error> {
    let invalid = |why: &str| {
        Error::io(
            format!("start a fault proxy in front of {upstream:?}"),
            io::Error::new(io::ErrorKind::InvalidInput, why.to_owned()),
        )
    };
    let uri: Uri = upstream
        .trim()
        .parse()
        .map_err(|_| invalid("the upstream is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid("the upstream must be an http:// URL"));
    }
    let Some(authority) = uri.authority() else {
        return Err(invalid("the upstream URL has no host"));
    };
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(invalid("the upstream URL must not have a path"));
    }
    Ok(format!("http://{authority}"))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the proxy's tasks share with the [`FaultProxy`].
struct Shared {
    upstream: String,
    faults: Faults,
    enabled: AtomicBool,
    rng: Mutex<fastrand::Rng>,
    counts: Mutex<Counts>,
    /// Locked only while `rng` is, so its order is the order of the draws.
    decisions: Mutex<VecDeque<Decision>>,
    client: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
    next_request_id: AtomicU64,
}

#[derive(Default)]
struct Counts {
    total: Injected,
    by_operation: BTreeMap<String, Injected>,
}

/// What to do with one request.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    fault: Option<Fault>,
    /// For [`Fault::PartialBatch`], whether each item is forwarded.
    keep: Vec<bool>,
}

impl Shared {
    fn new(upstream: String, faults: Faults) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(20))
            .build(connector);
        Self {
            upstream,
            enabled: AtomicBool::new(faults.enabled),
            rng: Mutex::new(fastrand::Rng::with_seed(faults.seed)),
            faults,
            counts: Mutex::default(),
            decisions: Mutex::default(),
            client,
            next_request_id: AtomicU64::new(1),
        }
    }

    /// Decides the fault for a request of `operation`; `batch_len` is the
    /// number of items of a batch that can be split.
    fn plan(&self, operation: &str, batch_len: Option<usize>) -> Plan {
        if !self.enabled.load(Ordering::SeqCst) {
            return Plan::default();
        }
        let rates = self.faults.rates_for(operation);
        let mut rng = lock(&self.rng);
        let plan = decide(&mut rng, &rates, batch_len);
        let mut decisions = lock(&self.decisions);
        if decisions.len() == DECISION_LOG {
            decisions.pop_front();
        }
        decisions.push_back(Decision {
            operation: operation.to_owned(),
            fault: plan.fault,
            withheld: plan.keep.iter().filter(|keep| !**keep).count(),
        });
        plan
    }

    fn record(&self, operation: &str, update: impl Fn(&mut Injected)) {
        let mut counts = lock(&self.counts);
        update(&mut counts.total);
        update(counts.by_operation.entry(operation.to_owned()).or_default());
    }

    fn request_id(&self) -> String {
        let id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        format!("SINGLETABLEFAULTPROXY{id:011}")
    }
}

/// Draws the fault for one request and, for a partial batch, which items to
/// forward.
fn decide(rng: &mut fastrand::Rng, rates: &Rates, batch_len: Option<usize>) -> Plan {
    let draw = rng.f64();
    let mut bound = 0.0;
    let mut fault = None;
    for (candidate, rate) in rates.in_order(batch_len.is_some()) {
        bound += rate;
        if draw < bound {
            fault = Some(candidate);
            break;
        }
    }
    let keep = match (fault, batch_len) {
        (Some(Fault::PartialBatch), Some(len)) => choose_kept(rng, len),
        _ => Vec::new(),
    };
    Plan { fault, keep }
}

/// Which of `len` items to forward: a random number from 1 to `len - 1` of
/// them, or none of a single item.
fn choose_kept(rng: &mut fastrand::Rng, len: usize) -> Vec<bool> {
    let mut keep = vec![false; len];
    if len >= 2 {
        let kept = rng.usize(1..len);
        let mut order: Vec<usize> = (0..len).collect();
        rng.shuffle(&mut order);
        for &index in &order[..kept] {
            keep[index] = true;
        }
    }
    keep
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = accept(&listener, &slots) => accepted,
        };
        match accepted {
            Ok((stream, permit)) => {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    serve_connection(stream, shared).await;
                    drop(permit);
                });
            }
            Err(error) => {
                // For example too many open files: wait for some to close.
                tracing::warn!(%error, "the fault proxy could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> io::Result<(TcpStream, tokio::sync::OwnedSemaphorePermit)> {
    let permit = Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(io::Error::other)?;
    let (stream, _) = listener.accept().await?;
    // Only a latency tweak; failing to set it is harmless.
    let _ = stream.set_nodelay(true);
    Ok((stream, permit))
}

/// Lets a request handler close its connection abruptly.
#[derive(Default)]
struct Abort {
    requested: AtomicBool,
    notify: Notify,
}

impl Abort {
    fn trigger(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }
}

/// A client connection that is reset rather than closed normally once its
/// [`Abort`] is triggered.
struct ClientStream {
    stream: TcpStream,
    abort: Arc<Abort>,
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        if self.abort.requested.load(Ordering::SeqCst) {
            // Makes the close send RST; without it the client sees a plain EOF.
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let abort = Arc::new(Abort::default());
    let io = TokioIo::new(ClientStream {
        stream,
        abort: Arc::clone(&abort),
    });
    let handler_abort = Arc::clone(&abort);
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        let abort = Arc::clone(&handler_abort);
        async move { Ok::<_, Infallible>(handle(&shared, &abort, request).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(io, service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, "fault proxy connection ended with an error");
            }
        }
        // Dropping the connection drops the stream, which resets it.
        () = abort.notify.notified() => {}
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// Resets the connection and never answers.
async fn reset_connection(abort: &Abort) -> Response<ProxyBody> {
    abort.trigger();
    std::future::pending().await
}

async fn handle(
    shared: &Arc<Shared>,
    abort: &Abort,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    let (parts, body) = request.into_parts();
    let operation = operation_of(&parts.headers);
    shared.record(&operation, |counts| counts.requests += 1);
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            shared.record(&operation, |counts| counts.proxy_errors += 1);
            let status = if error.is::<http_body_util::LengthLimitError>() {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return proxy_error(
                shared,
                status,
                &format!("could not read the request: {error}"),
            );
        }
    };
    let batch = Batch::parse(&operation, &parts.headers, &body);
    let plan = shared.plan(&operation, batch.as_ref().map(|batch| batch.len));
    if let Some(fault) = plan.fault {
        tracing::debug!(%operation, ?fault, "injecting a fault");
    }

    match (plan.fault, batch) {
        // `decide` only picks a partial batch for a batch.
        (None, _) | (Some(Fault::PartialBatch), None) => {
            match shared.send(&operation, &parts, body).await {
                Ok(response) => {
                    shared.record(&operation, |counts| counts.forwarded += 1);
                    relay(response)
                }
                Err(message) => {
                    shared.record(&operation, |counts| counts.proxy_errors += 1);
                    proxy_error(shared, StatusCode::BAD_GATEWAY, &message)
                }
            }
        }
        (Some(Fault::Throttle), _) => {
            shared.record(&operation, |counts| counts.count(Fault::Throttle));
            let (error_type, message) = shared.faults.throttle_error.type_and_message();
            error_response(shared, StatusCode::BAD_REQUEST, &error_type, message)
        }
        (Some(Fault::ServerError), _) => {
            shared.record(&operation, |counts| counts.count(Fault::ServerError));
            error_response(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("{ERROR_NAMESPACE}#InternalServerError"),
                "Internal server error",
            )
        }
        (Some(Fault::Reset), _) => {
            shared.record(&operation, |counts| counts.count(Fault::Reset));
            reset_connection(abort).await
        }
        (Some(Fault::LostReply), _) => match shared.send(&operation, &parts, body).await {
            Ok(response) => {
                // The whole answer is read so the upstream has surely applied
                // the request, and its connection can be reused.
                let mut body = response.into_body();
                while let Some(Ok(_)) = body.frame().await {}
                shared.record(&operation, |counts| counts.count(Fault::LostReply));
                reset_connection(abort).await
            }
            Err(message) => {
                shared.record(&operation, |counts| counts.proxy_errors += 1);
                proxy_error(shared, StatusCode::BAD_GATEWAY, &message)
            }
        },
        (Some(Fault::PartialBatch), Some(batch)) => {
            let withheld = plan.keep.iter().filter(|keep| !**keep).count() as u64;
            shared.record(&operation, |counts| {
                counts.count(Fault::PartialBatch);
                counts.withheld_items += withheld;
            });
            partial_batch(shared, &operation, parts, batch, &plan.keep).await
        }
    }
}

/// The operation named by `X-Amz-Target`, such as `PutItem`, or `unknown`.
fn operation_of(headers: &HeaderMap) -> String {
    headers
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .map(short_operation)
        .filter(|operation| {
            !operation.is_empty()
                && operation.len() <= 64
                && operation.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .unwrap_or("unknown")
        .to_owned()
}

/// Headers that belong to one connection and are not passed on.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

impl Shared {
    /// Sends a request with the given head and body to the upstream.
    ///
    /// The exchange runs as a task of its own, so a client that goes away mid-request does not
    /// cut it short: a request the proxy began to forward reaches the upstream whole and is
    /// counted in [`Injected::upstream`], as a request sent to DynamoDB is applied whether or
    /// not its sender still waits for the answer.
    async fn send(
        self: &Arc<Self>,
        operation: &str,
        parts: &Parts,
        body: Bytes,
    ) -> Result<Response<Incoming>, String> {
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |path_and_query| path_and_query.as_str());
        let uri: Uri = format!("{}{path}", self.upstream)
            .parse()
            .map_err(|error| format!("invalid request path {path:?}: {error}"))?;
        let length = body.len();
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.clone_from(&parts.headers);
        strip_hop_by_hop(headers);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        let shared = Arc::clone(self);
        let operation = operation.to_owned();
        let exchange = tokio::spawn(async move {
            let answer = tokio::time::timeout(UPSTREAM_TIMEOUT, shared.client.request(request));
            match answer.await {
                Ok(Ok(response)) => {
                    shared.record(&operation, |counts| counts.upstream += 1);
                    Ok(response)
                }
                Ok(Err(error)) => Err(format!(
                    "the upstream {} failed: {}",
                    shared.upstream,
                    error_chain(&error)
                )),
                Err(_) => Err(format!(
                    "the upstream {} did not answer within {UPSTREAM_TIMEOUT:?}",
                    shared.upstream
                )),
            }
        });
        exchange
            .await
            .map_err(|error| format!("the exchange with the upstream stopped: {error}"))?
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Passes an upstream answer on, streaming its body.
fn relay(response: Response<Incoming>) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, body.boxed())
}

/// An answer made by the proxy, shaped like the service's.
fn json_response(shared: &Shared, status: StatusCode, body: &Value) -> Response<ProxyBody> {
    let body = body.to_string().into_bytes();
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(id) = HeaderValue::from_str(&shared.request_id()) {
        headers.insert(HeaderName::from_static("x-amzn-requestid"), id);
    }
    set_body(&mut response, body);
    response
}

/// Replaces the body, with its `Content-Length` and `x-amz-crc32`.
fn set_body(response: &mut Response<ProxyBody>, body: Vec<u8>) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(
        HeaderName::from_static("x-amz-crc32"),
        HeaderValue::from(crc32(&body)),
    );
    *response.body_mut() = full(body);
}

fn error_response(
    shared: &Shared,
    status: StatusCode,
    error_type: &str,
    message: &str,
) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "__type": error_type,
        "message": format!("{message} {INJECTED}"),
    });
    json_response(shared, status, &body)
}

/// An error of the proxy itself, not an injected fault.
fn proxy_error(shared: &Shared, status: StatusCode, message: &str) -> Response<ProxyBody> {
    tracing::warn!(%status, "fault proxy: {message}");
    let body = serde_json::json!({
        "__type": "singletable.faults#ProxyError",
        "message": format!("singletable-local fault proxy: {message}"),
    });
    json_response(shared, status, &body)
}

/// The kind of batch that can be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BatchKind {
    /// `BatchWriteItem`: `RequestItems` maps tables to lists of requests.
    Write,
    /// `BatchGetItem`: `RequestItems` maps tables to objects with `Keys`.
    Get,
}

impl BatchKind {
    fn unprocessed_field(self) -> &'static str {
        match self {
            Self::Write => "UnprocessedItems",
            Self::Get => "UnprocessedKeys",
        }
    }
}

/// A batch request's body that could be parsed.
#[derive(Debug)]
struct Batch {
    kind: BatchKind,
    document: Map<String, Value>,
    /// Items or keys across all tables.
    len: usize,
}

impl Batch {
    /// The batch in `body`, if `operation` is a batch and the body has the
    /// expected shape with at least one item.
    fn parse(operation: &str, headers: &HeaderMap, body: &[u8]) -> Option<Self> {
        let kind = match operation {
            "BatchWriteItem" => BatchKind::Write,
            "BatchGetItem" => BatchKind::Get,
            _ => return None,
        };
        if headers.contains_key(header::CONTENT_ENCODING) {
            return None;
        }
        let Ok(Value::Object(document)) = serde_json::from_slice(body) else {
            return None;
        };
        let mut len = 0;
        for entry in document.get("RequestItems")?.as_object()?.values() {
            len += entries(kind, entry)?.len();
        }
        (len > 0).then_some(Self {
            kind,
            document,
            len,
        })
    }

    /// Splits into the body to forward, if any item is kept, and the
    /// withheld items per table, in the shape of `UnprocessedItems` or
    /// `UnprocessedKeys`.
    fn split(mut self, keep: &[bool]) -> (Option<Vec<u8>>, Map<String, Value>) {
        let mut forwarded = Map::new();
        let mut withheld = Map::new();
        let mut index = 0;
        let request_items = match self.document.remove("RequestItems") {
            Some(Value::Object(items)) => items,
            _ => Map::new(),
        };
        for (table, entry) in request_items {
            let Some(items) = entries(self.kind, &entry) else {
                continue;
            };
            let (mut kept, mut held) = (Vec::new(), Vec::new());
            for item in items {
                if keep.get(index).copied().unwrap_or(true) {
                    kept.push(item.clone());
                } else {
                    held.push(item.clone());
                }
                index += 1;
            }
            if !kept.is_empty() {
                forwarded.insert(table.clone(), with_entries(self.kind, &entry, kept));
            }
            if !held.is_empty() {
                withheld.insert(table, with_entries(self.kind, &entry, held));
            }
        }
        if forwarded.is_empty() {
            return (None, withheld);
        }
        self.document
            .insert("RequestItems".to_owned(), Value::Object(forwarded));
        (
            Some(Value::Object(self.document).to_string().into_bytes()),
            withheld,
        )
    }
}

/// The items or keys of one table's entry in `RequestItems`.
fn entries(kind: BatchKind, entry: &Value) -> Option<&Vec<Value>> {
    match kind {
        BatchKind::Write => entry.as_array(),
        BatchKind::Get => entry.get("Keys")?.as_array(),
    }
}

/// `entry` with its items or keys replaced, keeping a `BatchGetItem` table's
/// other fields such as `ProjectionExpression` and `ConsistentRead`.
fn with_entries(kind: BatchKind, entry: &Value, items: Vec<Value>) -> Value {
    match kind {
        BatchKind::Write => Value::Array(items),
        BatchKind::Get => {
            let mut entry = entry.as_object().cloned().unwrap_or_default();
            entry.insert("Keys".to_owned(), Value::Array(items));
            Value::Object(entry)
        }
    }
}

/// Adds `withheld` to the unprocessed items or keys of a successful answer.
fn merge_unprocessed(
    kind: BatchKind,
    body: &[u8],
    withheld: Map<String, Value>,
) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut document)) = serde_json::from_slice(body) else {
        return None;
    };
    let unprocessed = document
        .entry(kind.unprocessed_field())
        .or_insert_with(|| Value::Object(Map::new()));
    if unprocessed.is_null() {
        *unprocessed = Value::Object(Map::new());
    }
    let unprocessed = unprocessed.as_object_mut()?;
    for (table, held) in withheld {
        let Some(existing) = unprocessed.get_mut(&table) else {
            unprocessed.insert(table, held);
            continue;
        };
        let target = match kind {
            BatchKind::Write => existing.as_array_mut()?,
            BatchKind::Get => existing.get_mut("Keys")?.as_array_mut()?,
        };
        target.extend(entries(kind, &held)?.iter().cloned());
    }
    Some(Value::Object(document).to_string().into_bytes())
}

async fn partial_batch(
    shared: &Arc<Shared>,
    operation: &str,
    mut parts: Parts,
    batch: Batch,
    keep: &[bool],
) -> Response<ProxyBody> {
    let kind = batch.kind;
    let (forward, withheld) = batch.split(keep);
    let Some(forward) = forward else {
        // Nothing left to send: answer as if the service processed nothing.
        let mut body = Map::new();
        if kind == BatchKind::Get {
            body.insert("Responses".to_owned(), Value::Object(Map::new()));
        }
        body.insert(kind.unprocessed_field().to_owned(), Value::Object(withheld));
        return json_response(shared, StatusCode::OK, &Value::Object(body));
    };
    // The signature's payload hash no longer matches; DynamoDB Local does not
    // check it, but a stale explicit hash header would be wrong.
    parts.headers.remove("x-amz-content-sha256");
    // The answer must be plain JSON to be rewritten.
    parts.headers.remove(header::ACCEPT_ENCODING);
    let response = match shared.send(operation, &parts, Bytes::from(forward)).await {
        Ok(response) => response,
        Err(message) => {
            shared.record(operation, |counts| counts.proxy_errors += 1);
            return proxy_error(shared, StatusCode::BAD_GATEWAY, &message);
        }
    };
    if !response.status().is_success() {
        // The whole batch failed, so nothing needs adding.
        return relay(response);
    }
    let (mut head, body) = response.into_parts();
    let merged = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) if !head.headers.contains_key(header::CONTENT_ENCODING) => {
            merge_unprocessed(kind, &body.to_bytes(), withheld)
        }
        _ => None,
    };
    let Some(merged) = merged else {
        shared.record(operation, |counts| counts.proxy_errors += 1);
        return proxy_error(
            shared,
            StatusCode::BAD_GATEWAY,
            "could not add the withheld items to the upstream's answer",
        );
    };
    strip_hop_by_hop(&mut head.headers);
    let mut response = Response::from_parts(head, full(Bytes::new()));
    set_body(&mut response, merged);
    response
}

/// CRC-32 (IEEE), as DynamoDB sends in `x-amz-crc32`.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn same_seed_same_decisions() {
        let rates = Rates::none()
            .throttle(0.2)
            .server_error(0.2)
            .reset(0.1)
            .lost_reply(0.1)
            .partial_batch(0.3);
        let run = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..200)
                .map(|i| decide(&mut rng, &rates, (i % 2 == 0).then_some(10)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let plans = run(7);
        for kind in [
            Fault::Throttle,
            Fault::ServerError,
            Fault::Reset,
            Fault::LostReply,
            Fault::PartialBatch,
        ] {
            assert!(
                plans.iter().any(|plan| plan.fault == Some(kind)),
                "{kind:?}"
            );
        }
        assert!(plans.iter().any(|plan| plan.fault.is_none()));
        for (i, plan) in plans.iter().enumerate() {
            if plan.fault == Some(Fault::PartialBatch) {
                assert_eq!(i % 2, 0, "partial batch for a non-batch");
                let kept = plan.keep.iter().filter(|keep| **keep).count();
                assert!((1..10).contains(&kept), "kept {kept} of 10");
            }
        }
    }

    #[test]
    fn rates_of_one_and_zero_are_certain() {
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..1000 {
            let plan = decide(&mut rng, &Rates::none().lost_reply(1.0), None);
            assert_eq!(plan.fault, Some(Fault::LostReply));
            let plan = decide(&mut rng, &Rates::none(), Some(3));
            assert_eq!(plan.fault, None);
        }
        assert_eq!(Rates::none().throttle(f64::NAN).throttle, 0.0);
        assert_eq!(Rates::none().throttle(7.0).throttle, 1.0);
    }

    #[test]
    fn per_operation_rates_override_the_defaults() {
        let faults = Faults::none()
            .throttle(0.5)
            .for_operation("DynamoDB_20120810.PutItem", |rates| rates.reset(1.0));
        assert_eq!(faults.rates_for("GetItem"), Rates::none().throttle(0.5));
        assert_eq!(
            faults.rates_for("PutItem"),
            Rates::none().throttle(0.5).reset(1.0)
        );
    }

    #[test]
    fn batch_write_split_and_merge() {
        let body = serde_json::json!({
            "RequestItems": {
                "a": [{"PutRequest": {"Item": {"pk": {"S": "1"}}}},
                      {"PutRequest": {"Item": {"pk": {"S": "2"}}}}],
                "b": [{"DeleteRequest": {"Key": {"pk": {"S": "3"}}}}],
            },
            "ReturnConsumedCapacity": "TOTAL",
        })
        .to_string();
        let batch =
            Batch::parse("BatchWriteItem", &HeaderMap::new(), body.as_bytes()).expect("a batch");
        assert_eq!(batch.len, 3);
        let (forward, withheld) = batch.split(&[true, false, false]);
        let forward: Value =
            serde_json::from_slice(&forward.expect("something forwarded")).expect("JSON");
        assert_eq!(
            forward,
            serde_json::json!({
                "RequestItems": {"a": [{"PutRequest": {"Item": {"pk": {"S": "1"}}}}]},
                "ReturnConsumedCapacity": "TOTAL",
            })
        );
        let answer = serde_json::json!({
            "UnprocessedItems": {"b": [{"PutRequest": {"Item": {"pk": {"S": "9"}}}}]}
        })
        .to_string();
        let merged =
            merge_unprocessed(BatchKind::Write, answer.as_bytes(), withheld).expect("merged");
        let merged: Value = serde_json::from_slice(&merged).expect("JSON");
        assert_eq!(
            merged,
            serde_json::json!({"UnprocessedItems": {
                "a": [{"PutRequest": {"Item": {"pk": {"S": "2"}}}}],
                "b": [{"PutRequest": {"Item": {"pk": {"S": "9"}}}},
                      {"DeleteRequest": {"Key": {"pk": {"S": "3"}}}}],
            }})
        );
    }

    #[test]
    fn batch_get_split_keeps_table_fields() {
        let body = serde_json::json!({
            "RequestItems": {"a": {
                "Keys": [{"pk": {"S": "1"}}, {"pk": {"S": "2"}}],
                "ProjectionExpression": "#p",
                "ExpressionAttributeNames": {"#p": "pk"},
                "ConsistentRead": true,
            }},
        })
        .to_string();
        let batch =
            Batch::parse("BatchGetItem", &HeaderMap::new(), body.as_bytes()).expect("a batch");
        let (_, withheld) = batch.split(&[false, true]);
        let merged = merge_unprocessed(BatchKind::Get, br#"{"Responses":{"a":[]}}"#, withheld)
            .expect("merged");
        let merged: Value = serde_json::from_slice(&merged).expect("JSON");
        assert_eq!(
            merged["UnprocessedKeys"]["a"],
            serde_json::json!({
                "Keys": [{"pk": {"S": "1"}}],
                "ProjectionExpression": "#p",
                "ExpressionAttributeNames": {"#p": "pk"},
                "ConsistentRead": true,
            })
        );
    }

    #[test]
    fn malformed_batches_are_not_split() {
        let headers = HeaderMap::new();
        for body in [
            &b"not json"[..],
            br#"[]"#,
            br#"{}"#,
            br#"{"RequestItems": []}"#,
            br#"{"RequestItems": {"a": {}}}"#,
            br#"{"RequestItems": {"a": []}}"#,
        ] {
            assert!(Batch::parse("BatchWriteItem", &headers, body).is_none());
        }
        assert!(
            Batch::parse("BatchGetItem", &headers, br#"{"RequestItems": {"a": []}}"#).is_none()
        );
        assert!(Batch::parse("PutItem", &headers, br#"{"RequestItems": {"a": [{}]}}"#).is_none());
    }

    #[test]
    fn upstream_must_be_plain_http() {
        assert_eq!(
            parse_upstream("http://127.0.0.1:8000/").ok().as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert!(parse_upstream("https://127.0.0.1:8000").is_err());
        assert!(parse_upstream("127.0.0.1:8000").is_err());
        assert!(parse_upstream("http://127.0.0.1:8000/x").is_err());
    }
}
