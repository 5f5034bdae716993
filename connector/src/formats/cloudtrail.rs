//! CloudTrail records as CloudTrail Lake typed them (`cloudtrail_events`).
//!
//! CloudTrail delivers one JSON record per CloudWatch event. The columns
//! are Lake's, spelled as Lake's SQL spells them (lower case), with Lake's
//! types: `eventtime` is the record's own time (CloudWatch's event time may
//! be later by the delivery delay), `useridentity` and `tlsdetails` are
//! structs, `resources` a list of structs, the free-form objects
//! (`requestparameters`, ...) maps of string to string whose nested values
//! are JSON text, so Lake's `element_at(...) LIKE '%x%'` and
//! `json_extract_scalar(element_at(...), '$.x')` idioms keep working.
//!
//! The schema is one table of [`Node`]s: the column, the JSON key CloudTrail
//! spells (`requestID`, `sourceIPAddress`, `resources[].ARN`) and the type.
//! Decoding, the Arrow schema and pushdown all read it, so a column can't be
//! decoded from one key and pushed down as another.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BooleanBuilder, ListArray, MapBuilder, MapFieldNames, StringBuilder, StructArray,
    TimestampMillisecondBuilder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Fields};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use serde_json::{Map, Value};

use super::{DecodeError, FormatPushdown, RecordDecoder, RecordFormat};
use crate::model::TimeRange;
use crate::pushdown::{json_pattern, literal, string_value, time_range_for, timestamp_nanos};
use crate::time::parse_rfc3339_ms;

/// The typed table's name.
pub const TABLE: &str = "cloudtrail_events";

/// The column holding the raw record.
pub const EVENT_JSON: &str = "eventjson";

