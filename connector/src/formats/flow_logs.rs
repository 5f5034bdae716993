//! VPC Flow Logs delivered to CloudWatch: one record per event, fields
//! separated by single spaces in the order of the flow log's `LogFormat`,
//! `-` where a field does not apply.
//!
//! Columns are named and typed as AWS's Parquet delivery names and types
//! them, so queries carry over between the two deliveries.
//!
//! Filters become a space-delimited filter pattern. Its soundness rests on
//! the decoder: a record decodes only if CloudWatch would split it into
//! the same fields (exactly the layout's count, no empty field, no quote,
//! bracket or whitespace other than the single separating spaces), so a
//! condition on the n-th field of the pattern speaks of the same value the
//! row holds. The pattern lists the fields up to the last one it
//! constrains and ends with `...` when more follow, so it never depends on
//! how CloudWatch counts fields after that.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Builder, Int64Builder, StringBuilder, TimestampSecondBuilder};
use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{InList, Like};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

use super::{conjuncts, DecodeError, FormatPushdown, RecordDecoder, RecordFormat};
use crate::model::TimeRange;

/// How a field's text becomes a column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int32,
    Int64,
    /// Epoch seconds, as a UTC timestamp.
    Seconds,
    Text,
}

/// Every field AWS documents for flow log records (versions 2 to 8), in
/// the order of its table, with the Parquet delivery's type.
const KNOWN: &[(&str, Kind)] = &[
    ("version", Kind::Int32),
    ("account-id", Kind::Text),
    ("interface-id", Kind::Text),
    ("srcaddr", Kind::Text),
    ("dstaddr", Kind::Text),
    ("srcport", Kind::Int32),
    ("dstport", Kind::Int32),
    ("protocol", Kind::Int32),
    ("packets", Kind::Int64),
    ("bytes", Kind::Int64),
    ("start", Kind::Seconds),
    ("end", Kind::Seconds),
    ("action", Kind::Text),
    ("log-status", Kind::Text),
    ("vpc-id", Kind::Text),
    ("subnet-id", Kind::Text),
    ("instance-id", Kind::Text),
    ("tcp-flags", Kind::Int32),
    ("type", Kind::Text),
    ("pkt-srcaddr", Kind::Text),
    ("pkt-dstaddr", Kind::Text),
    ("region", Kind::Text),
    ("az-id", Kind::Text),
    ("sublocation-type", Kind::Text),
    ("sublocation-id", Kind::Text),
    ("pkt-src-aws-service", Kind::Text),
    ("pkt-dst-aws-service", Kind::Text),
    ("flow-direction", Kind::Text),
    ("traffic-path", Kind::Int32),
    ("ecs-cluster-arn", Kind::Text),
    ("ecs-cluster-name", Kind::Text),
    ("ecs-container-instance-arn", Kind::Text),
    ("ecs-container-instance-id", Kind::Text),
    ("ecs-container-id", Kind::Text),
    ("ecs-second-container-id", Kind::Text),
    ("ecs-service-name", Kind::Text),
    ("ecs-task-definition-arn", Kind::Text),
    ("ecs-task-arn", Kind::Text),
    ("ecs-task-id", Kind::Text),
    ("reject-reason", Kind::Text),
];

/// The version 2 fields, which the default format holds in this order.
const DEFAULT_V2_FIELDS: usize = 14;

/// The fields of a flow log's records, in record order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogLayout {
    /// Indices into [`KNOWN`].
    fields: Vec<usize>,
}

impl FlowLogLayout {
    /// The default format's 14 fields.
    pub fn default_v2() -> Self {
        Self {
            fields: (0..DEFAULT_V2_FIELDS).collect(),
        }
    }

