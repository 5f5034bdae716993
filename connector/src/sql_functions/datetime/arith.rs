//! `date_add(unit, n, t)` and `date_diff(unit, a, b)` with Trino's unit
//! names and semantics.
//!
//! DataFusion's interval arithmetic covers `t + INTERVAL '1' DAY`, but
//! Lake queries also take the unit as a string, and `date_diff` counts
//! whole units between two instants (truncated towards zero, negative
//! when `b` is before `a`), which no DataFusion function does for
//! months and years.

use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{Array, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, Duration, Months, NaiveDateTime};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::{coerce_datetime, from_millis, local_times};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    pub(crate) fn parse(text: &str) -> Option<Unit> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "millisecond" => Unit::Millisecond,
            "second" => Unit::Second,
            "minute" => Unit::Minute,
            "hour" => Unit::Hour,
            "day" => Unit::Day,
            "week" => Unit::Week,
            "month" => Unit::Month,
            "quarter" => Unit::Quarter,
            "year" => Unit::Year,
            _ => return None,
        })
    }

    /// Length in milliseconds of the units that have a fixed one on the
    /// local clock; None for the calendar units.
    fn fixed_millis(self) -> Option<i64> {
        Some(match self {
            Unit::Millisecond => 1,
            Unit::Second => 1_000,
            Unit::Minute => 60_000,
            Unit::Hour => 3_600_000,
            Unit::Day => 86_400_000,
            Unit::Week => 7 * 86_400_000,
            Unit::Month | Unit::Quarter | Unit::Year => return None,
        })
    }

    fn months(self) -> i64 {
        match self {
            Unit::Quarter => 3,
            Unit::Year => 12,
            _ => 1,
        }
    }
}

/// `time` moved by `amount` units. Days and longer move the local
/// calendar (a day across a DST change stays a day); month arithmetic
/// clamps to the month's last day, as Trino does.
pub(crate) fn add(unit: Unit, amount: i64, time: &DateTime<Tz>) -> Option<DateTime<Tz>> {
    match unit {
        Unit::Millisecond | Unit::Second | Unit::Minute | Unit::Hour => {
            let millis = amount.checked_mul(unit.fixed_millis()?)?;
            time.checked_add_signed(Duration::try_milliseconds(millis)?)
        }
        Unit::Day | Unit::Week => {
            let millis = amount.checked_mul(unit.fixed_millis()?)?;
            let local = time
                .naive_local()
                .checked_add_signed(Duration::try_milliseconds(millis)?)?;
            local.and_local_timezone(time.timezone()).earliest()
        }
        Unit::Month | Unit::Quarter | Unit::Year => {
            let months = amount.checked_mul(unit.months())?;
            let local = add_months(time.naive_local(), months)?;
            local.and_local_timezone(time.timezone()).earliest()
        }
    }
}

fn add_months(time: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let magnitude = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    if months >= 0 {
        time.checked_add_months(magnitude)
    } else {
        time.checked_sub_months(magnitude)
    }
}