/// How a JSON value becomes a column.
#[derive(Debug)]
enum Kind {
    /// Text; numbers, booleans and objects as their JSON text.
    Str,
    /// A JSON boolean (anything else is NULL, so `IS TRUE` patterns are exact).
    Bool,
    /// An RFC 3339 string, as epoch milliseconds in UTC.
    Time,
    /// An object, as a map of its keys to their values as text.
    Map,
    Struct(&'static [Node]),
    /// A list of objects.
    List(&'static [Node]),
}

#[derive(Debug)]
struct Node {
    column: &'static str,
    key: &'static str,
    kind: Kind,
}

const fn node(column: &'static str, key: &'static str, kind: Kind) -> Node {
    Node { column, key, kind }
}

const SESSION_ISSUER: &[Node] = &[
    node("type", "type", Kind::Str),
    node("principalid", "principalId", Kind::Str),
    node("arn", "arn", Kind::Str),
    node("accountid", "accountId", Kind::Str),
    node("username", "userName", Kind::Str),
];

const SESSION_CONTEXT: &[Node] = &[
    node(
        "attributes",
        "attributes",
        Kind::Struct(&[
            node("creationdate", "creationDate", Kind::Time),
            node("mfaauthenticated", "mfaAuthenticated", Kind::Str),
        ]),
    ),
    node(
        "sessionissuer",
        "sessionIssuer",
        Kind::Struct(SESSION_ISSUER),
    ),
    node(
        "webidfederationdata",
        "webIdFederationData",
        Kind::Struct(&[
            node("federatedprovider", "federatedProvider", Kind::Str),
            node("attributes", "attributes", Kind::Map),
        ]),
    ),
    node("sourceidentity", "sourceIdentity", Kind::Str),
    node("ec2roledelivery", "ec2RoleDelivery", Kind::Str),
    node("ec2issuedinvpc", "ec2IssuedInVPC", Kind::Str),
];

const USER_IDENTITY: &[Node] = &[
    node("type", "type", Kind::Str),
    node("principalid", "principalId", Kind::Str),
    node("arn", "arn", Kind::Str),
    node("accountid", "accountId", Kind::Str),
    node("accesskeyid", "accessKeyId", Kind::Str),
    node("username", "userName", Kind::Str),
    node(
        "sessioncontext",
        "sessionContext",
        Kind::Struct(SESSION_CONTEXT),
    ),
    node(
        "onbehalfof",
        "onBehalfOf",
        Kind::Struct(&[
            node("userid", "userId", Kind::Str),
            node("identitystorearn", "identityStoreArn", Kind::Str),
        ]),
    ),
    node(
        "inscopeof",
        "inScopeOf",
        Kind::Struct(&[
            node("sourcearn", "sourceArn", Kind::Str),
            node("sourceaccount", "sourceAccount", Kind::Str),
            node("issuertype", "issuerType", Kind::Str),
            node("credentialsissuedto", "credentialsIssuedTo", Kind::Str),
        ]),
    ),
    node("invokedby", "invokedBy", Kind::Str),
    node("identityprovider", "identityProvider", Kind::Str),
];

const RESOURCE: &[Node] = &[
    node("accountid", "accountId", Kind::Str),
    node("type", "type", Kind::Str),
    node("arn", "ARN", Kind::Str),
    node("arnprefix", "ARNPrefix", Kind::Str),
];

/// Lake's columns in Lake's order; `eventjson` (the raw record) follows.
const COLUMNS: &[Node] = &[
    node("eventversion", "eventVersion", Kind::Str),
    node("useridentity", "userIdentity", Kind::Struct(USER_IDENTITY)),
    node("eventtime", "eventTime", Kind::Time),
    node("eventsource", "eventSource", Kind::Str),
    node("eventname", "eventName", Kind::Str),
    node("awsregion", "awsRegion", Kind::Str),
    node("sourceipaddress", "sourceIPAddress", Kind::Str),
    node("useragent", "userAgent", Kind::Str),
    node("errorcode", "errorCode", Kind::Str),
    node("errormessage", "errorMessage", Kind::Str),
    node("requestparameters", "requestParameters", Kind::Map),
    node("responseelements", "responseElements", Kind::Map),
    node("additionaleventdata", "additionalEventData", Kind::Map),
    node("requestid", "requestID", Kind::Str),
    node("eventid", "eventID", Kind::Str),
    node("readonly", "readOnly", Kind::Bool),
    node("resources", "resources", Kind::List(RESOURCE)),
    node("eventtype", "eventType", Kind::Str),
    node("apiversion", "apiVersion", Kind::Str),
    node("managementevent", "managementEvent", Kind::Bool),
    node("recipientaccountid", "recipientAccountId", Kind::Str),
    node("sharedeventid", "sharedEventID", Kind::Str),
    node("annotation", "annotation", Kind::Str),
    node("vpcendpointid", "vpcEndpointId", Kind::Str),
    node("vpcendpointaccountid", "vpcEndpointAccountId", Kind::Str),
    node("serviceeventdetails", "serviceEventDetails", Kind::Map),
    node("addendum", "addendum", Kind::Map),
    node("edgedevicedetails", "edgeDeviceDetails", Kind::Map),
    node("eventcategory", "eventCategory", Kind::Str),
    node(
        "tlsdetails",
        "tlsDetails",
        Kind::Struct(&[
            node("tlsversion", "tlsVersion", Kind::Str),
            node("ciphersuite", "cipherSuite", Kind::Str),
            node(
                "clientprovidedhostheader",
                "clientProvidedHostHeader",
                Kind::Str,
            ),
        ]),
    ),
    node(
        "sessioncredentialfromconsole",
        "sessionCredentialFromConsole",
        Kind::Str,
    ),
];

/// The value of `key` in `object`, spelt exactly as CloudTrail spells it:
/// CloudWatch's JSON selectors are case-sensitive, so a value found under
/// another spelling would be one a pushed pattern cannot see.
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key)
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Builds one column of [`Node`]s.
enum Builder {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    Time(TimestampMillisecondBuilder),
    Map(Box<MapBuilder<StringBuilder, StringBuilder>>),
    Struct {
        nodes: &'static [Node],
        children: Vec<Builder>,
        valid: Vec<bool>,
    },
    List {
        item: Box<Builder>,
        offsets: Vec<i32>,
        valid: Vec<bool>,
    },
}

impl Builder {
    fn new(kind: &'static Kind) -> Self {
        match kind {
            Kind::Str => Builder::Str(StringBuilder::new()),
            Kind::Bool => Builder::Bool(BooleanBuilder::new()),
            Kind::Time => Builder::Time(TimestampMillisecondBuilder::new().with_timezone("UTC")),
            Kind::Map => Builder::Map(Box::new(MapBuilder::new(
                Some(MapFieldNames {
                    entry: "entries".into(),
                    key: "key".into(),
                    value: "value".into(),
                }),
                StringBuilder::new(),
                StringBuilder::new(),
            ))),
            Kind::Struct(nodes) => Builder::Struct {
                nodes,
                children: nodes.iter().map(|n| Builder::new(&n.kind)).collect(),
                valid: Vec::new(),
            },
            Kind::List(nodes) => Builder::List {
                item: Box::new(Builder::Struct {
                    nodes,
                    children: nodes.iter().map(|n| Builder::new(&n.kind)).collect(),
                    valid: Vec::new(),
                }),
                offsets: vec![0],
                valid: Vec::new(),
            },
        }
    }

