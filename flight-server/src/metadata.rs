//! Answers to Flight SQL's metadata commands: server facts (SqlInfo), the
//! SQL types results can carry (XdbcTypeInfo), and the catalog listings
//! (catalogs, schemas, tables) that BI tools browse.

use std::sync::LazyLock;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTables, Nullable, Searchable, SqlInfo,
    XdbcDataType, XdbcDatetimeSubcode,
};
use logflight_connector::batch::log_schema;
use logflight_connector::{MetaTableKind, META_SCHEMA, META_TABLES};

use crate::error::Result;
use crate::session::QueryEngine;

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

pub static SQL_INFO: LazyLock<SqlInfoData> = LazyLock::new(|| {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "logflight");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    b.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    // SQL_SUPPORTED_TRANSACTION_TRANSACTION: clients such as the ADBC DB-API
    // open one for autocommit=False; on a read-only server Begin and End are
    // trivially correct no-ops.
    b.append(SqlInfo::FlightSqlServerTransaction, 1i32);
    b.append(SqlInfo::FlightSqlServerCancel, false);
    b.append(SqlInfo::FlightSqlServerBulkIngestion, false);
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, false);
    // SQL_CASE_SENSITIVITY_LOWERCASE: unquoted identifiers fold to lower case.
    b.append(SqlInfo::SqlIdentifierCase, 3i32);
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(SqlInfo::SqlQuotedIdentifierCase, 0i32);
    b.append(SqlInfo::SqlAllTablesAreSelectable, true);
    b.append(SqlInfo::SqlSearchStringEscape, "\\");
    b.append(SqlInfo::SqlExtraNameCharacters, "/-.#$[]");
    b.append(SqlInfo::SqlSupportsColumnAliasing, true);
    b.append(SqlInfo::SqlSchemaTerm, "log group");
    b.append(SqlInfo::SqlCatalogTerm, "catalog");
    b.append(SqlInfo::SqlProcedureTerm, "procedure");
    b.append(SqlInfo::SqlCatalogAtStart, true);
    b.append(SqlInfo::SqlTransactionsSupported, true);
    b.build().expect("static SqlInfo is valid")
});

fn xdbc(
    name: &str,
    data_type: XdbcDataType,
    column_size: Option<i32>,
    subcode: Option<XdbcDatetimeSubcode>,
) -> XdbcTypeInfo {
    let textual = matches!(data_type, XdbcDataType::XdbcVarchar);
    XdbcTypeInfo {
        type_name: name.into(),
        data_type,
        column_size,
        literal_prefix: textual.then(|| "'".into()),
        literal_suffix: textual.then(|| "'".into()),
        create_params: None,
        nullable: Nullable::NullabilityNullable,
        case_sensitive: textual,
        searchable: Searchable::Full,
        unsigned_attribute: (!textual).then_some(false),
        fixed_prec_scale: false,
        auto_increment: Some(false),
        local_type_name: Some(name.into()),
        minimum_scale: None,
        maximum_scale: None,
        sql_data_type: if subcode.is_some() {
            XdbcDataType::XdbcDatetime
        } else {
            data_type
        },
        datetime_subcode: subcode,
        num_prec_radix: (!textual && subcode.is_none()).then_some(10),
        interval_precision: None,
    }
}

pub static XDBC_TYPES: LazyLock<XdbcTypeInfoData> = LazyLock::new(|| {
    let mut b = XdbcTypeInfoDataBuilder::new();
    b.append(xdbc("BOOLEAN", XdbcDataType::XdbcBit, Some(1), None));
    b.append(xdbc("TINYINT", XdbcDataType::XdbcTinyint, Some(3), None));
    b.append(xdbc("SMALLINT", XdbcDataType::XdbcSmallint, Some(5), None));
    b.append(xdbc("INTEGER", XdbcDataType::XdbcInteger, Some(10), None));
    b.append(xdbc("BIGINT", XdbcDataType::XdbcBigint, Some(19), None));
    b.append(xdbc("REAL", XdbcDataType::XdbcReal, Some(7), None));
    b.append(xdbc("DOUBLE", XdbcDataType::XdbcDouble, Some(15), None));
    b.append(xdbc("DECIMAL", XdbcDataType::XdbcDecimal, Some(38), None));
    b.append(xdbc(
        "VARCHAR",
        XdbcDataType::XdbcVarchar,
        Some(i32::MAX),
        None,
    ));
    b.append(xdbc("DATE", XdbcDataType::XdbcDate, Some(10), None));
    b.append(xdbc(
        "TIMESTAMP",
        XdbcDataType::XdbcTimestamp,
        Some(29),
        Some(XdbcDatetimeSubcode::XdbcSubcodeTimestamp),
    ));
    b.build().expect("static XdbcTypeInfo is valid")
});

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

pub async fn catalogs(engine: &QueryEngine, query: CommandGetCatalogs) -> Result<RecordBatch> {
    let mut builder = query.into_builder();
    for catalog in engine.catalogs() {
        builder.append(catalog.name());
    }
    Ok(builder.build()?)
}

pub async fn schemas(engine: &QueryEngine, query: CommandGetDbSchemas) -> Result<RecordBatch> {
    let catalog_filter = query.catalog.clone();
    let mut builder = query.into_builder();
    for catalog in engine.catalogs() {
        if catalog_filter
            .as_deref()
            .is_some_and(|c| c != catalog.name())
        {
            continue;
        }
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
pub async fn tables(engine: &QueryEngine, query: CommandGetTables) -> Result<RecordBatch> {
    let catalog_filter = query.catalog.clone();
    let schema_pattern = query.db_schema_filter_pattern.clone();
    let table_pattern = query.table_name_filter_pattern.clone();
    let mut builder = query.into_builder();
    let log = log_schema();
    let info_schema = Schema::empty();
    for catalog in engine.catalogs() {
        if catalog_filter
            .as_deref()
            .is_some_and(|c| c != catalog.name())
        {
            continue;
        }
        for group in catalog.groups().await?.iter() {
            if !pattern_allows(schema_pattern.as_deref(), &group.name) {
                continue;
            }
            let streams = if table_pattern.as_deref() == Some(logflight_connector::ALL_LOG_STREAMS)
            {
                Vec::new()
            } else {
                catalog
                    .streams(&group.name)
                    .await?
                    .iter()
                    .map(|s| s.name.clone())
                    .collect()
            };
            for stream in streams {
                builder.append(catalog.name(), &group.name, &stream, TABLE_TYPE, &log)?;
            }
            builder.append(
                catalog.name(),
                &group.name,
                logflight_connector::ALL_LOG_STREAMS,
                TABLE_TYPE,
                &log,
            )?;
        }
        if pattern_allows(schema_pattern.as_deref(), META_SCHEMA) {
            for table in META_TABLES {
                let kind = MetaTableKind::from_name(table).expect("a metadata table");
                builder.append(
                    catalog.name(),
                    META_SCHEMA,
                    table,
                    VIEW_TYPE,
                    &kind.schema(),
                )?;
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn static_metadata_builds() {
        assert!(SQL_INFO.record_batch([]).unwrap().num_rows() > 10);
        assert_eq!(XDBC_TYPES.record_batch(None).unwrap().num_rows(), 11);
    }
}
