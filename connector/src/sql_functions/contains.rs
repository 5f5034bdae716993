//! `contains` for arrays as well as strings.
//!
//! Trino's `contains(array, x)` tests membership; DataFusion's `contains`
//! is a substring test, and DataFusion queries may rely on it, so the
//! replacement dispatches on the first argument's type.

use arrow::datatypes::DataType;
use datafusion::common::{plan_err, Result};
use datafusion::functions::string::contains as string_contains;
use datafusion::functions_nested::array_has::array_has_udf;
use datafusion::logical_expr::type_coercion::binary::comparison_coercion;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

pub(super) fn udfs() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(Contains {
        signature: Signature::user_defined(Volatility::Immutable),
    })]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Contains {
    signature: Signature,
}

fn is_list(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

impl ScalarUDFImpl for Contains {
    fn name(&self) -> &str {
        "contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [haystack, needle] = arg_types else {
            return plan_err!("contains takes two arguments");
        };
        match haystack {
            DataType::List(field) | DataType::LargeList(field) => {
                let element = field.data_type();
                let Some(common) = comparison_coercion(element, needle) else {
                    return plan_err!("contains: cannot compare {element} with {needle}");
                };
                if &common == element {
                    Ok(vec![haystack.clone(), common])
                } else {
                    Ok(vec![DataType::new_list(common.clone(), true), common])
                }
            }
            DataType::FixedSizeList(field, _) => Ok(vec![
                DataType::new_list(field.data_type().clone(), true),
                field.data_type().clone(),
            ]),
            // DataFusion's substring test, on text.
            _ => Ok(vec![DataType::Utf8, DataType::Utf8]),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if is_list(&args.args[0].data_type()) {
            array_has_udf().invoke_with_args(args)
        } else {
            string_contains().invoke_with_args(args)
        }
    }
}
