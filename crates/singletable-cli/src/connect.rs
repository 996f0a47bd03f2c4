//! The global connection options and the client they make.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;

use crate::error::{Error, Result};

/// The region used with a custom endpoint when none is configured; DynamoDB Local accepts any.
const LOCAL_REGION: &str = "us-east-1";

/// Where to send requests: a custom endpoint such as DynamoDB Local, or AWS.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Connection {
    /// Endpoint URL, such as http://127.0.0.1:8000 [default: $DYNAMODB_ENDPOINT, else AWS]
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,

    /// AWS region [default: from the environment or AWS config, else us-east-1 with --endpoint]
    #[arg(long, global = true)]
    pub region: Option<String>,
}

/// A client ready to use, and how errors name the place it talks to.
#[derive(Clone, Debug)]
pub struct Target {
    /// The SDK client.
    pub client: aws_sdk_dynamodb::Client,
    /// The endpoint URL, or `AWS <region>`.
    pub place: String,
}

impl Connection {
    /// The endpoint given with `--endpoint`, else the non-empty value of `DYNAMODB_ENDPOINT`.
    pub fn endpoint(&self) -> Option<String> {
        self.endpoint
            .clone()
            .or_else(|| std::env::var(singletable_local::ENDPOINT_ENV).ok())
            .map(|endpoint| endpoint.trim().to_owned())
            .filter(|endpoint| !endpoint.is_empty())
    }

    /// Builds the client.
    ///
    /// With a custom endpoint: the region defaults to `us-east-1`, static dummy credentials
    /// stand in when `AWS_ACCESS_KEY_ID` is unset, and timeouts and retries are short so that
    /// an endpoint that is down fails within seconds. Otherwise the AWS config chain decides.
    pub async fn connect(&self) -> Result<Target> {
        let explicit = self.region.clone().map(Region::new);
        let Some(endpoint) = self.endpoint() else {
            let region = RegionProviderChain::first_try(explicit).or_default_provider();
            let config = aws_config::defaults(BehaviorVersion::latest())
                .region(region)
                .load()
                .await;
            let Some(region) = config.region() else {
                return Err(Error::Invalid(
                    "no AWS region configured: pass --region, set AWS_REGION, \
                     or pass --endpoint for DynamoDB Local"
                        .into(),
                ));
            };
            let place = format!("AWS {region}");
            return Ok(Target {
                client: aws_sdk_dynamodb::Client::new(&config),
                place,
            });
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(Error::Invalid(format!(
                "endpoint `{endpoint}` is not a URL: it must start with http:// or https://"
            )));
        }
        // Not the default chain: its instance metadata lookup takes seconds off EC2.
        let region = RegionProviderChain::first_try(explicit)
            .or_else(EnvironmentVariableRegionProvider::new())
            .or_else(ProfileFileRegionProvider::new())
            .or_else(LOCAL_REGION);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(region)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(200)),
            );
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            // DynamoDB Local wants signed requests but accepts any key of letters and digits.
            loader = loader.credentials_provider(Credentials::new(
                "singletable",
                "singletable",
                None,
                None,
                "singletable-cli",
            ));
        }
        let config = loader.load().await;
        Ok(Target {
            client: aws_sdk_dynamodb::Client::new(&config),
            place: endpoint,
        })
    }
}