    /// A layout from EC2's `LogFormat`, e.g. `${version} ${srcaddr} ${dstport}`.
    pub fn parse(log_format: &str) -> Result<Self, String> {
        let known = || {
            KNOWN
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut fields = Vec::new();
        for token in log_format.split_whitespace() {
            let name = token
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .ok_or_else(|| {
                    format!("flow log format: `{token}` is not a field like ${{srcaddr}}")
                })?;
            let index = KNOWN
                .iter()
                .position(|(known, _)| *known == name)
                .ok_or_else(|| {
                    format!(
                        "flow log format: unknown field `{name}`; the known fields are {}",
                        known()
                    )
                })?;
            if fields.contains(&index) {
                return Err(format!("flow log format: field `{name}` appears twice"));
            }
            fields.push(index);
        }
        if fields.is_empty() {
            return Err(format!(
                "flow log format: no fields in `{log_format}`; the known fields are {}",
                known()
            ));
        }
        Ok(Self { fields })
    }

    /// The fields' AWS names (`log-status`), in record order.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().map(|&i| KNOWN[i].0)
    }

    /// The column of each field, in record order (`log_status`).
    pub fn column_names(&self) -> Vec<String> {
        self.field_names().map(column_name).collect()
    }

    fn kind(&self, position: usize) -> Kind {
        KNOWN[self.fields[position]].1
    }

    fn len(&self) -> usize {
        self.fields.len()
    }

    fn describe(&self) -> String {
        self.field_names().collect::<Vec<_>>().join(" ")
    }
}

/// AWS's Parquet delivery spells `log-status` as `log_status`.
fn column_name(field: &str) -> String {
    field.replace('-', "_")
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Int32 => DataType::Int32,
        Kind::Int64 => DataType::Int64,
        Kind::Seconds => DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
        Kind::Text => DataType::Utf8,
    }
}

/// The `flow_log_records` table of a flow log group.
#[derive(Debug, Clone)]
pub struct FlowLogFormat {
    layout: Arc<FlowLogLayout>,
    columns: Vec<String>,
}

impl FlowLogFormat {
    pub fn new(layout: FlowLogLayout) -> Self {
        let columns = layout.column_names();
        Self {
            layout: Arc::new(layout),
            columns,
        }
    }

    pub fn layout(&self) -> &FlowLogLayout {
        &self.layout
    }
}

impl RecordFormat for FlowLogFormat {
    fn table_name(&self) -> &'static str {
        "flow_log_records"
    }

    fn spec(&self) -> super::FormatSpec {
        let layout: Vec<String> = self
            .layout
            .field_names()
            .map(|n| format!("${{{n}}}"))
            .collect();
        super::FormatSpec::FlowLogs {
            layout: layout.join(" "),
        }
    }

    fn fields(&self) -> Fields {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, name)| Field::new(name, data_type(self.layout.kind(i)), true))
            .collect()
    }

    fn decoder(&self, projection: &[usize]) -> Box<dyn RecordDecoder> {
        Box::new(FlowLogDecoder::new(self.layout.clone(), projection))
    }

    fn pushdown(&self, filters: &[&Expr]) -> FormatPushdown {
        pushdown(&self.layout, &self.columns, filters)
    }
}

// Decoding ------------------------------------------------------------------------------

enum Builder {
    Int32(Int32Builder),
    Int64(Int64Builder),
    Seconds(TimestampSecondBuilder),
    Text(StringBuilder),
}

