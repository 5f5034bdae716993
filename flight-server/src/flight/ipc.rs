//! Reading Arrow IPC bytes that come from a client (bound parameters
//! travel back to us inside statement handles), without trusting them.

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;

/// Decodes untrusted Arrow IPC stream bytes. arrow-ipc 59 trusts them:
/// it allocates whatever body length a message declares (a forged length
/// of petabytes aborts the whole process), and panics on some corrupted
/// messages (a buffer offset past the body, an integer type of absurd bit
/// width). The framing is checked against the bytes' own length first,
/// and a panic is caught, so a forged handle is refused like any other.
pub fn read_ipc(bytes: &[u8]) -> std::result::Result<Vec<RecordBatch>, String> {
    check_ipc_framing(bytes)?;
    let read = || -> std::result::Result<Vec<RecordBatch>, arrow::error::ArrowError> {
        StreamReader::try_new(bytes, None)?.collect()
    };
    match std::panic::catch_unwind(read) {
        Ok(batches) => batches.map_err(|e| e.to_string()),
        Err(_) => Err("malformed Arrow IPC data".into()),
    }
}

/// Every message of an IPC stream (as `StreamReader` walks them: optional
/// continuation marker, metadata length, flatbuffer metadata, body) lies
/// within `bytes`.
fn check_ipc_framing(mut bytes: &[u8]) -> std::result::Result<(), String> {
    const CONTINUATION: [u8; 4] = [0xff; 4];
    let short = || "the Arrow IPC data ends inside a message".to_string();
    loop {
        let Some((prefix, rest)) = bytes.split_first_chunk::<4>() else {
            return Ok(()); // the reader takes a short tail as the end
        };
        let (len, rest) = if *prefix == CONTINUATION {
            let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(short)?;
            (i32::from_le_bytes(*len), rest)
        } else {
            (i32::from_le_bytes(*prefix), rest)
        };
        if len == 0 {
            return Ok(());
        }
        let len = usize::try_from(len).map_err(|_| format!("negative metadata length {len}"))?;
        let (metadata, rest) = rest.split_at_checked(len).ok_or_else(short)?;
        let message = arrow::ipc::root_as_message(metadata)
            .map_err(|e| format!("unreadable message metadata: {e}"))?;
        let body = usize::try_from(message.bodyLength())
            .ok()
            .filter(|&b| b <= rest.len())
            .ok_or_else(|| {
                format!(
                    "a message declares a body of {} bytes, {} remain",
                    message.bodyLength(),
                    rest.len()
                )
            })?;
        bytes = &rest[body..];
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::ipc::writer::StreamWriter;
    use std::sync::Arc;

    pub fn params_ipc(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = StreamWriter::try_new(&mut out, batch.schema_ref()).unwrap();
        writer.write(batch).unwrap();
        writer.finish().unwrap();
        drop(writer);
        out
    }

    pub fn two_columns(rows: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("$1", DataType::Utf8, true),
            Field::new("$2", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["x"; rows])),
                Arc::new(Int64Array::from(vec![1; rows])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn declared_body_lengths_are_checked_against_the_bytes() {
        let good = params_ipc(&two_columns(1));
        assert!(check_ipc_framing(&good).is_ok());
        // Truncating the stream cuts its last message short.
        for cut in [9, good.len() / 2, good.len() - 9] {
            let err = read_ipc(&good[..cut]).unwrap_err();
            assert!(!err.is_empty());
        }
        // A continuation marker, a length, then metadata that is not a message.
        let mut forged = vec![0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0];
        forged.extend([0xff; 8]);
        assert!(check_ipc_framing(&forged).is_err());
        let mut huge = vec![0xff, 0xff, 0xff, 0xff];
        huge.extend(i32::MAX.to_le_bytes());
        assert!(check_ipc_framing(&huge).is_err());
    }
}
