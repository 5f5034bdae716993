//! Stateless tickets and prepared-statement handles.
//!
//! A handle carries everything DoGet needs (the SQL and any bound parameter
//! row as Arrow IPC), so the server keeps no per-statement state: nothing to
//! leak, nothing lost on restart, and any replica can serve a ticket. The
//! statement is planned again in DoGet, which is cheap next to reading logs.

use arrow::array::RecordBatch;
use arrow::ipc::writer::StreamWriter;
use datafusion::common::{ParamValues, ScalarValue};
use prost::Message;

use super::ipc::read_ipc;

use crate::error::{Result, ServerError};

/// Marks our handles so foreign or corrupted bytes are refused early.
const MAGIC: &[u8] = b"logflight.v1:";
/// Refuse absurd handles before decoding them.
const MAX_HANDLE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone, PartialEq, Message)]
pub struct QueryHandle {
    #[prost(string, tag = "1")]
    pub sql: String,
    /// One row of parameter values, Arrow IPC stream encoded.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub params: Option<Vec<u8>>,
    /// Random bytes that make each prepared statement's handle its own:
    /// the parameters bound for clients that execute their original handle
    /// are found by it (`bindings.rs`), and two clients preparing the same
    /// SQL must never find each other's.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub nonce: Option<Vec<u8>>,
}

