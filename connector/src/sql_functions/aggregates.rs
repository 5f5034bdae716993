//! Trino aggregates Lake queries use that DataFusion lacks: `count_if`,
//! `arbitrary`, `max_by` and `min_by`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::functions_aggregate::first_last::first_value_udaf;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

pub(super) fn udafs() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::from(CountIf {
            signature: Signature::exact(vec![DataType::Boolean], Volatility::Immutable),
        }),
        // Trino's arbitrary returns any non-NULL value of the group;
        // first_value is one such (any value, NULLs included unless
        // IGNORE NULLS, so this is close rather than exact).
        first_value_udaf()
            .as_ref()
            .clone()
            .with_aliases(["arbitrary"]),
        AggregateUDF::from(ValueBy::new(Extreme::Max)),
        AggregateUDF::from(ValueBy::new(Extreme::Min)),
    ]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CountIf {
    signature: Signature,
}

impl AggregateUDFImpl for CountIf {
    fn name(&self) -> &str {
        "count_if"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CountIfAccumulator(0)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "count"),
            DataType::Int64,
            false,
        ))])
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(0)))
    }
}

#[derive(Debug)]
struct CountIfAccumulator(i64);

impl Accumulator for CountIfAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let flags = values[0]
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("signature is Boolean");
        // true_count counts set bits that are also valid: NULL is not true.
        self.0 += flags.true_count() as i64;
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = states[0]
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("state is Int64");
        self.0 += counts.iter().flatten().sum::<i64>();
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.0)))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(Some(self.0))])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Extreme {
    Max,
    Min,
}

/// `max_by(x, y)` / `min_by(x, y)`: the `x` of the row with the largest
/// (smallest) non-NULL `y`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ValueBy {
    extreme: Extreme,
    signature: Signature,
}

impl ValueBy {
    fn new(extreme: Extreme) -> Self {
        Self {
            extreme,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for ValueBy {
    fn name(&self) -> &str {
        match self.extreme {
            Extreme::Max => "max_by",
            Extreme::Min => "min_by",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [value, _] => Ok(value.clone()),
            _ => plan_err!("{} takes a value and a key", self.name()),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let value_type = args.return_field.data_type();
        let key_type = args.exprs[1].data_type(args.schema)?;
        Ok(Box::new(ValueByAccumulator {
            extreme: self.extreme,
            value: ScalarValue::try_from(value_type)?,
            key: ScalarValue::try_from(&key_type)?,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "value"),
                args.return_field.data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "key"),
                args.input_fields[1].data_type().clone(),
                true,
            )),
        ])
    }
}

#[derive(Debug)]
struct ValueByAccumulator {
    extreme: Extreme,
    value: ScalarValue,
    key: ScalarValue,
}

impl ValueByAccumulator {
    fn offer(&mut self, values: &ArrayRef, keys: &ArrayRef) -> Result<()> {
        for row in 0..keys.len() {
            if keys.is_null(row) {
                continue;
            }
            let key = ScalarValue::try_from_array(keys, row)?;
            let better = self.key.is_null()
                || match self.extreme {
                    Extreme::Max => key > self.key,
                    Extreme::Min => key < self.key,
                };
            if better {
                self.value = ScalarValue::try_from_array(values, row)?;
                self.key = key;
            }
        }
        Ok(())
    }
}

impl Accumulator for ValueByAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.offer(&values[0], &values[1])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.offer(&states[0], &states[1])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value.clone(), self.key.clone()])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size() + self.key.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    #[test]
    fn count_if_counts_true_only() {
        let mut acc = CountIfAccumulator(0);
        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
        ]));
        acc.update_batch(&[flags]).unwrap();
        let partial: ArrayRef = Arc::new(Int64Array::from(vec![Some(3), None]));
        acc.merge_batch(&[partial]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(5)));
    }

    #[test]
    fn value_by_picks_extreme_non_null_key() {
        let values: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c", "d"]));
        let keys: ArrayRef = Arc::new(Int64Array::from(vec![Some(2), None, Some(5), Some(1)]));
        for (extreme, expected) in [(Extreme::Max, "c"), (Extreme::Min, "d")] {
            let mut acc = ValueByAccumulator {
                extreme,
                value: ScalarValue::Utf8(None),
                key: ScalarValue::Int64(None),
            };
            acc.update_batch(&[Arc::clone(&values), Arc::clone(&keys)])
                .unwrap();
            assert_eq!(
                acc.evaluate().unwrap(),
                ScalarValue::from(expected),
                "{extreme:?}"
            );
        }
    }
}