    /// Appends `value` (`None`: the key is missing).
    fn push(&mut self, value: Option<&Value>) {
        let value = value.filter(|v| !v.is_null());
        match self {
            Builder::Str(b) => b.append_option(value.and_then(as_text)),
            Builder::Bool(b) => b.append_option(value.and_then(Value::as_bool)),
            Builder::Time(b) => {
                b.append_option(value.and_then(Value::as_str).and_then(parse_rfc3339_ms))
            }
            Builder::Map(b) => match value.and_then(Value::as_object) {
                Some(object) => {
                    for (k, v) in object {
                        b.keys().append_value(k);
                        b.values().append_option(as_text(v));
                    }
                    b.append(true).expect("keys and values appended together");
                }
                None => b.append(false).expect("an empty entry"),
            },
            Builder::Struct {
                nodes,
                children,
                valid,
            } => {
                let object = value.and_then(Value::as_object);
                for (node, child) in nodes.iter().zip(children.iter_mut()) {
                    child.push(object.and_then(|o| field(o, node.key)));
                }
                valid.push(object.is_some());
            }
            Builder::List {
                item,
                offsets,
                valid,
            } => {
                let items = value.and_then(Value::as_array);
                for v in items.into_iter().flatten() {
                    item.push(Some(v));
                }
                let last = *offsets.last().expect("offsets start at 0");
                offsets.push(last + items.map_or(0, |i| i.len() as i32));
                valid.push(items.is_some());
            }
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Map(b) => Arc::new(b.finish()),
            Builder::Struct {
                nodes,
                children,
                valid,
            } => {
                let arrays: Vec<ArrayRef> = children.iter_mut().map(Builder::finish).collect();
                let fields: Fields = nodes
                    .iter()
                    .zip(&arrays)
                    .map(|(n, a)| Field::new(n.column, a.data_type().clone(), true))
                    .collect();
                let nulls = NullBuffer::from(std::mem::take(valid));
                let len = nulls.len();
                let nulls = (nulls.null_count() > 0).then_some(nulls);
                Arc::new(if fields.is_empty() {
                    StructArray::new_empty_fields(len, nulls)
                } else {
                    StructArray::new(fields, arrays, nulls)
                })
            }
            Builder::List {
                item,
                offsets,
                valid,
            } => {
                let values = item.finish();
                let field = Arc::new(Field::new("item", values.data_type().clone(), true));
                let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
                let nulls = NullBuffer::from(std::mem::take(valid));
                let nulls = (nulls.null_count() > 0).then_some(nulls);
                Arc::new(ListArray::new(field, offsets, values, nulls))
            }
        }
    }
}

/// Lake's columns, then `eventjson`.
static FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    // The types are those the builders produce, so they can never differ.
    let mut fields: Vec<Field> = COLUMNS
        .iter()
        .map(|n| {
            Field::new(
                n.column,
                Builder::new(&n.kind).finish().data_type().clone(),
                true,
            )
        })
        .collect();
    fields.push(Field::new(EVENT_JSON, DataType::Utf8, false));
    fields.into()
});

/// CloudTrail's format.
#[derive(Debug, Default)]
pub struct CloudTrail;

impl RecordFormat for CloudTrail {
    fn table_name(&self) -> &'static str {
        TABLE
    }

    fn spec(&self) -> super::FormatSpec {
        super::FormatSpec::CloudTrail
    }

    fn fields(&self) -> Fields {
        FIELDS.clone()
    }

    fn decoder(&self, projection: &[usize]) -> Box<dyn RecordDecoder> {
        let columns: Vec<Projected> = projection
            .iter()
            .map(|&i| match COLUMNS.get(i) {
                Some(node) => Projected::Node(node, Box::new(Builder::new(&node.kind))),
                None => Projected::Raw(StringBuilder::new()),
            })
            .collect();
        let mut wanted: Vec<&'static str> = REQUIRED_KEYS.to_vec();
        wanted.extend(columns.iter().filter_map(|c| match c {
            Projected::Node(node, _) => Some(node.key),
            Projected::Raw(_) => None,
        }));
        Box::new(CloudTrailDecoder { columns, wanted })
    }

    fn pushdown(&self, filters: &[&Expr]) -> FormatPushdown {
        pushdown(filters)
    }
}