impl Builder {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Int32 => Builder::Int32(Int32Builder::new()),
            Kind::Int64 => Builder::Int64(Int64Builder::new()),
            Kind::Seconds => Builder::Seconds(TimestampSecondBuilder::new().with_timezone("UTC")),
            Kind::Text => Builder::Text(StringBuilder::new()),
        }
    }

    /// Appends a field already checked by [`check_field`].
    fn append(&mut self, text: &str) {
        let absent = text == "-";
        match self {
            Builder::Int32(b) => b.append_option((!absent).then(|| text.parse().unwrap_or(0))),
            Builder::Int64(b) => b.append_option((!absent).then(|| text.parse().unwrap_or(0))),
            Builder::Seconds(b) => b.append_option((!absent).then(|| text.parse().unwrap_or(0))),
            Builder::Text(b) => b.append_option((!absent).then_some(text)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Int32(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Seconds(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
        }
    }
}

struct FlowLogDecoder {
    layout: Arc<FlowLogLayout>,
    /// For each record position, the builder it feeds (if projected).
    slot: Vec<Option<usize>>,
    builders: Vec<Builder>,
    /// The fields of the record being decoded, as byte ranges (reused).
    spans: Vec<(usize, usize)>,
}

impl FlowLogDecoder {
    fn new(layout: Arc<FlowLogLayout>, projection: &[usize]) -> Self {
        let mut slot = vec![None; layout.len()];
        let builders = projection
            .iter()
            .enumerate()
            .map(|(b, &position)| {
                slot[position] = Some(b);
                Builder::new(layout.kind(position))
            })
            .collect();
        Self {
            layout,
            slot,
            builders,
            spans: Vec::new(),
        }
    }

    fn error(&self, what: String) -> DecodeError {
        DecodeError(format!(
            "not a flow log record of the configured format ({}): {what}; if the flow log \
             uses a custom format, set it as flow_log_format in the config",
            self.layout.describe()
        ))
    }
}

/// Whether a field's text can be read as its kind (`-` always can).
fn check_field(kind: Kind, text: &str) -> bool {
    if text == "-" {
        return true;
    }
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match kind {
        Kind::Int32 => digits && text.parse::<i32>().is_ok(),
        Kind::Int64 | Kind::Seconds => digits && text.parse::<i64>().is_ok(),
        Kind::Text => true,
    }
}

impl RecordDecoder for FlowLogDecoder {
    fn push(&mut self, message: &str) -> Result<bool, DecodeError> {
        let record = message.strip_suffix('\n').unwrap_or(message);
        let record = record.strip_suffix('\r').unwrap_or(record);
        // CloudWatch splits on any whitespace and reads quoted and
        // bracketed text as one field: a record it would split otherwise
        // is not read, so that patterns address the fields rows hold.
        if let Some(c) = record
            .chars()
            .find(|&c| matches!(c, '"' | '[' | ']') || (c.is_whitespace() && c != ' '))
        {
            return Err(self.error(format!("it holds {c:?}")));
        }
        self.spans.clear();
        let mut start = 0;
        for piece in record.split(' ') {
            if piece.is_empty() {
                return Err(self.error(format!("field {} is empty", self.spans.len() + 1)));
            }
            self.spans.push((start, start + piece.len()));
            start += piece.len() + 1;
        }
        if self.spans.len() != self.layout.len() {
            return Err(self.error(format!(
                "the record has {} fields, the format {}",
                self.spans.len(),
                self.layout.len()
            )));
        }
        for (position, &(from, to)) in self.spans.iter().enumerate() {
            let text = &record[from..to];
            let kind = self.layout.kind(position);
            if !check_field(kind, text) {
                return Err(self.error(format!(
                    "{} is `{text}`, not a number",
                    KNOWN[self.layout.fields[position]].0
                )));
            }
        }
        for (position, &(from, to)) in self.spans.iter().enumerate() {
            if let Some(b) = self.slot[position] {
                self.builders[b].append(&record[from..to]);
            }
        }
        Ok(true)
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.builders.iter_mut().map(Builder::finish).collect()
    }
}

// Pushdown ------------------------------------------------------------------------------

/// CloudWatch's longest filter pattern.
const MAX_PATTERN_LEN: usize = 1024;

/// Integers CloudWatch is sure to compare exactly even if it reads
/// numbers as doubles: beyond 2^53 neighbours round together.
const EXACT_LIMIT: i128 = 1 << 53;

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    /// `name<op>number`
    Number(&'static str, i128),
    /// `name="text"` or `name!="text"` (`*` only as the trailing wildcard of a prefix)
    Text(&'static str, String),
}

impl Atom {
    fn render(&self, name: &str) -> String {
        match self {
            Atom::Number(op, n) => format!("{name}{op}{n}"),
            Atom::Text(op, t) => format!("{name}{op}\"{t}\""),
        }
    }
}

/// Conditions on one field: all must hold, or (`any`) one of them.
#[derive(Debug, Clone, PartialEq)]
struct Group {
    any: bool,
    atoms: Vec<Atom>,
}

impl Group {
    fn all(atoms: Vec<Atom>) -> Self {
        Self { any: false, atoms }
    }

    fn any(atoms: Vec<Atom>) -> Self {
        // One alternative is a conjunction of one: it combines like one.
        Self {
            any: atoms.len() > 1,
            atoms,
        }
    }
}

fn pushdown(layout: &FlowLogLayout, columns: &[String], filters: &[&Expr]) -> FormatPushdown {
    let mut constraints: BTreeMap<usize, Vec<Group>> = BTreeMap::new();
    let mut used = Vec::with_capacity(filters.len());
    for filter in filters {
        let mut parts = Vec::new();
        for conjunct in conjuncts(filter) {
            if let Some(part) = condition(layout, columns, conjunct) {
                parts.push(part);
            }
        }
        let before = constraints.clone();
        let mut any_taken = false;
        for (position, group) in parts {
            let groups = constraints.entry(position).or_default();
            // `||` and `&&` are never mixed on one field: CloudWatch does
            // not document how they bind.
            let mixes = |g: &Group| g.any || group.any;
            if groups.iter().any(mixes) || (group.any && !groups.is_empty()) {
                continue;
            }
            if groups.contains(&group) {
                any_taken = true;
                continue;
            }
            groups.push(group);
            any_taken = true;
        }
        let fits = render(columns, &constraints).is_none_or(|p| p.len() <= MAX_PATTERN_LEN);
        if !any_taken || !fits {
            constraints = before;
            used.push(false);
        } else {
            used.push(true);
        }
    }
    FormatPushdown {
        filter_pattern: render(columns, &constraints),
        used,
        record_time: TimeRange::ALL,
    }
}

fn render(columns: &[String], constraints: &BTreeMap<usize, Vec<Group>>) -> Option<String> {
    let last = *constraints.keys().next_back()?;
    let mut entries = Vec::with_capacity(last + 2);
    for (position, name) in columns.iter().enumerate().take(last + 1) {
        let entry = match constraints.get(&position) {
            None => name.clone(),
            Some(groups) => {
                let joiner = if groups.iter().any(|g| g.any) {
                    " || "
                } else {
                    " && "
                };
                groups
                    .iter()
                    .flat_map(|g| g.atoms.iter())
                    .map(|a| a.render(name))
                    .collect::<Vec<_>>()
                    .join(joiner)
            }
        };
        entries.push(entry);
    }
    if last + 1 < columns.len() {
        entries.push("...".to_string());
    }
    Some(format!("[{}]", entries.join(", ")))
}

/// The field and conditions one predicate implies for every row it keeps.
fn condition(layout: &FlowLogLayout, columns: &[String], expr: &Expr) -> Option<(usize, Group)> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut position = None;
            let mut atoms = Vec::new();
            for alternative in disjuncts(left).into_iter().chain(disjuncts(right)) {
                let (p, group) = condition(layout, columns, alternative)?;
                // Each alternative must be one equality (or an IN list)
                // on the same field.
                if position.is_some_and(|q| q != p) || (group.atoms.len() > 1 && !group.any) {
                    return None;
                }
                if group
                    .atoms
                    .iter()
                    .any(|a| !matches!(a, Atom::Number("=", _) | Atom::Text("=", _)))
                {
                    return None;
                }
                position = Some(p);
                atoms.extend(group.atoms);
            }
            Some((position?, Group::any(atoms)))
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (position, op, value) = match (column(layout, columns, left), literal(right)) {
                (Some(p), Some(v)) => (p, *op, v),
                _ => (column(layout, columns, right)?, op.swap()?, literal(left)?),
            };
            Some((
                position,
                Group::all(vec![atom(layout.kind(position), op, value)?]),
            ))
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let position = column(layout, columns, expr)?;
            let kind = layout.kind(position);
            let atoms = vec![
                atom(kind, Operator::GtEq, literal(low)?)?,
                atom(kind, Operator::LtEq, literal(high)?)?,
            ];
            Some((position, Group::all(atoms)))
        }
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let position = column(layout, columns, expr)?;
            let kind = layout.kind(position);
            let op = if *negated {
                Operator::NotEq
            } else {
                Operator::Eq
            };
            let atoms = list
                .iter()
                .map(|item| atom(kind, op, literal(item)?))
                .collect::<Option<Vec<_>>>()?;
            if atoms.is_empty() {
                return None;
            }
            Some((
                position,
                if *negated {
                    Group::all(atoms)
                } else {
                    Group::any(atoms)
                },
            ))
        }
        Expr::Like(Like {
            negated: false,
            expr,
            pattern,
            escape_char: None,
            case_insensitive: false,
        }) => {
            let position = column(layout, columns, expr)?;
            if layout.kind(position) != Kind::Text {
                return None;
            }
            let pattern = string_value(literal(pattern)?)?;
            let (prefix, wildcard) = match pattern.strip_suffix('%') {
                Some(prefix) => (prefix, true),
                None => (pattern, false),
            };
            if prefix.contains(['%', '_']) || !pushable_text(prefix) {
                return None;
            }
            let text = if wildcard {
                format!("{prefix}*")
            } else {
                prefix.to_string()
            };
            Some((position, Group::all(vec![Atom::Text("=", text)])))
        }
        _ => None,
    }
}

