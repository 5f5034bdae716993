//! Trino's date and time functions that DataFusion lacks or spells
//! differently.
//!
//! DataFusion already has `date_trunc`, `date_part`/`extract`,
//! `from_unixtime`, `to_unixtime`, `now()`/`current_timestamp` and
//! interval arithmetic; these add Trino's names and semantics on top.
//! Every function reads its timestamps in their own zone (naive ones as
//! UTC), as Trino reads `timestamp with time zone` values.

mod arith;
mod convert;
mod fields;
mod format;

use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, TimestampMillisecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, Utc};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::ScalarUDF;

pub(super) fn udfs() -> Vec<ScalarUDF> {
    let mut udfs = fields::udfs();
    udfs.extend(convert::udfs());
    udfs.extend(arith::udfs());
    udfs.extend(format::udfs());
    udfs
}

/// The type a datetime argument is evaluated as: milliseconds (Lake's
/// precision) in the argument's own zone. Text is accepted because Lake
/// queries compare and pass `'2026-01-01 00:00:00'` literals freely.
pub(crate) fn coerce_datetime(name: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Timestamp(_, zone) => {
            Ok(DataType::Timestamp(TimeUnit::Millisecond, zone.clone()))
        }
        DataType::Date32
        | DataType::Date64
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Null => Ok(DataType::Timestamp(TimeUnit::Millisecond, None)),
        other => plan_err!("{name} takes a timestamp or a date, not {other}"),
    }
}

/// Timestamps as milliseconds and the zone to read them in.
pub(crate) fn millis_and_zone(array: &ArrayRef) -> Result<(TimestampMillisecondArray, Tz)> {
    let zone = match array.data_type() {
        DataType::Timestamp(_, Some(zone)) => zone.parse::<Tz>()?,
        _ => "+00:00".parse::<Tz>()?,
    };
    let target = match array.data_type() {
        DataType::Timestamp(_, zone) => DataType::Timestamp(TimeUnit::Millisecond, zone.clone()),
        _ => DataType::Timestamp(TimeUnit::Millisecond, None),
    };
    let millis = cast(array, &target)?;
    let millis = millis
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .expect("cast to Timestamp(Millisecond) gives a TimestampMillisecondArray")
        .clone();
    Ok((millis, zone))
}

/// Each row's local date and time, None for NULL rows and values chrono
/// cannot represent.
pub(crate) fn local_times(array: &ArrayRef) -> Result<Vec<Option<DateTime<Tz>>>> {
    let (millis, zone) = millis_and_zone(array)?;
    Ok(millis
        .iter()
        .map(|ms| Some(DateTime::<Utc>::from_timestamp_millis(ms?)?.with_timezone(&zone)))
        .collect())
}

/// Milliseconds back into an array of `data_type` (a timestamp or date
/// type, as the arguments were coerced).
pub(crate) fn from_millis(values: Vec<Option<i64>>, data_type: &DataType) -> Result<ArrayRef> {
    let zone = match data_type {
        DataType::Timestamp(_, zone) => zone.clone(),
        _ => None,
    };
    let millis = TimestampMillisecondArray::from(values).with_timezone_opt(zone);
    Ok(cast(&(Arc::new(millis) as ArrayRef), data_type)?)
}
