//! Conversions between text and datetimes: `from_iso8601_timestamp`,
//! `from_iso8601_date`, `to_iso8601` and `date`.
//!
//! Trino keeps the parsed offset in a `timestamp with time zone`;
//! logflight's timestamps carry one zone per column, so parsed instants
//! are returned in UTC, the zone of `eventtime`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Date32Array, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::{coerce_datetime, from_millis, local_times};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    FromIso8601Timestamp,
    FromIso8601Date,
    ToIso8601,
    Date,
}

pub(super) fn udfs() -> Vec<ScalarUDF> {
    [
        Kind::FromIso8601Timestamp,
        Kind::FromIso8601Date,
        Kind::ToIso8601,
        Kind::Date,
    ]
    .into_iter()
    .map(|kind| {
        ScalarUDF::from(Convert {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    })
    .collect()
}

/// Parses ISO 8601 date-times as Trino writes them: `T` between date and
/// time, seconds and fractions optional, `Z` or a `±hh[:mm]` offset
/// optional (absent means UTC), or a date alone (midnight UTC).
pub(crate) fn parse_iso8601_instant(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    const ZONED: [&str; 3] = [
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%dT%H%#z",
    ];
    const NAIVE: [&str; 3] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"];
    let utc = FixedOffset::east_opt(0).expect("zero offset");
    ZONED
        .iter()
        .find_map(|format| DateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            NAIVE
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .or_else(|| parse_iso8601_date(text)?.and_hms_opt(0, 0, 0))
                .map(|naive| naive.and_utc().with_timezone(&utc))
        })
}

pub(crate) fn parse_iso8601_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// Trino's rendering: milliseconds always, `Z` for UTC.
pub(crate) fn format_iso8601<Z: chrono::TimeZone>(time: &DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    let local = time.naive_local().format("%Y-%m-%dT%H:%M:%S%.3f");
    let offset = time.offset().fix();
    if offset.local_minus_utc() == 0 {
        format!("{local}Z")
    } else {
        format!("{local}{offset}")
    }
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Convert {
    kind: Kind,
    signature: Signature,
}

impl ScalarUDFImpl for Convert {
    fn name(&self) -> &str {
        match self.kind {
            Kind::FromIso8601Timestamp => "from_iso8601_timestamp",
            Kind::FromIso8601Date => "from_iso8601_date",
            Kind::ToIso8601 => "to_iso8601",
            Kind::Date => "date",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [one] = arg_types else {
            return plan_err!("{} takes one argument", self.name());
        };
        Ok(vec![match self.kind {
            Kind::FromIso8601Timestamp | Kind::FromIso8601Date => DataType::Utf8,
            Kind::ToIso8601 if one == &DataType::Date32 => DataType::Date32,
            Kind::Date if one.is_string() => DataType::Utf8,
            Kind::ToIso8601 | Kind::Date => coerce_datetime(self.name(), one)?,
        }])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::FromIso8601Timestamp => {
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
            }
            Kind::FromIso8601Date | Kind::Date => DataType::Date32,
            Kind::ToIso8601 => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let input = ColumnarValue::values_to_arrays(&args.args)?.remove(0);
        let out = self.convert(&input, args.return_field.data_type())?;
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

impl Convert {
    fn convert(&self, input: &ArrayRef, return_type: &DataType) -> Result<ArrayRef> {
        let texts = || -> Result<StringArray> {
            let utf8 = cast(input, &DataType::Utf8)?;
            Ok(utf8
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("Utf8")
                .clone())
        };
        match self.kind {
            Kind::FromIso8601Timestamp => {
                let mut millis = Vec::with_capacity(input.len());
                for text in texts()?.iter() {
                    millis.push(match text {
                        None => None,
                        Some(text) => match parse_iso8601_instant(text) {
                            Some(time) => Some(time.timestamp_millis()),
                            None => return exec_err!("{}: not ISO 8601: {text:?}", self.name()),
                        },
                    });
                }
                from_millis(millis, return_type)
            }
            Kind::FromIso8601Date | Kind::Date if input.data_type().is_string() => {
                let mut days = Vec::with_capacity(input.len());
                for text in texts()?.iter() {
                    days.push(match text {
                        None => None,
                        Some(text) => match parse_iso8601_date(text) {
                            Some(date) => Some(days_since_epoch(date)),
                            None => return exec_err!("{}: not a date: {text:?}", self.name()),
                        },
                    });
                }
                Ok(Arc::new(Date32Array::from(days)))
            }
            Kind::FromIso8601Date | Kind::Date => {
                let days: Date32Array = local_times(input)?
                    .iter()
                    .map(|time| Some(days_since_epoch(time.as_ref()?.date_naive())))
                    .collect();
                Ok(Arc::new(days))
            }
            Kind::ToIso8601 if input.data_type() == &DataType::Date32 => {
                Ok(cast(input, &DataType::Utf8)?)
            }
            Kind::ToIso8601 => {
                let mut out = StringBuilder::new();
                for time in local_times(input)? {
                    out.append_option(time.as_ref().map(format_iso8601));
                }
                Ok(Arc::new(out.finish()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iso8601_instants() {
        let cases: &[(&str, Option<&str>)] = &[
            ("2026-01-02T03:04:05Z", Some("2026-01-02T03:04:05.000Z")),
            ("2026-01-02T03:04:05.123Z", Some("2026-01-02T03:04:05.123Z")),
            (
                "2026-01-02T03:04:05+02:00",
                Some("2026-01-02T01:04:05.000Z"),
            ),
            (
                "2026-01-02T03:04:05.5-0130",
                Some("2026-01-02T04:34:05.500Z"),
            ),
            ("2026-01-02T03:04Z", Some("2026-01-02T03:04:00.000Z")),
            ("2026-01-02T03:04:05", Some("2026-01-02T03:04:05.000Z")),
            ("2026-01-02", Some("2026-01-02T00:00:00.000Z")),
            ("2026-01-02 03:04:05", None),
            ("yesterday", None),
        ];
        for (text, expected) in cases {
            let got =
                parse_iso8601_instant(text).map(|t| format_iso8601(&t.with_timezone(&chrono::Utc)));
            assert_eq!(got.as_deref(), *expected, "{text}");
        }
    }

    #[test]
    fn formats_offsets_as_trino_does() {
        let time = parse_iso8601_instant("2026-01-02T03:04:05.007+05:30").unwrap();
        assert_eq!(format_iso8601(&time), "2026-01-02T03:04:05.007+05:30");
    }
}