fn disjuncts(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut all = disjuncts(left);
            all.extend(disjuncts(right));
            all
        }
        other => vec![other],
    }
}

/// The layout position of a column, possibly behind a cast that keeps
/// every value distinct and in order (so comparisons mean the same).
fn column(layout: &FlowLogLayout, columns: &[String], expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Column(c) => columns.iter().position(|name| *name == c.name),
        Expr::Cast(cast) => cast_of_column(layout, columns, &cast.expr, cast.field.data_type()),
        Expr::TryCast(cast) => cast_of_column(layout, columns, &cast.expr, cast.field.data_type()),
        _ => None,
    }
}

fn cast_of_column(
    layout: &FlowLogLayout,
    columns: &[String],
    inner: &Expr,
    to: &DataType,
) -> Option<usize> {
    let position = column(layout, columns, inner)?;
    let lossless = matches!(
        (layout.kind(position), to),
        (
            Kind::Int32,
            DataType::Int32 | DataType::Int64 | DataType::Float64
        ) | (Kind::Int64, DataType::Int64)
            | (Kind::Seconds, DataType::Timestamp(_, _))
            | (
                Kind::Text,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
    );
    lossless.then_some(position)
}

fn literal(expr: &Expr) -> Option<&ScalarValue> {
    match expr {
        Expr::Literal(v, _) if !v.is_null() => Some(v),
        _ => None,
    }
}

fn string_value(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s),
        _ => None,
    }
}