/// Whole units from `start` to `end`, on `start`'s local clock.
pub(crate) fn diff(unit: Unit, start: &DateTime<Tz>, end: &DateTime<Tz>) -> Option<i64> {
    let from = start.naive_local();
    let to = end.with_timezone(&start.timezone()).naive_local();
    match unit {
        Unit::Millisecond | Unit::Second | Unit::Minute | Unit::Hour => {
            Some((end.timestamp_millis() - start.timestamp_millis()) / unit.fixed_millis()?)
        }
        Unit::Day | Unit::Week => Some((to - from).num_milliseconds() / unit.fixed_millis()?),
        Unit::Month | Unit::Quarter | Unit::Year => {
            use chrono::Datelike;
            let mut months = i64::from(to.year() - from.year()) * 12 + i64::from(to.month())
                - i64::from(from.month());
            // Step back while the candidate overshoots: 31 Jan to
            // 28 Feb is one month (clamped), 15 Jan to 14 Feb none.
            while months > 0 && add_months(from, months)? > to {
                months -= 1;
            }
            while months < 0 && add_months(from, months)? < to {
                months += 1;
            }
            Some(months / unit.months())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Add,
    Diff,
}

pub(super) fn udfs() -> Vec<ScalarUDF> {
    [Kind::Add, Kind::Diff]
        .into_iter()
        .map(|kind| {
            ScalarUDF::from(Arith {
                kind,
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Arith {
    kind: Kind,
    signature: Signature,
}

impl ScalarUDFImpl for Arith {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Add => "date_add",
            Kind::Diff => "date_diff",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [_, second, third] = arg_types else {
            return plan_err!("{} takes a unit and two arguments", self.name());
        };
        let keep_date = |t: &DataType| -> Result<DataType> {
            if t == &DataType::Date32 {
                Ok(DataType::Date32)
            } else {
                coerce_datetime(self.name(), t)
            }
        };
        Ok(match self.kind {
            Kind::Add => vec![DataType::Utf8, DataType::Int64, keep_date(third)?],
            Kind::Diff => vec![DataType::Utf8, keep_date(second)?, keep_date(third)?],
        })
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Add => arg_types[2].clone(),
            Kind::Diff => DataType::Int64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let units = cast(&arrays[0], &DataType::Utf8)?;
        let units = units.as_any().downcast_ref::<StringArray>().expect("Utf8");
        let unit_at = |row: usize| -> Result<Option<Unit>> {
            if units.is_null(row) {
                return Ok(None);
            }
            match Unit::parse(units.value(row)) {
                Some(unit) => Ok(Some(unit)),
                None => exec_err!("{}: unknown unit {:?}", self.name(), units.value(row)),
            }
        };
        let out: Arc<dyn Array> = match self.kind {
            Kind::Add => {
                let amounts = cast(&arrays[1], &DataType::Int64)?;
                let amounts = amounts
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("Int64");
                let times = local_times(&arrays[2])?;
                let mut millis = Vec::with_capacity(times.len());
                for (row, time) in times.iter().enumerate() {
                    let moved = match (unit_at(row)?, amounts.is_valid(row), time) {
                        (Some(unit), true, Some(time)) => add(unit, amounts.value(row), time),
                        _ => None,
                    };
                    millis.push(moved.map(|t| t.timestamp_millis()));
                }
                let as_timestamp = match args.return_field.data_type() {
                    DataType::Timestamp(_, zone) => {
                        DataType::Timestamp(TimeUnit::Millisecond, zone.clone())
                    }
                    _ => DataType::Timestamp(TimeUnit::Millisecond, None),
                };
                let moved = from_millis(millis, &as_timestamp)?;
                cast(&moved, args.return_field.data_type())?
            }
            Kind::Diff => {
                let starts = local_times(&arrays[1])?;
                let ends = local_times(&arrays[2])?;
                let mut counts = Vec::with_capacity(starts.len());
                for row in 0..starts.len() {
                    counts.push(match (unit_at(row)?, &starts[row], &ends[row]) {
                        (Some(unit), Some(start), Some(end)) => diff(unit, start, end),
                        _ => None,
                    });
                }
                Arc::new(Int64Array::from(counts))
            }
        };
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql_functions::datetime::convert::{format_iso8601, parse_iso8601_instant};

    fn at(text: &str) -> DateTime<Tz> {
        let utc: Tz = "UTC".parse().unwrap();
        parse_iso8601_instant(text).unwrap().with_timezone(&utc)
    }

    #[test]
    fn diff_counts_whole_units_with_sign() {
        let cases: &[(&str, &str, &str, i64)] = &[
            (
                "millisecond",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:01.5Z",
                1500,
            ),
            (
                "second",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:01.999Z",
                1,
            ),
            ("hour", "2026-01-01T00:00:00Z", "2026-01-01T02:59:00Z", 2),
            ("day", "2026-01-01T23:00:00Z", "2026-01-02T01:00:00Z", 0),
            ("day", "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z", 7),
            ("day", "2026-01-08T00:00:00Z", "2026-01-01T00:00:01Z", -6),
            ("week", "2026-01-01T00:00:00Z", "2026-01-15T00:00:00Z", 2),
            ("month", "2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", 1),
            ("month", "2026-01-15T00:00:00Z", "2026-02-14T23:59:59Z", 0),
            ("month", "2026-03-15T00:00:00Z", "2026-01-15T00:00:00Z", -2),
            ("month", "2026-03-15T00:00:00Z", "2026-01-15T00:00:01Z", -1),
            ("quarter", "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z", 3),
            ("year", "2024-02-29T00:00:00Z", "2025-02-28T00:00:00Z", 1),
            ("year", "2024-06-01T00:00:00Z", "2026-05-31T00:00:00Z", 1),
        ];
        for (unit, a, b, expected) in cases {
            let got = diff(Unit::parse(unit).unwrap(), &at(a), &at(b));
            assert_eq!(got, Some(*expected), "date_diff('{unit}', {a}, {b})");
        }
    }

    #[test]
    fn add_moves_by_units() {
        let cases: &[(&str, i64, &str, &str)] = &[
            (
                "hour",
                1,
                "2026-01-01T23:30:00Z",
                "2026-01-02T00:30:00.000Z",
            ),
            (
                "minute",
                -90,
                "2026-01-01T00:00:00Z",
                "2025-12-31T22:30:00.000Z",
            ),
            ("day", 7, "2026-02-25T00:00:00Z", "2026-03-04T00:00:00.000Z"),
            (
                "month",
                1,
                "2026-01-31T10:00:00Z",
                "2026-02-28T10:00:00.000Z",
            ),
            (
                "quarter",
                -1,
                "2026-05-31T00:00:00Z",
                "2026-02-28T00:00:00.000Z",
            ),
            (
                "year",
                1,
                "2024-02-29T00:00:00Z",
                "2025-02-28T00:00:00.000Z",
            ),
        ];
        for (unit, amount, from, expected) in cases {
            let got = add(Unit::parse(unit).unwrap(), *amount, &at(from)).unwrap();
            assert_eq!(
                format_iso8601(&got),
                *expected,
                "date_add('{unit}', {amount}, {from})"
            );
        }
        assert_eq!(Unit::parse("fortnight"), None);
    }
}
