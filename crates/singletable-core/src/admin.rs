//! Creating the table a [`Table`] describes: keys, the type index and every declared index.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use aws_sdk_dynamodb::client::Waiters;

use crate::error::Result;
use crate::item::{TENANT_TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::request::sdk_error;
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
        self.client()
            .create_table()
            .table_name(self.name())
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(definitions))
            .key_schema(key(self.partition_key(), KeyType::Hash).map_err(sdk)?)
            .key_schema(key(self.sort_key(), KeyType::Range).map_err(sdk)?)
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .send()
            .await
            .map_err(|e| sdk_error(self, "CreateTable", TABLE, e))?;
        self.client()
            .wait_until_table_exists()
            .table_name(self.name())
            .wait(std::time::Duration::from_secs(300))
            .await
            .map_err(|e| sdk_error(self, "DescribeTable", TABLE, e))?;
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
        Ok(())
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
