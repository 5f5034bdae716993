//! Field discovery: which JSON fields a group's recent events hold, with
//! their types and how often they occur, like Logs Insights' "discovered
//! fields", as the table function `json_fields('<group>' [, sample [, catalog]])`.
//!
//! The sample is the group's most recent events: reads of widening windows
//! back from now (15 minutes, an hour, ..., everything) until one holds
//! `sample` events, so a busy group costs one small read and a quiet one a
//! few. Each row also carries the SQL expression that reads the field.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::ExecutionPlan;
use futures::{stream, TryStreamExt};
use serde_json::Value;

use crate::catalog::{find_catalog, LogCatalog};
use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::model::{LogGroupClass, ReadApi, ReadRequest, TimeRange};
use crate::time::now_ms;

/// Events sampled when the call does not say.
pub const DEFAULT_SAMPLE: usize = 1_000;
const MAX_SAMPLE: usize = 10_000;
/// Windows back from now, in minutes; `None`: all of the group.
const WINDOWS_MIN: [Option<i64>; 7] = [
    Some(15),
    Some(60),
    Some(6 * 60),
    Some(24 * 60),
    Some(7 * 24 * 60),
    Some(30 * 24 * 60),
    None,
];

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("field", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
        Field::new("events", DataType::Int64, false),
        Field::new("share", DataType::Float64, false),
        Field::new("example", DataType::Utf8, true),
        Field::new("sql", DataType::Utf8, false),
    ]))
});

/// What the sample says of one field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldStats {
    /// `a.b`, with `[]` for the elements of an array.
    pub path: String,
    /// `string`, `integer`, `number`, `boolean`, `object`, `array`, `null`,
    /// or several joined by `|` in order of frequency.
    pub kind: String,
    /// JSON events holding the field.
    pub events: usize,
    pub share: f64,
    pub example: Option<String>,
    /// The datafusion-functions-json call reading it from `message`.
    pub sql: String,
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::Null => "null",
    }
}

#[derive(Default)]
struct Seen {
    kinds: BTreeMap<&'static str, usize>,
    events: usize,
    last_event: usize,
    example: Option<String>,
    /// The keys leading here; `None` once an array is crossed (no single call reads it).
    keys: Option<Vec<String>>,
}

fn walk(
    value: &Value,
    path: &str,
    keys: Option<Vec<String>>,
    event: usize,
    seen: &mut HashMap<String, Seen>,
    order: &mut Vec<String>,
) {
    if !path.is_empty() {
        let entry = seen.entry(path.to_string()).or_insert_with(|| {
            order.push(path.to_string());
            Seen {
                keys: keys.clone(),
                ..Default::default()
            }
        });
        *entry.kinds.entry(kind_of(value)).or_default() += 1;
        if entry.last_event != event + 1 {
            entry.last_event = event + 1;
            entry.events += 1;
        }
        if entry.example.is_none()
            && !matches!(value, Value::Object(_) | Value::Array(_) | Value::Null)
        {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            entry.example = Some(text.chars().take(80).collect());
        }
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let child_keys = keys.clone().map(|mut ks| {
                    ks.push(k.clone());
                    ks
                });
                walk(v, &child, child_keys, event, seen, order);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, &format!("{path}[]"), None, event, seen, order);
            }
        }
        _ => {}
    }
}

fn sql_for(keys: &Option<Vec<String>>, kind: &str) -> String {
    let Some(keys) = keys else {
        return "json_get_json(message, ...) with the element's index".into();
    };
    let function = match kind {
        "string" => "json_get_str",
        "integer" => "json_get_int",
        "number" => "json_get_float",
        "boolean" => "json_get_bool",
        _ => "json_get_json",
    };
    let args: Vec<String> = keys
        .iter()
        .map(|k| format!("'{}'", k.replace('\'', "''")))
        .collect();
    format!("{function}(message, {})", args.join(", "))
}

