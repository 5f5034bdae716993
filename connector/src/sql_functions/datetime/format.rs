//! `date_format(t, '%Y-%m-%d %H:%i:%s')` with Trino's MySQL-style
//! specifiers, and `format_datetime(t, 'yyyy-MM-dd HH:mm:ss')` with its
//! Joda-style patterns.
//!
//! DataFusion's `date_format` is an alias of `to_char` with chrono
//! specifiers, where `%i` is unknown and `%s` means epoch seconds, so a
//! Lake query's format string would fail or silently differ. Both
//! patterns are translated to chrono's once per distinct pattern.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::{coerce_datetime, local_times};

/// A MySQL-style pattern as a chrono one; Err names the specifier Trino
/// documents as unsupported (or that does not exist).
pub(crate) fn mysql_to_chrono(pattern: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            return Err("pattern ends with %".into());
        };
        out.push_str(match spec {
            'a' => "%a",
            'b' => "%b",
            'c' => "%-m",
            'd' => "%d",
            'e' => "%-d",
            'f' => "%6f",
            'H' => "%H",
            'h' | 'I' => "%I",
            'i' => "%M",
            'j' => "%j",
            'k' => "%-H",
            'l' => "%-I",
            'M' => "%B",
            'm' => "%m",
            'p' => "%p",
            'r' => "%I:%M:%S %p",
            'S' | 's' => "%S",
            'T' => "%H:%M:%S",
            'v' => "%V",
            'W' => "%A",
            'x' => "%G",
            'Y' => "%Y",
            'y' => "%y",
            '%' => "%%",
            other => return Err(format!("unsupported specifier %{other}")),
        });
    }
    Ok(out)
}

/// A Joda-style pattern as a chrono one. Letters repeat to choose width
/// (`M` 1, `MM` 01, `MMM` Jan, `MMMM` January); text in single quotes is
/// literal, `''` outside quotes a quote.
pub(crate) fn joda_to_chrono(pattern: &str) -> std::result::Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        let run = chars[at..].iter().take_while(|&&d| d == c).count();
        if c == '\'' {
            if run >= 2 {
                out.push('\'');
                at += 2;
                continue;
            }
            let Some(len) = chars[at + 1..].iter().position(|&d| d == '\'') else {
                return Err("unterminated quote".into());
            };
            for &literal in &chars[at + 1..at + 1 + len] {
                push_literal(&mut out, literal);
            }
            at += len + 2;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut out, c);
            at += 1;
            continue;
        }
        let spec = match (c, run) {
            ('y' | 'Y' | 'u', 2) => "%y".to_string(),
            ('y' | 'Y' | 'u', _) => "%Y".to_string(),
            ('x', 2) => "%g".to_string(),
            ('x', _) => "%G".to_string(),
            ('w', 1) => "%-V".to_string(),
            ('w', _) => "%V".to_string(),
            ('M', 1) => "%-m".to_string(),
            ('M', 2) => "%m".to_string(),
            ('M', 3) => "%b".to_string(),
            ('M', _) => "%B".to_string(),
            ('d', 1) => "%-d".to_string(),
            ('d', _) => "%d".to_string(),
            ('D', 1 | 2) => "%-j".to_string(),
            ('D', _) => "%j".to_string(),
            ('e', _) => "%u".to_string(),
            ('E', 1..=3) => "%a".to_string(),
            ('E', _) => "%A".to_string(),
            ('a', _) => "%p".to_string(),
            ('H', 1) => "%-H".to_string(),
            ('H', _) => "%H".to_string(),
            ('k', _) => "%-H".to_string(),
            ('h', 1) => "%-I".to_string(),
            ('h', _) => "%I".to_string(),
            ('m', 1) => "%-M".to_string(),
            ('m', _) => "%M".to_string(),
            ('s', 1) => "%-S".to_string(),
            ('s', _) => "%S".to_string(),
            ('S', 1..=9) => format!("%{run}f"),
            ('Z', 1) => "%z".to_string(),
            ('Z', _) => "%:z".to_string(),
            ('z', _) => "%Z".to_string(),
            _ => {
                return Err(format!(
                    "unsupported pattern letter {}",
                    c.to_string().repeat(run)
                ))
            }
        };
        // chrono's fixed-width fractions: %3f, %6f, %9f only.
        let spec = match spec.as_str() {
            "%1f" | "%2f" => "%3f".to_string(),
            "%4f" | "%5f" => "%6f".to_string(),
            "%7f" | "%8f" => "%9f".to_string(),
            _ => spec,
        };
        out.push_str(&spec);
        at += run;
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Style {
    MySql,
    Joda,
}

