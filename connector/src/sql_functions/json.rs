//! Trino's JSON functions over JSON text: `json_extract_scalar`,
//! `json_extract`, `json_array_length`, `json_array_get`, `json_parse`
//! and `json_format`.
//!
//! logflight has no JSON type: Lake's `map<string,string>` columns hold
//! nested values as JSON text, so these take and return text. Text that
//! is not JSON gives NULL, as Trino's functions do for invalid JSON,
//! while a malformed path is an error in the query.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use super::json_path::{self, Step};

pub(super) fn udfs() -> Vec<ScalarUDF> {
    [
        Kind::ExtractScalar,
        Kind::Extract,
        Kind::ArrayLength,
        Kind::ArrayGet,
        Kind::Parse,
        Kind::Format,
    ]
    .into_iter()
    .map(|kind| {
        ScalarUDF::from(JsonFunction {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    })
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    ExtractScalar,
    Extract,
    ArrayLength,
    ArrayGet,
    Parse,
    Format,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ExtractScalar => "json_extract_scalar",
            Kind::Extract => "json_extract",
            Kind::ArrayLength => "json_array_length",
            Kind::ArrayGet => "json_array_get",
            Kind::Parse => "json_parse",
            Kind::Format => "json_format",
        }
    }

    /// The type of the second argument, if the function takes one.
    fn second_argument(self) -> Option<DataType> {
        match self {
            Kind::ExtractScalar | Kind::Extract => Some(DataType::Utf8),
            Kind::ArrayGet => Some(DataType::Int64),
            Kind::ArrayLength | Kind::Parse | Kind::Format => None,
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonFunction {
    kind: Kind,
    signature: Signature,
}

impl ScalarUDFImpl for JsonFunction {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let expected: Vec<DataType> = std::iter::once(DataType::Utf8)
            .chain(self.kind.second_argument())
            .collect();
        if arg_types.len() != expected.len() {
            return plan_err!(
                "{} takes {} argument(s), got {}",
                self.name(),
                expected.len(),
                arg_types.len()
            );
        }
        Ok(expected)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::ArrayLength => DataType::Int64,
            _ => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let result = evaluate(self.kind, &arrays)?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

fn as_strings(array: &ArrayRef) -> Result<StringArray> {
    let utf8 = cast(array, &DataType::Utf8)?;
    Ok(utf8
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8 gives a StringArray")
        .clone())
}

fn evaluate(kind: Kind, arrays: &[ArrayRef]) -> Result<ArrayRef> {
    let documents = as_strings(&arrays[0])?;
    let parsed = |row: usize| -> Option<Value> {
        documents
            .is_valid(row)
            .then(|| serde_json::from_str(documents.value(row)).ok())
            .flatten()
    };
    match kind {
        Kind::ArrayLength => {
            let lengths: Int64Array = (0..documents.len())
                .map(|row| Some(parsed(row)?.as_array()?.len() as i64))
                .collect();
            Ok(Arc::new(lengths))
        }
        Kind::ArrayGet => {
            let indexes = cast(&arrays[1], &DataType::Int64)?;
            let indexes = indexes
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("cast to Int64 gives an Int64Array");
            let mut out = StringBuilder::new();
            for row in 0..documents.len() {
                let element = indexes
                    .is_valid(row)
                    .then(|| array_get(&parsed(row)?, indexes.value(row)))
                    .flatten();
                out.append_option(element);
            }
            Ok(Arc::new(out.finish()))
        }
        Kind::Parse | Kind::Format => {
            let mut out = StringBuilder::new();
            for row in 0..documents.len() {
                out.append_option(parsed(row).map(|value| value.to_string()));
            }
            Ok(Arc::new(out.finish()))
        }
        Kind::Extract | Kind::ExtractScalar => {
            let paths = as_strings(&arrays[1])?;
            let mut out = StringBuilder::new();
            let mut cached: Option<(String, Vec<Step>)> = None;
            for row in 0..documents.len() {
                if paths.is_null(row) {
                    out.append_null();
                    continue;
                }
                let path = paths.value(row);
                if cached.as_ref().is_none_or(|(text, _)| text != path) {
                    let steps = match json_path::parse(path) {
                        Ok(steps) => steps,
                        Err(message) => return exec_err!("{}: {message}", kind.name()),
                    };
                    cached = Some((path.to_string(), steps));
                }
                let steps = &cached.as_ref().expect("just cached").1;
                let found = parsed(row).and_then(|doc| {
                    let value = json_path::lookup(&doc, steps)?;
                    if kind == Kind::Extract {
                        Some(value.to_string())
                    } else {
                        scalar_text(value)
                    }
                });
                out.append_option(found);
            }
            Ok(Arc::new(out.finish()))
        }
    }
}

/// Trino's rendering of a scalar as varchar: strings unquoted, numbers
/// and booleans as written; null, objects and arrays have none.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `json_array_get`'s indexing: 0-based, negative counts from the end.
fn array_get(value: &Value, index: i64) -> Option<String> {
    let array = value.as_array()?;
    let position = if index < 0 {
        array.len().checked_sub(index.unsigned_abs() as usize)?
    } else {
        index as usize
    };
    array.get(position).map(Value::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        kind: Kind,
        documents: &[Option<&str>],
        second: Option<ArrayRef>,
    ) -> Vec<Option<String>> {
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from(documents.to_vec()))];
        arrays.extend(second);
        let out = evaluate(kind, &arrays).unwrap();
        let out = cast(&out, &DataType::Utf8).unwrap();
        let out = out.as_any().downcast_ref::<StringArray>().unwrap();
        out.iter().map(|v| v.map(str::to_string)).collect()
    }

    fn paths(path: &str, rows: usize) -> Option<ArrayRef> {
        Some(Arc::new(StringArray::from(vec![path; rows])))
    }

    const DOC: &str = r#"{"a":{"b":[1,"two",true,null,{"c":3}]},"s":"x"}"#;

    #[test]
    fn extract_scalar_gives_text_of_scalars_only() {
        let cases: &[(&str, Option<&str>)] = &[
            ("$.a.b[0]", Some("1")),
            ("$.a.b[1]", Some("two")),
            ("$.a.b[2]", Some("true")),
            ("$.a.b[3]", None),
            ("$.a.b[4]", None),
            ("$.a.b[4].c", Some("3")),
            ("$.a", None),
            ("$.missing", None),
            ("$[\"s\"]", Some("x")),
        ];
        for (path, expected) in cases {
            let got = run(Kind::ExtractScalar, &[Some(DOC)], paths(path, 1));
            assert_eq!(got, vec![expected.map(str::to_string)], "{path}");
        }
    }

    #[test]
    fn extract_gives_json_text() {
        let cases: &[(&str, Option<&str>)] = &[
            ("$.a.b[1]", Some("\"two\"")),
            ("$.a.b[3]", Some("null")),
            ("$.a.b[4]", Some("{\"c\":3}")),
            ("$.missing", None),
        ];
        for (path, expected) in cases {
            let got = run(Kind::Extract, &[Some(DOC)], paths(path, 1));
            assert_eq!(got, vec![expected.map(str::to_string)], "{path}");
        }
    }

    #[test]
    fn invalid_json_and_null_give_null() {
        let got = run(Kind::ExtractScalar, &[Some("{nope"), None], paths("$.a", 2));
        assert_eq!(got, vec![None, None]);
    }

    #[test]
    fn malformed_path_is_an_error() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![DOC])),
            Arc::new(StringArray::from(vec!["a.b"])),
        ];
        assert!(evaluate(Kind::Extract, &arrays).is_err());
    }

    #[test]
    fn array_length_and_get() {
        let docs = [Some("[1,[2],\"x\"]"), Some("{}"), Some("[]"), None];
        assert_eq!(
            run(Kind::ArrayLength, &docs, None),
            vec![Some("3".into()), None, Some("0".into()), None]
        );
        let cases: &[(i64, Option<&str>)] = &[
            (0, Some("1")),
            (1, Some("[2]")),
            (-1, Some("\"x\"")),
            (-3, Some("1")),
            (3, None),
            (-4, None),
        ];
        for (index, expected) in cases {
            let got = run(
                Kind::ArrayGet,
                &docs[..1],
                Some(Arc::new(Int64Array::from(vec![*index]))),
            );
            assert_eq!(got, vec![expected.map(str::to_string)], "index {index}");
        }
    }

    #[test]
    fn parse_and_format_normalise_text() {
        let got = run(
            Kind::Parse,
            &[Some(" { \"a\" : [1, 2] } "), Some("nope")],
            None,
        );
        assert_eq!(got, vec![Some("{\"a\":[1,2]}".to_string()), None]);
    }
}