/// The fields of the JSON objects among `messages` (other messages are
/// skipped), in order of first appearance.
pub fn discover<'a>(messages: impl IntoIterator<Item = &'a str>) -> Vec<FieldStats> {
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut order = Vec::new();
    let mut json_events = 0;
    for message in messages {
        let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(message.trim()) else {
            continue;
        };
        walk(
            &value,
            "",
            Some(Vec::new()),
            json_events,
            &mut seen,
            &mut order,
        );
        json_events += 1;
    }
    order
        .into_iter()
        .map(|path| {
            let s = seen.remove(&path).expect("every path in order is seen");
            let mut kinds: Vec<(&str, usize)> = s.kinds.into_iter().collect();
            kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let main = kinds[0].0;
            let kind = kinds.iter().map(|(k, _)| *k).collect::<Vec<_>>().join("|");
            FieldStats {
                sql: sql_for(&s.keys, main),
                path,
                kind,
                events: s.events,
                share: s.events as f64 / json_events.max(1) as f64,
                example: s.example,
            }
        })
        .collect()
}

fn to_batch(fields: &[FieldStats]) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    RecordBatch::try_new(
        Arc::clone(&SCHEMA),
        vec![
            Arc::new(StringArray::from_iter_values(
                fields.iter().map(|f| &f.path),
            )),
            Arc::new(StringArray::from_iter_values(
                fields.iter().map(|f| &f.kind),
            )),
            Arc::new(Int64Array::from_iter_values(
                fields.iter().map(|f| f.events as i64),
            )),
            Arc::new(Float64Array::from_iter_values(
                fields.iter().map(|f| f.share),
            )),
            Arc::new(StringArray::from_iter(
                fields.iter().map(|f| f.example.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(fields.iter().map(|f| &f.sql))),
        ],
    )
}

/// The most recent `sample` messages of `group` (see the module docs).
async fn recent_messages(catalog: &LogCatalog, group: &str, sample: usize) -> Result<Vec<String>> {
    let group = catalog.resolve_group(group).await?;
    if group.class == LogGroupClass::InfrequentAccess {
        return Err(ConnectorError::InvalidRequest(format!(
            "json_fields(): {:?} is an Infrequent Access group, which cannot be searched (FilterLogEvents); \
             read a sample from one of its streams with json functions instead",
            group.name
        )));
    }
    let now = now_ms();
    let mut messages = Vec::new();
    for window in WINDOWS_MIN {
        let mut request = ReadRequest::whole_group(group.name.clone());
        request.time = TimeRange::new(window.map(|m| now - m * 60_000), None);
        request.limit = Some(sample);
        request.api = ReadApi::FilterLogEvents;
        let pages: Vec<_> = catalog
            .source()
            .read_events(&request, &ReadCounters::default())
            .try_collect()
            .await?;
        messages = pages
            .into_iter()
            .flat_map(|p| p.events.into_iter().map(|e| e.message))
            .take(sample)
            .collect();
        if messages.len() >= sample {
            break;
        }
    }
    Ok(messages)
}

/// `json_fields(group [, sample [, catalog]])`.
#[derive(Debug)]
pub struct JsonFieldsFunction {
    catalogs: BTreeMap<String, LogCatalog>,
    default_catalog: String,
}

impl JsonFieldsFunction {
    pub fn new(catalogs: BTreeMap<String, LogCatalog>, default_catalog: String) -> Self {
        Self {
            catalogs,
            default_catalog,
        }
    }
}

const USAGE: &str = "json_fields(log_group [, sample [, catalog]])";

impl TableFunctionImpl for JsonFieldsFunction {
    fn call(&self, args: &[Expr]) -> DfResult<Arc<dyn TableProvider>> {
        let text = |i: usize| match args.get(i) {
            Some(Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _)) => {
                Some(s.clone())
            }
            _ => None,
        };
        let Some(group) = text(0) else {
            return plan_err!("{USAGE}: the log group must be a text literal");
        };
        let sample = match args.get(1) {
            None => DEFAULT_SAMPLE,
            Some(Expr::Literal(v, _)) => match v.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(n)) if n >= 1 && n as usize <= MAX_SAMPLE => n as usize,
                _ => return plan_err!("{USAGE}: sample must be 1 to {MAX_SAMPLE} events"),
            },
            Some(_) => return plan_err!("{USAGE}: sample must be a number"),
        };
        let name = match args.get(2) {
            None => self.default_catalog.clone(),
            Some(_) => match text(2) {
                Some(c) => c,
                None => return plan_err!("{USAGE}: the catalog must be a text literal"),
            },
        };
        if args.len() > 3 {
            return plan_err!("{USAGE} takes 1 to 3 arguments");
        }
        let catalog = find_catalog(&self.catalogs, &name, &format!("{USAGE}: "))?;
        Ok(Arc::new(JsonFieldsTable(Arc::new(Discovery {
            catalog: catalog.clone(),
            group,
            sample,
        }))))
    }
}