impl QueryHandle {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: None,
            nonce: None,
        }
    }

    /// The handle of a new prepared statement: unique to it.
    pub fn prepared(sql: String) -> Result<Self> {
        let mut nonce = vec![0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|e| ServerError::Internal(format!("no randomness for a handle: {e}")))?;
        Ok(Self {
            nonce: Some(nonce),
            ..Self::for_sql(sql)?
        })
    }

    /// A handle for `sql`, or a limit error when it could not be read back
    /// (refused at GetFlightInfo rather than with a ticket DoGet rejects).
    pub fn for_sql(sql: String) -> Result<Self> {
        if sql.len() + MAGIC.len() + 8 > MAX_HANDLE_BYTES {
            return Err(ServerError::Limit(format!(
                "a statement of {} bytes is larger than the {MAX_HANDLE_BYTES} bytes a statement handle may hold",
                sql.len()
            )));
        }
        Ok(Self::new(sql))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        self.encode(&mut out).expect("a Vec grows as needed");
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_HANDLE_BYTES {
            return Err(ServerError::Limit(format!(
                "a statement handle of {} bytes (SQL text and parameters) is larger than the {MAX_HANDLE_BYTES} bytes allowed",
                bytes.len()
            )));
        }
        let body = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| ServerError::InvalidTicket("not a logflight statement handle".into()))?;
        QueryHandle::decode(body)
            .map_err(|e| ServerError::InvalidTicket(format!("corrupted statement handle: {e}")))
    }

    /// Binds the parameters of a DoPut: exactly one row.
    pub fn with_params(mut self, batches: &[RecordBatch]) -> Result<Self> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows != 1 {
            return Err(ServerError::InvalidParameters(format!(
                "a query takes exactly one row of parameters, got {rows}"
            )));
        }
        let batch = batches
            .iter()
            .find(|b| b.num_rows() == 1)
            .expect("one row in total");
        let mut out = Vec::new();
        let mut writer = StreamWriter::try_new(&mut out, batch.schema_ref())?;
        writer.write(batch)?;
        writer.finish()?;
        drop(writer);
        self.params = Some(out);
        Ok(self)
    }

    /// The bound parameters as DataFusion positional values (`$1`, `$2`, ...).
    ///
    /// The bytes come back from the client, so they are checked as any
    /// input: a handle is only ever written with one row (`with_params`),
    /// and one with none or several is forged or corrupted.
    pub fn param_values(&self) -> Result<Option<ParamValues>> {
        let Some(bytes) = &self.params else {
            return Ok(None);
        };
        let batches = read_ipc(bytes)
            .map_err(|e| ServerError::InvalidTicket(format!("corrupted parameters: {e}")))?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let Some(batch) = batches
            .iter()
            .find(|b| b.num_rows() == 1)
            .filter(|_| rows == 1)
        else {
            return Err(ServerError::InvalidParameters(format!(
                "a query takes exactly one row of parameters, the handle holds {rows}"
            )));
        };
        let values = batch
            .columns()
            .iter()
            .map(|column| {
                ScalarValue::try_from_array(column.as_ref(), 0)
                    .map_err(|e| ServerError::InvalidParameters(e.strip_backtrace()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(ParamValues::from(values)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flight::ipc::tests::{params_ipc, two_columns};
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use proptest::prelude::*;
    use std::sync::Arc;

    #[test]
    fn handles_round_trip_with_parameters() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("$1", DataType::Utf8, true),
            Field::new("$2", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(Int64Array::from(vec![7])),
            ],
        )
        .unwrap();
        let handle = QueryHandle::new("SELECT $1, $2")
            .with_params(&[batch])
            .unwrap();
        let back = QueryHandle::from_bytes(&handle.to_bytes()).unwrap();
        assert_eq!(back, handle);
        let ParamValues::List(values) = back.param_values().unwrap().unwrap() else {
            panic!("positional values expected")
        };
        assert_eq!(values.len(), 2);
        assert_eq!(values[0].value, ScalarValue::Utf8(Some("a".into())));
        assert_eq!(values[1].value, ScalarValue::Int64(Some(7)));
    }

    #[test]
    fn foreign_or_broken_bytes_are_refused() {
        for bytes in [
            &b""[..],
            b"SELECT 1",
            b"logflight.v1:\xff\xff\xff",
            &[0u8; 40],
        ] {
            assert!(matches!(
                QueryHandle::from_bytes(bytes),
                Err(ServerError::InvalidTicket(_))
            ));
        }
    }

    /// The parameter row of a handle, as `with_params` writes it.
    /// A forged handle whose parameters are not one row is refused (as
    /// `with_params` refuses them), not read past its end or half-used.
    #[test]
    fn forged_parameter_rows_are_refused() {
        for rows in [0, 2, 5] {
            let handle = QueryHandle {
                sql: "SELECT $1, $2".into(),
                params: Some(params_ipc(&two_columns(rows))),
                nonce: None,
            };
            let back = QueryHandle::from_bytes(&handle.to_bytes()).unwrap();
            match back.param_values() {
                Err(ServerError::InvalidParameters(m)) => {
                    assert!(m.contains("one row"), "{rows} rows: {m}")
                }
                other => panic!("{rows} rows: {other:?}"),
            }
        }
        // No batch at all: only a schema.
        let mut only_schema = Vec::new();
        StreamWriter::try_new(&mut only_schema, &two_columns(1).schema())
            .unwrap()
            .finish()
            .unwrap();
        let handle = QueryHandle {
            sql: "SELECT $1".into(),
            params: Some(only_schema),
            nonce: None,
        };
        assert!(matches!(
            handle.param_values(),
            Err(ServerError::InvalidParameters(_))
        ));
    }

    /// A message declaring a body far larger than the bytes is refused
    /// before anything allocates it.
    /// What decoding untrusted bytes may give: a handle, or one of the two
    /// errors that map to INVALID_ARGUMENT.
    fn decode_and_bind(bytes: &[u8]) -> Result<(), TestCaseError> {
        let handle = match QueryHandle::from_bytes(bytes) {
            Ok(handle) => handle,
            Err(ServerError::InvalidTicket(_)) => return Ok(()),
            Err(other) => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert!(bytes.starts_with(MAGIC));
        match handle.param_values() {
            Ok(Some(ParamValues::List(values))) => {
                prop_assert!(handle.params.is_some());
                prop_assert!(values.len() < 1 << 20);
            }
            Ok(None) => prop_assert!(handle.params.is_none()),
            Ok(Some(other)) => return Err(TestCaseError::fail(format!("{other:?}"))),
            Err(ServerError::InvalidTicket(_) | ServerError::InvalidParameters(_)) => {}
            Err(other) => {
                return Err(TestCaseError::fail(format!(
                    "parameters of a forged handle gave {other:?} (code {:?})",
                    other.code()
                )))
            }
        }
        // A handle that decodes encodes back to bytes that decode to it.
        prop_assert_eq!(QueryHandle::from_bytes(&handle.to_bytes()).unwrap(), handle);
        Ok(())
    }

    fn valid_handles() -> impl Strategy<Value = Vec<u8>> {
        let sql = prop_oneof![
            Just(String::new()),
            Just("SELECT $1, $2".to_string()),
            "\\PC{0,40}",
        ];
        (sql, any::<bool>(), 0usize..3).prop_map(|(sql, with_params, rows)| {
            let mut handle = QueryHandle::new(sql);
            if with_params {
                handle.params = Some(params_ipc(&two_columns(rows.max(1))));
            }
            handle.to_bytes()
        })
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(usize, u8),
        Truncate(usize),
        Insert(usize, u8),
        Remove(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
            any::<usize>().prop_map(Mutation::Remove),
        ]
    }

    fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
        for m in mutations {
            let n = bytes.len();
            match *m {
                Mutation::Flip(i, x) if n > 0 => bytes[i % n] ^= x,
                Mutation::Truncate(i) => bytes.truncate(i % (n + 1)),
                Mutation::Insert(i, x) => bytes.insert(i % (n + 1), x),
                Mutation::Remove(i) if n > 0 => {
                    bytes.remove(i % n);
                }
                _ => {}
            }
        }
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 3000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            decode_and_bind(&bytes)?;
        }

        #[test]
        fn random_bytes_after_the_prefix_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..600)
        ) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend(body);
            decode_and_bind(&bytes)?;
        }

        #[test]
        fn mutated_handles_never_panic(
            handle in valid_handles(),
            mutations in proptest::collection::vec(mutation(), 1..6)
        ) {
            decode_and_bind(&mutate(handle, &mutations))?;
        }

        /// A valid handle whose parameter bytes are mutated: the parameters
        /// are refused or read, never a panic or a non-client error.
        #[test]
        fn mutated_parameters_never_panic(
            mutations in proptest::collection::vec(mutation(), 1..6)
        ) {
            let handle = QueryHandle {
                sql: "SELECT $1, $2".into(),
                params: Some(mutate(params_ipc(&two_columns(1)), &mutations)),
                nonce: None,
            };
            decode_and_bind(&handle.to_bytes())?;
        }
    }
}
