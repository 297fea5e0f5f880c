//! The DynamoDB lock adapter: one item per route (`lock_id` = the route's ARN) with the holder, when it
//! was taken and `expires_at` (epoch seconds, also the table's TTL attribute). Every change is a
//! conditional write, so two processes can never both believe they hold it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use crate::ports::{ApiError, ApiErrorKind, LeaseHolder, Lock};
use crate::providers::aws::calls::CallCounter;
use crate::providers::aws::errors::classify;

const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// A lease table in DynamoDB (the reference stack's `…-albflip-locks`).
#[derive(Debug, Clone)]
pub struct DynamoLock {
    client: Client,
    table: String,
    calls: CallCounter,
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn condition_failed(e: &ApiError) -> bool {
    matches!(&e.kind, ApiErrorKind::Rejected { code } if code == CONDITION_FAILED)
}

impl DynamoLock {
    /// A lock on `table`.
    pub fn new(config: &SdkConfig, table: &str, calls: CallCounter) -> DynamoLock {
        DynamoLock {
            client: Client::new(config),
            table: table.to_string(),
            calls,
        }
    }

    fn op(&self, name: &str) -> String {
        let op = format!("dynamodb:{name}");
        self.calls.record(&op);
        op
    }
}

impl Lock for DynamoLock {
    async fn acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<Result<(), LeaseHolder>, ApiError> {
        let op = self.op("PutItem");
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("lock_id", s(key))
            .item("holder", s(holder))
            .item("since", s(&crate::state::timestamp(now)))
            .item("expires_at", n(epoch(now + ttl)))
            .condition_expression("attribute_not_exists(lock_id) OR expires_at < :now")
            .expression_attribute_values(":now", n(epoch(now)))
            .send()
            .await
            .map_err(|e| classify(&op, e));
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) if condition_failed(&e) => {
                let current = self.holder(key).await?;
                Ok(Err(current.unwrap_or(LeaseHolder {
                    holder: "unknown".into(),
                    since: "?".into(),
                    expires: "?".into(),
                })))
            }
            Err(e) => Err(e),
        }
    }

    async fn renew(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<bool, ApiError> {
        let op = self.op("UpdateItem");
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("lock_id", s(key))
            .update_expression("SET expires_at = :e")
            .condition_expression("holder = :h")
            .expression_attribute_values(":e", n(epoch(now + ttl)))
            .expression_attribute_values(":h", s(holder))
            .send()
            .await
            .map_err(|e| classify(&op, e));
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn release(&self, key: &str, holder: &str) -> Result<(), ApiError> {
        let op = self.op("DeleteItem");
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("lock_id", s(key))
            .condition_expression("holder = :h")
            .expression_attribute_values(":h", s(holder))
            .send()
            .await
            .map_err(|e| classify(&op, e));
        match result {
            Err(e) if !condition_failed(&e) => Err(e),
            _ => Ok(()),
        }
    }

    async fn holder(&self, key: &str) -> Result<Option<LeaseHolder>, ApiError> {
        let op = self.op("GetItem");
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("lock_id", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(&op, e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let text = |k: &str| match item.get(k) {
            Some(AttributeValue::S(v)) => v.clone(),
            Some(AttributeValue::N(v)) => v.clone(),
            _ => "?".into(),
        };
        let expires = match item.get("expires_at") {
            Some(AttributeValue::N(v)) => v
                .parse::<u64>()
                .map(|secs| crate::state::timestamp(UNIX_EPOCH + Duration::from_secs(secs)))
                .unwrap_or_else(|_| v.clone()),
            _ => "?".into(),
        };
        Ok(Some(LeaseHolder {
            holder: text("holder"),
            since: text("since"),
            expires,
        }))
    }

    async fn force_release(&self, key: &str) -> Result<(), ApiError> {
        let op = self.op("DeleteItem");
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("lock_id", s(key))
            .send()
            .await
            .map_err(|e| classify(&op, e))?;
        Ok(())
    }
}