#[derive(Debug)]
struct Discovery {
    catalog: LogCatalog,
    group: String,
    sample: usize,
}

#[derive(Debug)]
struct JsonFieldsTable(Arc<Discovery>);

#[async_trait]
impl TableProvider for JsonFieldsTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&SCHEMA)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(StreamingTableExec::try_new(
            Arc::clone(&SCHEMA),
            vec![Arc::clone(&self.0) as Arc<dyn PartitionStream>],
            projection,
            [],
            false,
            limit,
        )?))
    }
}

impl PartitionStream for Discovery {
    fn schema(&self) -> &SchemaRef {
        &SCHEMA
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (catalog, group, sample) = (self.catalog.clone(), self.group.clone(), self.sample);
        let batch = stream::once(async move {
            let messages = recent_messages(&catalog, &group, sample).await?;
            let fields = discover(messages.iter().map(String::as_str));
            DfResult::Ok(to_batch(&fields)?)
        });
        Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&SCHEMA), batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_types_and_shares_of_a_sample() {
        let messages = [
            r#"{"eventName":"ConsoleLogin","status":200,"user":{"type":"Root","id":"r-1"},"ok":true}"#,
            r#"{"eventName":"CreateUser","status":201.5,"user":{"type":"IAMUser"},"tags":[{"k":"a"},{"k":"b"}]}"#,
            "START RequestId: 1 Version: $LATEST",
            r#"{"eventName":"DeleteUser","status":"n/a","user":null}"#,
            "[1, 2]",
        ];
        let got = discover(messages);
        let row = |path: &str| {
            got.iter()
                .find(|f| f.path == path)
                .unwrap_or_else(|| panic!("{path}"))
        };
        let paths: Vec<&str> = got.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "eventName",
                "ok",
                "status",
                "user",
                "user.id",
                "user.type",
                "tags",
                "tags[]",
                "tags[].k"
            ]
        );
        assert_eq!(row("eventName").kind, "string");
        assert_eq!(row("eventName").events, 3);
        assert_eq!(row("eventName").share, 1.0);
        assert_eq!(row("eventName").example.as_deref(), Some("ConsoleLogin"));
        assert_eq!(row("eventName").sql, "json_get_str(message, 'eventName')");
        // Mixed types, most frequent first (ties by name).
        assert_eq!(row("status").kind, "integer|number|string");
        assert_eq!(row("user").kind, "object|null");
        assert_eq!(
            row("user.type").sql,
            "json_get_str(message, 'user', 'type')"
        );
        assert_eq!(row("user.type").events, 2);
        assert!((row("user.id").share - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(row("ok").sql, "json_get_bool(message, 'ok')");
        // Array elements count once per event, and have no single-call reader.
        assert_eq!(row("tags[].k").events, 1);
        assert!(row("tags[].k")
            .sql
            .starts_with("json_get_json(message, ...)"));
        assert!(discover(["not json", "{broken"]).is_empty());
    }

    #[test]
    fn quotes_in_keys_are_escaped_in_the_sql() {
        let got = discover([r#"{"it's":1}"#]);
        assert_eq!(got[0].sql, "json_get_int(message, 'it''s')");
    }
}