/// Text a quoted pattern value can carry and a decoded field can hold:
/// none of the pattern's own syntax (quotes, wildcards, brackets, list
/// separators, operators) and nothing CloudWatch would split on. `-` is
/// NULL in a row, so never equal to anything.
fn pushable_text(text: &str) -> bool {
    !text.is_empty()
        && text != "-"
        && !text.chars().any(|c| {
            matches!(c, '"' | '\\' | '*' | '[' | ']' | ',' | '|' | '&')
                || c.is_whitespace()
                || c.is_control()
        })
}

/// A literal as an exact number: an integer, or the floor of a value that
/// lies strictly between two integers.
enum Exact {
    Int(i128),
    Between(i128),
}

fn exact_number(kind: Kind, v: &ScalarValue) -> Option<Exact> {
    let from_parts = |whole: i128, rest: bool| {
        if rest {
            Exact::Between(whole)
        } else {
            Exact::Int(whole)
        }
    };
    match kind {
        Kind::Int32 | Kind::Int64 => match v {
            ScalarValue::Int8(Some(x)) => Some(Exact::Int((*x).into())),
            ScalarValue::Int16(Some(x)) => Some(Exact::Int((*x).into())),
            ScalarValue::Int32(Some(x)) => Some(Exact::Int((*x).into())),
            ScalarValue::Int64(Some(x)) => Some(Exact::Int((*x).into())),
            ScalarValue::UInt8(Some(x)) => Some(Exact::Int((*x).into())),
            ScalarValue::UInt16(Some(x)) => Some(Exact::Int((*x).into())),
            ScalarValue::UInt32(Some(x)) => Some(Exact::Int((*x).into())),
            ScalarValue::UInt64(Some(x)) => Some(Exact::Int((*x).into())),
            ScalarValue::Float64(Some(x)) if x.is_finite() && x.abs() < 1e30 => {
                Some(from_parts(x.floor() as i128, x.fract() != 0.0))
            }
            ScalarValue::Float32(Some(x)) if x.is_finite() && x.abs() < 1e30 => {
                Some(from_parts(x.floor() as i128, x.fract() != 0.0))
            }
            ScalarValue::Decimal128(Some(x), _, scale) if (0..=38).contains(scale) => {
                let unit = 10i128.checked_pow(u32::try_from(*scale).ok()?)?;
                Some(from_parts(x.div_euclid(unit), x.rem_euclid(unit) != 0))
            }
            _ => None,
        },
        Kind::Seconds => {
            let (x, per_second) = match v {
                ScalarValue::TimestampSecond(Some(x), _) => (*x, 1),
                ScalarValue::TimestampMillisecond(Some(x), _) => (*x, 1_000),
                ScalarValue::TimestampMicrosecond(Some(x), _) => (*x, 1_000_000),
                ScalarValue::TimestampNanosecond(Some(x), _) => (*x, 1_000_000_000),
                _ => return None,
            };
            let x = i128::from(x);
            Some(from_parts(
                x.div_euclid(per_second),
                x.rem_euclid(per_second) != 0,
            ))
        }
        Kind::Text => None,
    }
}

