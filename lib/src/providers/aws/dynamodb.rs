//! The DynamoDB lock adapter: one item per route (`lock_id` = the route's ARN) with the holder, when it
//! was taken, `expires_at` (epoch seconds, also the table's TTL attribute) and `version` (bumped by every
//! renewal). Every change is a conditional write, so two processes can never both believe they hold it,
//! and no write is conditioned on a time another machine's clock wrote.
//!
//! The same table keeps the routes' deployment history ([`HistoryStore`]): one item per finished run,
//! keyed `history#ROUTE#STARTED#ID` (a lease's key is an ARN, so the two never collide), its entry as
//! JSON in `entry`, and an `expires_at` [`HISTORY_DAYS`] days on, so the table's TTL ends it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use crate::history::{self, HistoryEntry, HistoryStore};
use crate::ports::{ApiError, ApiErrorKind, LeaseHolder, Lock};
use crate::providers::aws::calls::CallCounter;
use crate::providers::aws::errors::classify;

const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// How long a history item is kept (the table's TTL attribute ends it).
pub const HISTORY_DAYS: u64 = 180;

/// The key prefix of history items.
const HISTORY: &str = "history#";

/// The key prefix of `route`'s history items.
fn history_prefix(route: &str) -> String {
    format!("{HISTORY}{route}#")
}

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

    /// Whether the table exists (`DescribeTable`): albflip uses the naming convention's table when it
    /// exists and no table is named.
    pub async fn table_exists(&self) -> Result<bool, ApiError> {
        let op = self.op("DescribeTable");
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| classify(&op, e))
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ApiErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn op(&self, name: &str) -> String {
        let op = format!("dynamodb:{name}");
        self.calls.record(&op);
        op
    }
}

/// The condition that the item's version is `version` (an item an older albflip wrote has none: 0).
fn version_is(version: u64) -> &'static str {
    if version == 0 {
        "attribute_not_exists(version)"
    } else {
        "version = :v"
    }
}

impl Lock for DynamoLock {
    async fn acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
        now: SystemTime,
        stale: Option<&LeaseHolder>,
    ) -> Result<Result<u64, LeaseHolder>, ApiError> {
        let op = self.op("PutItem");
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("lock_id", s(key))
            .item("holder", s(holder))
            .item("since", s(&crate::state::timestamp(now)))
            .item("expires_at", n(epoch(now + ttl)))
            .item("version", n(1));
        put = match stale {
            // Nobody holds it: never on the strength of an expiry another machine's clock wrote.
            None => put.condition_expression("attribute_not_exists(lock_id)"),
            // Exactly the lease the caller watched unchanged for a whole ttl.
            Some(seen) => {
                let mut p = put
                    .condition_expression(format!(
                        "holder = :oh AND since = :os AND {}",
                        version_is(seen.version)
                    ))
                    .expression_attribute_values(":oh", s(&seen.holder))
                    .expression_attribute_values(":os", s(&seen.since));
                if seen.version > 0 {
                    p = p.expression_attribute_values(":v", n(seen.version));
                }
                p
            }
        };
        match put.send().await.map_err(|e| classify(&op, e)) {
            Ok(_) => Ok(Ok(1)),
            Err(e) if condition_failed(&e) => {
                let current = self.holder(key).await?;
                Ok(Err(current.unwrap_or(LeaseHolder {
                    holder: "unknown".into(),
                    since: "?".into(),
                    expires: "?".into(),
                    expires_at: None,
                    version: 0,
                })))
            }
            Err(e) => Err(e),
        }
    }

    async fn renew(
        &self,
        key: &str,
        holder: &str,
        version: u64,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<Option<u64>, ApiError> {
        let op = self.op("UpdateItem");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("lock_id", s(key))
            .update_expression("SET expires_at = :e, version = :nv")
            .condition_expression(format!("holder = :h AND {}", version_is(version)))
            .expression_attribute_values(":e", n(epoch(now + ttl)))
            .expression_attribute_values(":nv", n(version + 1))
            .expression_attribute_values(":h", s(holder));
        if version > 0 {
            update = update.expression_attribute_values(":v", n(version));
        }
        match update.send().await.map_err(|e| classify(&op, e)) {
            Ok(_) => Ok(Some(version + 1)),
            Err(e) if condition_failed(&e) => Ok(None),
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
        let number = |k: &str| match item.get(k) {
            Some(AttributeValue::N(v)) => v.parse::<u64>().ok(),
            _ => None,
        };
        let expires_at = number("expires_at").map(|secs| UNIX_EPOCH + Duration::from_secs(secs));
        Ok(Some(LeaseHolder {
            holder: text("holder"),
            since: text("since"),
            expires: expires_at.map_or_else(|| text("expires_at"), crate::state::timestamp),
            expires_at,
            version: number("version").unwrap_or(0),
        }))
    }

    async fn force_release(
        &self,
        key: &str,
        shown: &LeaseHolder,
    ) -> Result<Result<(), Option<LeaseHolder>>, ApiError> {
        let op = self.op("DeleteItem");
        let mut delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("lock_id", s(key))
            // Exactly the lease shown: a renewal bumps the version, a new run's lease has another since.
            .condition_expression(format!(
                "holder = :oh AND since = :os AND {}",
                version_is(shown.version)
            ))
            .expression_attribute_values(":oh", s(&shown.holder))
            .expression_attribute_values(":os", s(&shown.since));
        if shown.version > 0 {
            delete = delete.expression_attribute_values(":v", n(shown.version));
        }
        match delete.send().await.map_err(|e| classify(&op, e)) {
            Ok(_) => Ok(Ok(())),
            Err(e) if condition_failed(&e) => Ok(Err(self.holder(key).await?)),
            Err(e) => Err(e),
        }
    }
}

impl HistoryStore for DynamoLock {
    async fn append(&self, entry: &HistoryEntry) -> Result<(), ApiError> {
        let op = self.op("PutItem");
        let json = serde_json::to_string(entry).map_err(|e| ApiError {
            operation: op.clone(),
            kind: ApiErrorKind::Other,
            message: format!("the history entry could not be encoded: {e}"),
        })?;
        let expires = entry
            .started_at()
            .map_or(0, |t| epoch(t + Duration::from_secs(HISTORY_DAYS * 86_400)));
        self.client
            .put_item()
            .table_name(&self.table)
            .item(
                "lock_id",
                s(&format!(
                    "{}{}#{}",
                    history_prefix(&entry.route),
                    entry.started,
                    entry.id
                )),
            )
            .item("route", s(&entry.route))
            .item("entry", s(&json))
            .item("expires_at", n(expires))
            .send()
            .await
            .map_err(|e| classify(&op, e))?;
        Ok(())
    }

    async fn recent(&self, route: &str, limit: usize) -> Result<Vec<HistoryEntry>, ApiError> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let op = self.op("Scan");
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(lock_id, :p)")
                .expression_attribute_values(":p", s(&history_prefix(route)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify(&op, e))?;
            entries.extend(
                out.items()
                    .iter()
                    .filter_map(|item| match item.get("entry") {
                        Some(AttributeValue::S(json)) => serde_json::from_str(json).ok(),
                        _ => None,
                    }),
            );
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(history::newest_first(entries, limit))
    }
}