pub(super) fn udfs() -> Vec<ScalarUDF> {
    [Style::MySql, Style::Joda]
        .into_iter()
        .map(|style| {
            ScalarUDF::from(Format {
                style,
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Format {
    style: Style,
    signature: Signature,
}

impl ScalarUDFImpl for Format {
    fn name(&self) -> &str {
        match self.style {
            Style::MySql => "date_format",
            Style::Joda => "format_datetime",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [time, _] => Ok(vec![coerce_datetime(self.name(), time)?, DataType::Utf8]),
            _ => plan_err!("{} takes a timestamp and a pattern", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let times = local_times(&arrays[0])?;
        let patterns = cast(&arrays[1], &DataType::Utf8)?;
        let patterns = patterns
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("Utf8");
        let mut cached: Option<(String, String)> = None;
        let mut out = StringBuilder::new();
        for (row, time) in times.iter().enumerate() {
            let (Some(time), true) = (time, patterns.is_valid(row)) else {
                out.append_null();
                continue;
            };
            let pattern = patterns.value(row);
            if cached.as_ref().is_none_or(|(text, _)| text != pattern) {
                let translated = match self.style {
                    Style::MySql => mysql_to_chrono(pattern),
                    Style::Joda => joda_to_chrono(pattern),
                };
                match translated {
                    Ok(chrono_pattern) => cached = Some((pattern.to_string(), chrono_pattern)),
                    Err(why) => return exec_err!("{}: {why} in {pattern:?}", self.name()),
                }
            }
            let chrono_pattern = &cached.as_ref().expect("just cached").1;
            out.append_value(time.format(chrono_pattern).to_string());
        }
        let out: ArrayRef = Arc::new(out.finish());
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
    use chrono::NaiveDateTime;

    fn sample() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("2026-01-04 15:04:05.123456", "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn mysql_specifiers_as_trino() {
        let cases: &[(&str, &str)] = &[
            ("%Y-%m-%d %H:%i:%s", "2026-01-04 15:04:05"),
            ("%c/%e/%y %l:%i %p", "1/4/26 3:04 PM"),
            ("%a %W %b %M", "Sun Sunday Jan January"),
            ("%j %v %x", "004 01 2026"),
            ("%T.%f", "15:04:05.123456"),
            ("%r", "03:04:05 PM"),
            ("100%% %k", "100% 15"),
        ];
        for (pattern, expected) in cases {
            let chrono_pattern = mysql_to_chrono(pattern).unwrap();
            assert_eq!(
                sample().format(&chrono_pattern).to_string(),
                *expected,
                "{pattern}"
            );
        }
        for unsupported in ["%D", "%U", "%u", "%w", "%X", "%"] {
            assert!(mysql_to_chrono(unsupported).is_err(), "{unsupported}");
        }
    }

    #[test]
    fn joda_patterns_as_trino() {
        let cases: &[(&str, &str)] = &[
            ("yyyy-MM-dd HH:mm:ss", "2026-01-04 15:04:05"),
            ("yyyy-MM-dd'T'HH:mm:ss.SSS", "2026-01-04T15:04:05.123"),
            ("d MMM yy, h:m a", "4 Jan 26, 3:4 PM"),
            ("EEEE MMMM", "Sunday January"),
            ("'day' DDD", "day 004"),
            ("100%", "100%"),
        ];
        for (pattern, expected) in cases {
            let chrono_pattern = joda_to_chrono(pattern).unwrap();
            assert_eq!(
                sample().format(&chrono_pattern).to_string(),
                *expected,
                "{pattern}"
            );
        }
        assert!(joda_to_chrono("G").is_err());
        assert!(joda_to_chrono("'open").is_err());
    }
}
