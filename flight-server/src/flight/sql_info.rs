//! The facts a Flight SQL server states about itself (GetSqlInfo) and the
//! SQL types its results can carry (GetXdbcTypeInfo); JDBC and ODBC tools
//! read both before they browse.

use std::sync::LazyLock;

use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{Nullable, Searchable, SqlInfo, XdbcDataType, XdbcDatetimeSubcode};

pub static SQL_INFO: LazyLock<SqlInfoData> = LazyLock::new(|| {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "logflight");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    // The Arrow library the server is built with (arrow-rs), as clients
    // such as ADBC's `vendor_arrow_version` report it.
    b.append(SqlInfo::FlightSqlServerArrowVersion, arrow::ARROW_VERSION);
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    // SQL_SUPPORTED_TRANSACTION_NONE: a read-only server has nothing to
    // commit or roll back. ADBC's DB-API then stays in autocommit mode (and
    // says so in a warning); BeginTransaction and EndTransaction are still
    // answered as no-ops for clients that send them regardless.
    b.append(SqlInfo::FlightSqlServerTransaction, 0i32);
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
    b.append(SqlInfo::SqlTransactionsSupported, false);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_metadata_builds() {
        assert!(SQL_INFO.record_batch([]).unwrap().num_rows() > 10);
        assert_eq!(XDBC_TYPES.record_batch(None).unwrap().num_rows(), 11);
    }
}
