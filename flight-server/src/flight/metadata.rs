//! Flight SQL's metadata commands as small plan builders: each knows the
//! schema of its answer (for FlightInfo) and how to build it (for DoGet),
//! so one path serves all six: catalogs, schemas, tables, table types,
//! SqlInfo and XDBC types.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes,
    CommandGetTables, CommandGetXdbcTypeInfo, ProstMessageExt,
};
use logflight_connector::batch::log_schema;
use logflight_connector::typed_table::typed_schema;
use logflight_connector::{LogCatalog, MetaTableKind, ALL_LOG_STREAMS, META_SCHEMA, META_TABLES};

use super::sql_info::{SQL_INFO, XDBC_TYPES};
use crate::error::Result;
use crate::query::QueryEngine;

/// A metadata command, as the client sent it (filters included).
#[derive(Debug, Clone, PartialEq)]
pub enum Metadata {
    Catalogs(CommandGetCatalogs),
    Schemas(CommandGetDbSchemas),
    Tables(CommandGetTables),
    TableTypes(CommandGetTableTypes),
    SqlInfo(CommandGetSqlInfo),
    XdbcTypeInfo(CommandGetXdbcTypeInfo),
}

impl Metadata {
    /// The schema of the answer, as the spec fixes it.
    pub fn schema(&self) -> SchemaRef {
        match self {
            Metadata::Catalogs(c) => c.into_builder().schema(),
            Metadata::Schemas(c) => c.clone().into_builder().schema(),
            Metadata::Tables(c) => c.clone().into_builder().schema(),
            Metadata::TableTypes(c) => c.into_builder().schema(),
            Metadata::SqlInfo(c) => c.clone().into_builder(&SQL_INFO).schema(),
            Metadata::XdbcTypeInfo(c) => c.into_builder(&XDBC_TYPES).schema(),
        }
    }

    /// The Flight SQL message's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Metadata::Catalogs(_) => "CommandGetCatalogs",
            Metadata::Schemas(_) => "CommandGetDbSchemas",
            Metadata::Tables(_) => "CommandGetTables",
            Metadata::TableTypes(_) => "CommandGetTableTypes",
            Metadata::SqlInfo(_) => "CommandGetSqlInfo",
            Metadata::XdbcTypeInfo(_) => "CommandGetXdbcTypeInfo",
        }
    }

    /// The command packed as the ticket of its own FlightInfo: DoGet
    /// decodes it again, so nothing is kept between the two calls.
    pub fn ticket_bytes(&self) -> Vec<u8> {
        use prost::Message;
        match self {
            Metadata::Catalogs(c) => c.as_any().encode_to_vec(),
            Metadata::Schemas(c) => c.as_any().encode_to_vec(),
            Metadata::Tables(c) => c.as_any().encode_to_vec(),
            Metadata::TableTypes(c) => c.as_any().encode_to_vec(),
            Metadata::SqlInfo(c) => c.as_any().encode_to_vec(),
            Metadata::XdbcTypeInfo(c) => c.as_any().encode_to_vec(),
        }
    }

    /// The answer, from what `engine` (the caller's view) can see.
    pub async fn build(self, engine: &QueryEngine) -> Result<RecordBatch> {
        Ok(match self {
            Metadata::Catalogs(c) => catalogs(engine, c)?,
            Metadata::Schemas(c) => schemas(engine, c).await?,
            Metadata::Tables(c) => tables(engine, c).await?,
            Metadata::TableTypes(c) => {
                let mut builder = c.into_builder();
                builder.append(TABLE_TYPE);
                builder.append(VIEW_TYPE);
                builder.build()?
            }
            Metadata::SqlInfo(c) => c.into_builder(&SQL_INFO).build()?,
            Metadata::XdbcTypeInfo(c) => c.into_builder(&XDBC_TYPES).build()?,
        })
    }
}

pub const TABLE_TYPE: &str = "TABLE";
pub const VIEW_TYPE: &str = "VIEW";
const INFORMATION_SCHEMA: &str = "information_schema";
const INFORMATION_SCHEMA_TABLES: [&str; 6] = [
    "columns",
    "df_settings",
    "parameters",
    "routines",
    "tables",
    "views",
];

