//! `year`, `quarter`, `month`, `day`/`day_of_month`, `day_of_week`/`dow`
//! (ISO, Monday 1), `day_of_year`/`doy`, `week`/`week_of_year` (ISO
//! week), `year_of_week`/`yow`, `hour`, `minute`, `second` and
//! `millisecond`, each a bigint as in Trino.
//!
//! `date_part` has most of these under other names, but Lake queries
//! call the Trino names directly (`GROUP BY day_of_week(eventtime)`).

use arrow::array::Int64Array;
use arrow::datatypes::DataType;
use chrono::{Datelike, Timelike};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

use super::{coerce_datetime, local_times};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    Year,
    Quarter,
    Month,
    Day,
    DayOfWeek,
    DayOfYear,
    Week,
    YearOfWeek,
    Hour,
    Minute,
    Second,
    Millisecond,
}

const FIELDS: [(Field, &str, &[&str]); 12] = [
    (Field::Year, "year", &[]),
    (Field::Quarter, "quarter", &[]),
    (Field::Month, "month", &[]),
    (Field::Day, "day", &["day_of_month"]),
    (Field::DayOfWeek, "day_of_week", &["dow"]),
    (Field::DayOfYear, "day_of_year", &["doy"]),
    (Field::Week, "week", &["week_of_year"]),
    (Field::YearOfWeek, "year_of_week", &["yow"]),
    (Field::Hour, "hour", &[]),
    (Field::Minute, "minute", &[]),
    (Field::Second, "second", &[]),
    (Field::Millisecond, "millisecond", &[]),
];

pub(super) fn udfs() -> Vec<ScalarUDF> {
    FIELDS
        .iter()
        .map(|&(field, name, aliases)| {
            ScalarUDF::from(FieldFunction {
                field,
                name,
                aliases: aliases.iter().map(|a| a.to_string()).collect(),
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
}

pub(crate) fn field_of<T: Datelike + Timelike>(field: Field, time: &T) -> i64 {
    let value = match field {
        Field::Year => time.year(),
        Field::Quarter => (time.month0() / 3 + 1) as i32,
        Field::Month => time.month() as i32,
        Field::Day => time.day() as i32,
        Field::DayOfWeek => time.weekday().number_from_monday() as i32,
        Field::DayOfYear => time.ordinal() as i32,
        Field::Week => time.iso_week().week() as i32,
        Field::YearOfWeek => time.iso_week().year(),
        Field::Hour => time.hour() as i32,
        Field::Minute => time.minute() as i32,
        Field::Second => time.second() as i32,
        Field::Millisecond => (time.nanosecond() / 1_000_000 % 1000) as i32,
    };
    i64::from(value)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FieldFunction {
    field: Field,
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
}

impl ScalarUDFImpl for FieldFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [one] => Ok(vec![coerce_datetime(self.name, one)?]),
            _ => plan_err!("{} takes one timestamp", self.name),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let values: Int64Array = local_times(&arrays[0])?
            .iter()
            .map(|time| time.as_ref().map(|t| field_of(self.field, t)))
            .collect();
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &values, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(Arc::new(values)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    #[test]
    fn fields_follow_trino() {
        // 2021-01-03 is a Sunday in ISO week 53 of 2020.
        let sunday =
            NaiveDateTime::parse_from_str("2021-01-03 13:14:15.678", "%Y-%m-%d %H:%M:%S%.f")
                .unwrap();
        let monday =
            NaiveDateTime::parse_from_str("2026-12-28 00:00:00.000", "%Y-%m-%d %H:%M:%S%.f")
                .unwrap();
        let cases: &[(Field, i64, i64)] = &[
            (Field::Year, 2021, 2026),
            (Field::Quarter, 1, 4),
            (Field::Month, 1, 12),
            (Field::Day, 3, 28),
            (Field::DayOfWeek, 7, 1),
            (Field::DayOfYear, 3, 362),
            (Field::Week, 53, 53),
            (Field::YearOfWeek, 2020, 2026),
            (Field::Hour, 13, 0),
            (Field::Minute, 14, 0),
            (Field::Second, 15, 0),
            (Field::Millisecond, 678, 0),
        ];
        for &(field, on_sunday, on_monday) in cases {
            assert_eq!(field_of(field, &sunday), on_sunday, "{field:?} of {sunday}");
            assert_eq!(field_of(field, &monday), on_monday, "{field:?} of {monday}");
        }
    }
}