enum Projected {
    Node(&'static Node, Box<Builder>),
    Raw(StringBuilder),
}

/// The keys every CloudTrail record has: without them the group holds
/// something else, and its rows would be all NULLs.
const REQUIRED_KEYS: [&str; 2] = ["eventVersion", "eventTime"];

struct CloudTrailDecoder {
    columns: Vec<Projected>,
    /// The top-level keys the projection reads (and [`REQUIRED_KEYS`]).
    wanted: Vec<&'static str>,
}

/// A record's top-level object with only the `wanted` keys' values built;
/// the rest is checked as JSON and skipped without being built, which is
/// most of a record when a query reads a few columns.
struct Wanted<'a>(&'a [&'static str]);

impl<'de> serde::de::DeserializeSeed<'de> for Wanted<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Wanted<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if self.0.contains(&key.0.as_ref()) {
                out.insert(key.0.into_owned(), map.next_value()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// An object key, borrowed from the message unless it has escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl RecordDecoder for CloudTrailDecoder {
    fn push(&mut self, message: &str) -> Result<bool, DecodeError> {
        use serde::de::DeserializeSeed;
        let mut reader = serde_json::Deserializer::from_str(message);
        let object = Wanted(&self.wanted)
            .deserialize(&mut reader)
            .and_then(|o| reader.end().map(|()| o))
            .map_err(|e| DecodeError(format!("not a JSON object ({e})")))?;
        if REQUIRED_KEYS.iter().any(|k| field(&object, k).is_none()) {
            return Err(DecodeError(
                "a JSON object without eventVersion and eventTime".into(),
            ));
        }
        for column in &mut self.columns {
            match column {
                Projected::Node(node, builder) => builder.push(field(&object, node.key)),
                Projected::Raw(b) => b.append_value(message),
            }
        }
        Ok(true)
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.columns
            .iter_mut()
            .map(|c| match c {
                Projected::Node(_, b) => b.finish(),
                Projected::Raw(b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect()
    }
}

/// The JSON selector (`$.userIdentity.sessionContext.sessionIssuer.arn`)
/// and kind of a column expression: a column, struct fields of it
/// (`get_field`), or a map's value (`element_at`/subscript), with the key
/// for maps. `None` for lists and anything else.
fn selector(expr: &Expr) -> Option<(String, &'static Kind, bool)> {
    match expr {
        Expr::Column(c) => {
            let node = COLUMNS.iter().find(|n| n.column == c.name)?;
            Some((format!("$.{}", node.key), &node.kind, true))
        }
        Expr::Cast(cast)
            if matches!(
                cast.field.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            ) =>
        {
            let (path, kind, top) = selector(&cast.expr)?;
            matches!(kind, Kind::Str).then_some((path, kind, top))
        }
        Expr::ScalarFunction(call) if matches!(call.func.name(), "get_field" | "element_at") => {
            let (base, keys) = call.args.split_first()?;
            let (mut path, mut kind, _) = selector(base)?;
            for key in keys {
                let name = string_value(literal(key)?)?;
                match kind {
                    Kind::Struct(nodes) => {
                        let node = nodes.iter().find(|n| n.column == name)?;
                        path = format!("{path}.{}", node.key);
                        kind = &node.kind;
                    }
                    Kind::Map if plain_key(&name) => {
                        path = format!("{path}.{name}");
                        // A map's value is text that may hold any JSON.
                        kind = &MAP_VALUE;
                    }
                    _ => return None,
                }
            }
            Some((path, kind, false))
        }
        _ => None,
    }
}

/// What a map's value is, for [`selector`]: text.
static MAP_VALUE: Kind = Kind::Str;

/// Keys CloudWatch's selector syntax can name without quoting.
fn plain_key(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `path = "text"` when every value SQL would select matches it. Our text
/// columns render numbers, booleans and objects as text too, so text that
/// could be one of those is not pushed; nor are quotes, backslashes, `*`
/// (CloudWatch's wildcard) and control characters.
fn string_condition(path: &str, text: &str) -> Option<String> {
    let ambiguous = text.parse::<f64>().is_ok()
        || matches!(text, "true" | "false" | "null")
        || text.starts_with(['{', '['])
        || text.is_empty();
    if ambiguous || text.contains(['"', '\\', '*']) || text.chars().any(char::is_control) {
        return None;
    }
    Some(format!("{path} = \"{text}\""))
}

/// The JSON-pattern condition `expr` implies, if any.
fn condition(expr: &Expr) -> Option<String> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => match (condition(left), condition(right)) {
                (Some(l), Some(r)) => Some(format!("({l}) && ({r})")),
                // Either side alone selects a superset of both.
                (one, other) => one.or(other),
            },
            Operator::Or => Some(format!("({}) || ({})", condition(left)?, condition(right)?)),
            Operator::Eq => {
                let (column, value) = match (selector(left), selector(right)) {
                    (Some(c), None) => (c, literal(right)?),
                    (None, Some(c)) => (c, literal(left)?),
                    _ => return None,
                };
                match (column.1, value) {
                    (Kind::Str, v) => string_condition(&column.0, &string_value(v)?),
                    (Kind::Bool, datafusion::common::ScalarValue::Boolean(Some(b))) => Some(
                        format!("{} IS {}", column.0, if *b { "TRUE" } else { "FALSE" }),
                    ),
                    _ => None,
                }
            }
            _ => None,
        },
        Expr::InList(list) if !list.negated => {
            let (path, kind, _) = selector(&list.expr)?;
            if !matches!(kind, Kind::Str) || list.list.is_empty() {
                return None;
            }
            let parts: Option<Vec<String>> = list
                .list
                .iter()
                .map(|v| string_condition(&path, &string_value(literal(v)?)?))
                .collect();
            let parts = parts?;
            Some(if parts.len() == 1 {
                parts.into_iter().next()?
            } else {
                parts
                    .iter()
                    .map(|p| format!("({p})"))
                    .collect::<Vec<_>>()
                    .join(" || ")
            })
        }
        Expr::IsTrue(inner) => bool_condition(inner, true),
        Expr::IsFalse(inner) => bool_condition(inner, false),
        Expr::Not(inner) => bool_condition(inner, false),
        // A missing key and JSON null are both SQL NULL. Only top-level
        // text columns: below them a parent that is not an object is NULL
        // too, which CloudWatch may not see as a missing key.
        Expr::IsNull(inner) => match selector(inner)? {
            (path, Kind::Str, true) => Some(format!("({path} NOT EXISTS) || ({path} IS NULL)")),
            _ => None,
        },
        other => bool_condition(other, true),
    }
}

fn bool_condition(expr: &Expr, value: bool) -> Option<String> {
    match selector(expr)? {
        (path, Kind::Bool, _) => Some(format!(
            "{path} IS {}",
            if value { "TRUE" } else { "FALSE" }
        )),
        _ => None,
    }
}

/// The range of `eventtime` a filter bounds, if it bounds only that.
fn record_time(expr: &Expr) -> Option<TimeRange> {
    let is_eventtime = |e: &Expr| matches!(e, Expr::Column(c) if c.name == "eventtime");
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            if *op == Operator::And {
                return match (record_time(left), record_time(right)) {
                    (Some(l), Some(r)) => Some(l.intersect(&r)),
                    (one, other) => one.or(other),
                };
            }
            let (op, value) = if is_eventtime(left) {
                (*op, literal(right)?)
            } else if is_eventtime(right) {
                (op.swap()?, literal(left)?)
            } else {
                return None;
            };
            time_range_for(op, timestamp_nanos(value)?)
        }
        Expr::Between(b) if !b.negated && is_eventtime(&b.expr) => {
            let low = time_range_for(Operator::GtEq, timestamp_nanos(literal(&b.low)?)?)?;
            let high = time_range_for(Operator::LtEq, timestamp_nanos(literal(&b.high)?)?)?;
            Some(low.intersect(&high))
        }
        _ => None,
    }
}

/// CloudTrail's pushdown: JSON patterns for conditions on columns, a range
/// for `eventtime`.
pub fn pushdown(filters: &[&Expr]) -> FormatPushdown {
    let mut conditions = Vec::new();
    let mut used = Vec::with_capacity(filters.len());
    let mut time = TimeRange::ALL;
    for filter in filters {
        let c = condition(filter);
        let t = record_time(filter);
        used.push(c.is_some() || t.is_some());
        conditions.extend(c);
        if let Some(t) = t {
            time = time.intersect(&t);
        }
    }
    FormatPushdown {
        filter_pattern: json_pattern(&conditions),
        used,
        record_time: time,
    }
}

#[cfg(test)]
mod tests;