/// SQL `LIKE` as Flight SQL filter patterns use it: `%` any run, `_` one
/// character, `\` escapes.
pub fn like_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('_') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

fn pattern_allows(pattern: Option<&str>, name: &str) -> bool {
    pattern.is_none_or(|p| like_matches(p, name))
}

fn catalogs(engine: &QueryEngine, query: CommandGetCatalogs) -> Result<RecordBatch> {
    let mut builder = query.into_builder();
    for catalog in engine.catalogs() {
        builder.append(catalog.name());
    }
    Ok(builder.build()?)
}

/// The engine's catalogs a command's exact `catalog` filter selects.
fn selected<'a>(
    engine: &'a QueryEngine,
    filter: Option<&'a str>,
) -> impl Iterator<Item = &'a LogCatalog> {
    engine
        .catalogs()
        .filter(move |c| filter.is_none_or(|f| f == c.name()))
}

async fn schemas(engine: &QueryEngine, query: CommandGetDbSchemas) -> Result<RecordBatch> {
    let catalog_filter = query.catalog.clone();
    let mut builder = query.into_builder();
    for catalog in selected(engine, catalog_filter.as_deref()) {
        for group in catalog.groups().await?.iter() {
            builder.append(catalog.name(), &group.name);
        }
        builder.append(catalog.name(), META_SCHEMA);
        builder.append(catalog.name(), INFORMATION_SCHEMA);
    }
    Ok(builder.build()?)
}

/// Lists tables, reading stream listings only for the groups the schema
/// pattern selects.
async fn tables(engine: &QueryEngine, query: CommandGetTables) -> Result<RecordBatch> {
    let catalog_filter = query.catalog.clone();
    let schema_pattern = query.db_schema_filter_pattern.clone();
    let table_pattern = query.table_name_filter_pattern.clone();
    let mut builder = query.into_builder();
    let log = log_schema();
    let info_schema = Schema::empty();
    for catalog in selected(engine, catalog_filter.as_deref()) {
        for group in catalog.groups().await?.iter() {
            if !pattern_allows(schema_pattern.as_deref(), &group.name) {
                continue;
            }
            let streams = if table_pattern.as_deref() == Some(ALL_LOG_STREAMS) {
                Vec::new()
            } else {
                catalog
                    .streams(&group.name)
                    .await?
                    .iter()
                    .map(|s| s.name.clone())
                    .collect()
            };
            for stream in streams.iter().map(String::as_str).chain([ALL_LOG_STREAMS]) {
                let described = described(&log, catalog.name(), &group.name, stream);
                builder.append(catalog.name(), &group.name, stream, TABLE_TYPE, &described)?;
            }
            if table_pattern.as_deref() != Some(ALL_LOG_STREAMS) {
                if let Some(typed) = catalog.typed_format(&group.name).await? {
                    let (schema, _) = typed_schema(typed.kind, typed.format.as_ref());
                    let name = typed.kind.table_name();
                    let described = described(&schema, catalog.name(), &group.name, name);
                    builder.append(catalog.name(), &group.name, name, TABLE_TYPE, &described)?;
                }
            }
        }
        if pattern_allows(schema_pattern.as_deref(), META_SCHEMA) {
            for table in META_TABLES {
                let kind = MetaTableKind::from_name(table).expect("a metadata table");
                let described = described(&kind.schema(), catalog.name(), META_SCHEMA, table);
                builder.append(catalog.name(), META_SCHEMA, table, VIEW_TYPE, &described)?;
            }
        }
        if pattern_allows(schema_pattern.as_deref(), INFORMATION_SCHEMA) {
            for table in INFORMATION_SCHEMA_TABLES {
                builder.append(
                    catalog.name(),
                    INFORMATION_SCHEMA,
                    table,
                    VIEW_TYPE,
                    &info_schema,
                )?;
            }
        }
    }
    Ok(builder.build()?)
}

