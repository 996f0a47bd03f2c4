//! The one error type of the command, which `main` prints as a single line.

use std::error::Error as _;
use std::path::PathBuf;

use aws_sdk_dynamodb::error::{ConnectorError, ErrorMetadata, ProvideErrorMetadata, SdkError};

/// Why a command failed. Each variant's text is one line that names the table, the place and
/// the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line or the description file asks for something that cannot be done.
    #[error("{0}")]
    Invalid(String),

    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The table does not exist.
    #[error("table `{table}` does not exist at {place}")]
    TableNotFound {
        /// The table name.
        table: String,
        /// The endpoint or region asked.
        place: String,
    },

    /// `create-table` found a table of that name already.
    #[error("table `{table}` already exists at {place}")]
    TableExists {
        /// The table name.
        table: String,
        /// The endpoint or region asked.
        place: String,
    },

    /// No connection could be made.
    #[error("cannot reach {place}: {cause}")]
    Unreachable {
        /// The endpoint or region asked.
        place: String,
        /// What the connection attempt ran into, such as `connection refused`.
        cause: String,
    },

    /// DynamoDB answered a request with an error, or the request failed in the SDK.
    #[error("{operation} on table `{table}` at {place} failed: {cause}")]
    Request {
        /// The DynamoDB operation, such as `Scan`.
        operation: &'static str,
        /// The table name.
        table: String,
        /// The endpoint or region asked.
        place: String,
        /// The error code and message, or the SDK's chain of causes.
        cause: String,
    },

    /// DynamoDB Local could not be installed or started.
    #[error(transparent)]
    Local(#[from] singletable_local::Error),

    /// Writing to standard output failed, or the signal handler could not be installed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// The result of every command.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Turns a failed SDK request on `table` at `place` into a readable error: a missing table,
    /// an endpoint that cannot be reached, or DynamoDB's error code and message.
    pub fn sdk<E>(error: SdkError<E>, operation: &'static str, table: &str, place: &str) -> Self
    where
        aws_sdk_dynamodb::Error: From<SdkError<E>>,
    {
        let status = error
            .raw_response()
            .map(|response| response.status().as_u16());
        Self::dynamodb(error.into(), status, operation, table, place)
    }

    fn dynamodb(
        error: aws_sdk_dynamodb::Error,
        status: Option<u16>,
        operation: &'static str,
        table: &str,
        place: &str,
    ) -> Self {
        let (table, place) = (table.to_owned(), place.to_owned());
        match &error {
            aws_sdk_dynamodb::Error::ResourceNotFoundException(_) => {
                return Self::TableNotFound { table, place }
            }
            aws_sdk_dynamodb::Error::ResourceInUseException(_) if operation == "CreateTable" => {
                return Self::TableExists { table, place }
            }
            _ => {}
        }
        if let Some(cause) = unreachable_cause(&error) {
            return Self::Unreachable { place, cause };
        }
        let unrecognized = error
            .source()
            .is_some_and(|source| source.downcast_ref::<ErrorMetadata>().is_some());
        let cause = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            // Something answered, but not with a DynamoDB error.
            (None, None) if unrecognized => {
                let response =
                    status.map_or("a response".to_owned(), |status| format!("HTTP {status}"));
                format!("{response} that is not from DynamoDB; check the endpoint")
            }
            _ => chain(&error),
        };
        Self::Request {
            operation,
            table,
            place,
            cause,
        }
    }

    /// Turns an error of the runtime crate into a readable error, looking inside its SDK errors.
    pub fn core(error: singletable_core::Error, table: &str, place: &str) -> Self {
        match error {
            singletable_core::Error::Sdk {
                operation, source, ..
            } => Self::dynamodb(*source, None, operation, table, place),
            other => Self::Invalid(other.to_string()),
        }
    }

    pub(crate) fn output(source: std::io::Error) -> Self {
        Self::Io {
            action: "cannot write the output",
            source,
        }
    }
}

/// Why no connection could be made, if that is what went wrong.
fn unreachable_cause(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut connector = None;
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<ConnectorError>() {
            connector = Some(found);
        }
        if connector.is_some() {
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                return Some(io_cause(io));
            }
        }
        current = error.source();
    }
    let connector = connector?;
    Some(if connector.is_timeout() {
        "connection timed out".to_owned()
    } else {
        connector
            .source()
            .map_or_else(|| connector.to_string(), chain)
    })
}

/// `connection refused` rather than `Connection refused (os error 111)`.
fn io_cause(error: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match error.kind() {
        kind @ (ConnectionRefused | ConnectionReset | ConnectionAborted | TimedOut
        | AddrNotAvailable | NotConnected | HostUnreachable | NetworkUnreachable) => {
            kind.to_string()
        }
        _ => error.to_string(),
    }
}

/// An error and its causes, joined by `: `, without the debug dump `DisplayErrorContext` adds.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        // Wrappers often repeat their source's message.
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}
