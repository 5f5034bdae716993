//! Trino's `element_at`, on maps as well as lists.
//!
//! DataFusion registers `element_at` as an alias of `map_extract`, which
//! returns a one-element list and rejects lists; Lake queries compare
//! `element_at(requestparameters, 'bucketName')` with a string, so the
//! map case must return the value itself.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, MapArray, StringArray, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::functions_nested::extract::array_element_udf;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

pub(super) fn udfs() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(ElementAt::new())]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ElementAt {
    signature: Signature,
}

impl ElementAt {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ElementAt {
    fn name(&self) -> &str {
        "element_at"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [container, _] = arg_types else {
            return plan_err!("element_at takes a map or an array and a key or index");
        };
        match container {
            DataType::Map(entries, _) => {
                let DataType::Struct(fields) = entries.data_type() else {
                    return plan_err!("element_at: malformed map type {container}");
                };
                Ok(vec![container.clone(), fields[0].data_type().clone()])
            }
            DataType::List(_) | DataType::LargeList(_) | DataType::Null => {
                Ok(vec![container.clone(), DataType::Int64])
            }
            DataType::FixedSizeList(field, _) => {
                Ok(vec![DataType::List(Arc::clone(field)), DataType::Int64])
            }
            other => plan_err!("element_at takes a map or an array, not {other}"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(fields) => Ok(fields[1].data_type().clone()),
                _ => plan_err!("element_at: malformed map type"),
            },
            _ => array_element_udf().return_type(arg_types),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !matches!(args.args[0].data_type(), DataType::Map(..)) {
            // array_element already has Trino's index rules: 1-based,
            // negative from the end, NULL when out of range.
            return array_element_udf().invoke_with_args(args);
        }
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(map) = arrays[0].as_any().downcast_ref::<MapArray>() else {
            return exec_err!("element_at: expected a map array");
        };
        let looked_up = map_lookup(map, &arrays[1])?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&looked_up, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(looked_up))
        }
    }
}

/// The value under each row's key, NULL where the map is NULL or lacks
/// the key. Keys are compared as text: CloudTrail's maps are
/// `map<string,string>`, and a text comparison serves any key type that
/// casts to it.
pub(crate) fn map_lookup(map: &MapArray, keys: &ArrayRef) -> Result<ArrayRef> {
    let map_keys = cast(map.keys(), &DataType::Utf8)?;
    let map_keys = map_keys
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8 gives a StringArray");
    let wanted = cast(keys, &DataType::Utf8)?;
    let wanted = wanted
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8 gives a StringArray");
    let offsets = map.value_offsets();
    let mut indices = Vec::with_capacity(map.len());
    for row in 0..map.len() {
        if map.is_null(row) || wanted.is_null(row) {
            indices.push(None);
            continue;
        }
        let key = wanted.value(row);
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let found =
            (start..end).find(|&entry| map_keys.is_valid(entry) && map_keys.value(entry) == key);
        indices.push(found.map(|entry| entry as u32));
    }
    Ok(take(
        map.values().as_ref(),
        &UInt32Array::from(indices),
        None,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{MapBuilder, StringBuilder};

    fn sample_map() -> MapArray {
        let mut builder = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        builder.keys().append_value("bucketName");
        builder.values().append_value("logs");
        builder.keys().append_value("key");
        builder.values().append_null();
        builder.append(true).unwrap();
        builder.append(false).unwrap();
        builder.append(true).unwrap();
        builder.finish()
    }

    #[test]
    fn looks_up_keys_row_by_row() {
        let map = sample_map();
        let cases: &[(&str, [Option<&str>; 3])] = &[
            ("bucketName", [Some("logs"), None, None]),
            ("key", [None, None, None]),
            ("absent", [None, None, None]),
        ];
        for (key, expected) in cases {
            let keys: ArrayRef = Arc::new(StringArray::from(vec![*key; 3]));
            let got = map_lookup(&map, &keys).unwrap();
            let got = got.as_any().downcast_ref::<StringArray>().unwrap();
            let got: Vec<Option<&str>> = got.iter().collect();
            assert_eq!(got, expected.to_vec(), "key {key}");
        }
    }
}
