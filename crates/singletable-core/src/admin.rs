//! Creating the table a [`Table`] describes: keys, the type index and every declared index;
//! and turning on its stream, which change feeds read.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

use aws_sdk_dynamodb::client::Waiters;

use crate::error::{Error, Result};
use crate::item::{TENANT_TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::request::{self, sdk_error};
use crate::table::Table;

/// What errors about the table itself name as the entity.
const TABLE: &str = "(table)";

impl Table {
    /// Creates the table on demand capacity: string keys, the type index (if declared) and every
    /// declared index, each projecting all attributes. Returns once the table is active.
    ///
    /// Meant for tests, examples and first deploys; production tables usually come from
    /// infrastructure code.
    pub async fn create_table(&self) -> Result<()> {
        self.create(None).await.map(drop)
    }

    /// Creates the table as [`create_table`](Self::create_table) does, with a stream of new and
    /// old images (what a [`ChangeFeed`](crate::ChangeFeed) reads), and returns the stream's ARN.
    ///
    /// ```no_run
    /// # async fn run(table: &singletable_core::Table) -> singletable_core::Result<()> {
    /// let stream_arn = table.create_table_with_stream().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create_table_with_stream(&self) -> Result<String> {
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()
            .map_err(|e| sdk_error(self, "CreateTable", TABLE, e))?;
        match self.create(Some(stream)).await? {
            Some(arn) => Ok(arn),
            None => self.stream_arn().await?.ok_or_else(|| no_stream(self)),
        }
    }

    /// Turns on the table's stream with new and old images (what a
    /// [`ChangeFeed`](crate::ChangeFeed) reads) and returns its ARN once the table is active
    /// again. A stream that is on already with new and old images is kept as it is; one with
    /// other images is refused ([`Error::InvalidRequest`]), since replacing it starts a new
    /// stream that its consumers would have to move to.
    ///
    /// ```no_run
    /// # async fn run(table: &singletable_core::Table) -> singletable_core::Result<()> {
    /// let stream_arn = table.enable_stream().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn enable_stream(&self) -> Result<String> {
        let described = self.describe().await?;
        let current = described
            .as_ref()
            .and_then(|t| t.stream_specification())
            .filter(|s| s.stream_enabled());
        if let Some(spec) = current {
            if spec.stream_view_type() != Some(&StreamViewType::NewAndOldImages) {
                return Err(Error::InvalidRequest {
                    entity: TABLE,
                    reason: format!(
                        "table `{}` has a stream of {}, and change feeds need new and old images; \
                         turn the stream off and on again with NEW_AND_OLD_IMAGES (its consumers \
                         then read a new stream)",
                        self.name(),
                        spec.stream_view_type().map_or("no images", |v| v.as_str())
                    ),
                });
            }
            let arn = described.and_then(|t| t.latest_stream_arn);
            return arn.ok_or_else(|| no_stream(self));
        }
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()
            .map_err(|e| sdk_error(self, "UpdateTable", TABLE, e))?;
        let client = self.client();
        let sent = request::send(
            self,
            "UpdateTable",
            TABLE,
            |_| {
                client
                    .update_table()
                    .table_name(self.name())
                    .stream_specification(stream)
            },
            |request| request.send(),
        )
        .await;
        let output = sent
            .result
            .map_err(|e| sdk_error(self, "UpdateTable", TABLE, e))?;
        self.wait_until_active().await?;
        let arn = output.table_description.and_then(|t| t.latest_stream_arn);
        match arn {
            Some(arn) => Ok(arn),
            None => self.stream_arn().await?.ok_or_else(|| no_stream(self)),
        }
    }

    /// The ARN of the table's stream, or `None` when its stream is off (`DescribeTable`'s
    /// `LatestStreamArn`).
    pub async fn stream_arn(&self) -> Result<Option<String>> {
        let Some(table) = self.describe().await? else {
            return Ok(None);
        };
        let enabled = table
            .stream_specification()
            .is_some_and(|s| s.stream_enabled());
        Ok(table.latest_stream_arn.filter(|_| enabled))
    }

    /// The table as `DescribeTable` tells it.
    async fn describe(&self) -> Result<Option<aws_sdk_dynamodb::types::TableDescription>> {
        let client = self.client();
        let sent = request::send(
            self,
            "DescribeTable",
            TABLE,
            |_| client.describe_table().table_name(self.name()),
            |request| request.send(),
        )
        .await;
        let output = sent
            .result
            .map_err(|e| sdk_error(self, "DescribeTable", TABLE, e))?;
        Ok(output.table)
    }

    /// Waits until the table is active.
    async fn wait_until_active(&self) -> Result<()> {
        self.client()
            .wait_until_table_exists()
            .table_name(self.name())
            .wait(std::time::Duration::from_secs(300))
            .await
            .map_err(|e| sdk_error(self, "DescribeTable", TABLE, e))?;
        Ok(())
    }

    /// Creates the table, with `stream` if given; returns the stream's ARN when CreateTable
    /// tells it.
    async fn create(&self, stream: Option<StreamSpecification>) -> Result<Option<String>> {
        let sdk = |e: aws_sdk_dynamodb::error::BuildError| sdk_error(self, "CreateTable", TABLE, e);
        let mut attributes: Vec<&str> = vec![self.partition_key(), self.sort_key()];
        let mut indexes = Vec::new();
        let declared = self
            .type_index()
            .map(|name| (name, TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE))
            .into_iter()
            .chain(
                self.tenant_type_index()
                    .map(|name| (name, TENANT_TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE)),
            )
            .chain(self.indexes().iter().map(|i| {
                (
                    i.name.as_str(),
                    i.partition_key.as_str(),
                    i.sort_key.as_str(),
                )
            }));
        for (name, pk, sk) in declared {
            attributes.extend([pk, sk]);
            indexes.push(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .key_schema(key(pk, KeyType::Hash).map_err(sdk)?)
                    .key_schema(key(sk, KeyType::Range).map_err(sdk)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(sdk)?,
            );
        }
        attributes.sort_unstable();
        attributes.dedup();
        let definitions = attributes
            .into_iter()
            .map(|name| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(sdk)?;
        let created = self
            .client()
            .create_table()
            .table_name(self.name())
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(definitions))
            .key_schema(key(self.partition_key(), KeyType::Hash).map_err(sdk)?)
            .key_schema(key(self.sort_key(), KeyType::Range).map_err(sdk)?)
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .set_stream_specification(stream)
            .send()
            .await
            .map_err(|e| sdk_error(self, "CreateTable", TABLE, e))?;
        self.wait_until_active().await?;
        if let Some(attribute) = self.ttl_attribute() {
            let ttl = TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build()
                .map_err(sdk)?;
            self.client()
                .update_time_to_live()
                .table_name(self.name())
                .time_to_live_specification(ttl)
                .send()
                .await
                .map_err(|e| sdk_error(self, "UpdateTimeToLive", TABLE, e))?;
        }
        Ok(created.table_description.and_then(|t| t.latest_stream_arn))
    }
}

/// The error for a table whose stream DynamoDB does not name.
fn no_stream(table: &Table) -> Error {
    Error::InvalidRequest {
        entity: TABLE,
        reason: format!("table `{}` has no stream", table.name()),
    }
}

fn key(
    name: &str,
    key_type: KeyType,
) -> std::result::Result<KeySchemaElement, aws_sdk_dynamodb::error::BuildError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
}