/// A table's schema with Flight SQL's column metadata on every field: the
/// SQL type name (as GetXdbcTypeInfo names it), where the column lives,
/// and that it is read-only. ADBC's driver reads `TYPE_NAME` into
/// `xdbc_type_name` (GetObjects), from which SQLAlchemy dialects reflect
/// column types; without it every column reflects as an unknown type.
fn described(schema: &Schema, catalog: &str, db_schema: &str, table: &str) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let textual = matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8);
            let mut metadata = field.metadata().clone();
            let flag = |on: bool| if on { "1" } else { "0" }.to_string();
            metadata.extend(HashMap::from([
                (
                    "ARROW:FLIGHT:SQL:CATALOG_NAME".to_string(),
                    catalog.to_string(),
                ),
                (
                    "ARROW:FLIGHT:SQL:DB_SCHEMA_NAME".to_string(),
                    db_schema.to_string(),
                ),
                ("ARROW:FLIGHT:SQL:TABLE_NAME".to_string(), table.to_string()),
                (
                    "ARROW:FLIGHT:SQL:TYPE_NAME".to_string(),
                    sql_type_name(field.data_type()),
                ),
                (
                    "ARROW:FLIGHT:SQL:IS_AUTO_INCREMENT".to_string(),
                    flag(false),
                ),
                (
                    "ARROW:FLIGHT:SQL:IS_CASE_SENSITIVE".to_string(),
                    flag(textual),
                ),
                ("ARROW:FLIGHT:SQL:IS_READ_ONLY".to_string(), flag(true)),
                ("ARROW:FLIGHT:SQL:IS_SEARCHABLE".to_string(), flag(true)),
            ]));
            field.as_ref().clone().with_metadata(metadata)
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// The SQL name of an Arrow type, as GetXdbcTypeInfo lists the scalar ones.
fn sql_type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 | DataType::UInt8 => "TINYINT".into(),
        DataType::Int16 | DataType::UInt16 => "SMALLINT".into(),
        DataType::Int32 | DataType::UInt32 => "INTEGER".into(),
        DataType::Int64 | DataType::UInt64 => "BIGINT".into(),
        DataType::Float32 => "REAL".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(..) | DataType::Decimal256(..) => "DECIMAL".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Dictionary(_, value) => sql_type_name(value),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(..) => "TIMESTAMP".into(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => "ARRAY".into(),
        DataType::Map(..) => "MAP".into(),
        DataType::Struct(_) => "STRUCT".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_of_a_listed_table_says_its_sql_type_and_place() {
        let log = log_schema();
        let described = described(&log, "cloudwatch", "/aws/lambda/x", "all_log_streams");
        let names: Vec<(String, String)> = described
            .fields()
            .iter()
            .map(|f| {
                let m = f.metadata();
                assert_eq!(m["ARROW:FLIGHT:SQL:CATALOG_NAME"], "cloudwatch");
                assert_eq!(m["ARROW:FLIGHT:SQL:DB_SCHEMA_NAME"], "/aws/lambda/x");
                assert_eq!(m["ARROW:FLIGHT:SQL:TABLE_NAME"], "all_log_streams");
                assert_eq!(m["ARROW:FLIGHT:SQL:IS_READ_ONLY"], "1");
                (f.name().clone(), m["ARROW:FLIGHT:SQL:TYPE_NAME"].clone())
            })
            .collect();
        let want = [
            ("log_group", "VARCHAR"),
            ("log_stream", "VARCHAR"),
            ("time", "TIMESTAMP"),
            ("ingestion_time", "TIMESTAMP"),
            ("message", "VARCHAR"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(names, want);
        // The types and nullability are untouched.
        for (a, b) in log.fields().iter().zip(described.fields()) {
            assert_eq!(a.data_type(), b.data_type());
            assert_eq!(a.is_nullable(), b.is_nullable());
        }
    }

    #[test]
    fn like_patterns() {
        let cases = [
            ("%", "/aws/lambda/x", true),
            ("/aws/%", "/aws/lambda/x", true),
            ("/aws/%", "/vpc/x", false),
            ("/aws/lambda/_", "/aws/lambda/x", true),
            ("/aws/lambda/_", "/aws/lambda/xy", false),
            ("all\\_log\\_streams", "all_log_streams", true),
            ("all\\_log\\_streams", "allxlogxstreams", false),
            ("%[$LATEST]%", "2026/11/24/[$LATEST]ab", true),
            ("", "", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(like_matches(p, t), want, "{p} ~ {t}");
        }
    }
}