/// The pattern condition `field <op> value` implies for an integer or
/// text field holding a value (not `-`).
fn atom(kind: Kind, op: Operator, value: &ScalarValue) -> Option<Atom> {
    if kind == Kind::Text {
        let text = string_value(value)?;
        if !pushable_text(text) {
            return None;
        }
        return match op {
            Operator::Eq => Some(Atom::Text("=", text.to_string())),
            Operator::NotEq => Some(Atom::Text("!=", text.to_string())),
            _ => None,
        };
    }
    // A field holds integers x; for a value c strictly between f and f+1,
    // x > c and x >= c are x >= f+1, x < c and x <= c are x <= f.
    let (symbol, n) = match (exact_number(kind, value)?, op) {
        (Exact::Int(c), Operator::Eq) => ("=", c),
        (Exact::Int(c), Operator::NotEq) => ("!=", c),
        (Exact::Int(c), Operator::Lt) => ("<", c),
        (Exact::Int(c), Operator::LtEq) => ("<=", c),
        (Exact::Int(c), Operator::Gt) => (">", c),
        (Exact::Int(c), Operator::GtEq) => (">=", c),
        (Exact::Between(f), Operator::Lt | Operator::LtEq) => ("<=", f),
        (Exact::Between(f), Operator::Gt | Operator::GtEq) => (">=", f + 1),
        _ => return None,
    };
    (n.abs() < EXACT_LIMIT).then_some(Atom::Number(symbol, n))
}

#[cfg(test)]
mod tests;
