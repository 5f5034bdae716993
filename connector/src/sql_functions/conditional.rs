//! Trino's `if(condition, then[, else])`.
//!
//! It is rewritten into `CASE` during simplification so that only the
//! chosen branch is evaluated, as in Trino: `if(n = 0, 0, x / n)` must not
//! fail on the rows where `n` is zero.

use arrow::compute::kernels::zip::zip;
use arrow::datatypes::DataType;
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::type_coercion::binary::type_union_resolution;
use datafusion::logical_expr::{
    when, ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

pub(super) fn udfs() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(If {
        signature: Signature::user_defined(Volatility::Immutable),
    })]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct If {
    signature: Signature,
}

impl ScalarUDFImpl for If {
    fn name(&self) -> &str {
        "if"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let branches = match arg_types {
            [_, branches @ ..] if (1..=2).contains(&branches.len()) => branches,
            _ => return plan_err!("if takes a condition and one or two values"),
        };
        let Some(common) = type_union_resolution(branches) else {
            return plan_err!("if: branches of types {branches:?} have no common type");
        };
        let mut coerced = vec![DataType::Boolean];
        coerced.extend(branches.iter().map(|_| common.clone()));
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[1].clone())
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let mut args = args.into_iter();
        let (Some(condition), Some(then)) = (args.next(), args.next()) else {
            return plan_err!("if takes a condition and one or two values");
        };
        let mut case = when(condition, then);
        let case = match args.next() {
            Some(otherwise) => case.otherwise(otherwise)?,
            None => case.end()?,
        };
        Ok(ExprSimplifyResult::Simplified(case))
    }

    /// Only reached when simplification is skipped; evaluates both
    /// branches.
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let condition = arrays[0]
            .as_any()
            .downcast_ref::<arrow::array::BooleanArray>()
            .expect("condition coerced to Boolean");
        let otherwise = match arrays.get(2) {
            Some(array) => array.clone(),
            None => ScalarValue::try_from(arrays[1].data_type())?.to_array_of_size(rows)?,
        };
        Ok(ColumnarValue::Array(zip(
            condition, &arrays[1], &otherwise,
        )?))
    }
}
