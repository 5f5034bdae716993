//! Results and schemas as Flight messages: the one place record batches
//! become `FlightData`, and FlightInfo gets its schema and ticket.

use std::pin::Pin;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions};
use arrow_flight::{
    FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc, Ticket,
};
use futures::{stream, Stream, StreamExt, TryStreamExt};
use tonic::Status;

use crate::error::{Result, ServerError};

/// A response stream of a streaming RPC.
pub type BoxedStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The largest Flight message logflight sends: gRPC clients refuse
/// messages past 4 MiB by default, and headers and padding need room.
const MAX_MESSAGE_BYTES: usize = 2 * 1024 * 1024;

/// `batches` as Flight data, in the encoding `ipc` sets (compression). An
/// error ends the stream with that error's own status.
pub fn encode<S>(schema: SchemaRef, batches: S, ipc: IpcWriteOptions) -> BoxedStream<FlightData>
where
    S: Stream<Item = Result<RecordBatch, ServerError>> + Send + 'static,
{
    let mut encoder = Encoder::new(&schema, ipc);
    let head: FlightData = SchemaAsIpc::new(&encoder.schema, &encoder.options).into();
    let body = batches
        .map(move |batch| encoder.encode(batch?))
        .map_ok(|messages| stream::iter(messages.into_iter().map(Ok::<_, ServerError>)))
        .try_flatten();
    Box::pin(
        stream::once(async { Ok::<_, ServerError>(head) })
            .chain(body)
            .map_err(Status::from),
    )
}

/// Encodes the batches of one result as arrow-flight's encoder does
/// (dictionaries sent as their values, batches cut to fit a gRPC
/// message), but keeps one IPC write context for the whole stream with
/// its body buffer reserved at the size the last batch needed. arrow-flight
/// starts every batch's body empty and grows it by doubling, and those
/// copies were an eighth of the server's CPU streaming a large result.
struct Encoder {
    schema: SchemaRef,
    options: IpcWriteOptions,
    generator: IpcDataGenerator,
    dictionaries: DictionaryTracker,
    context: IpcWriteContext,
}

impl Encoder {
    fn new(schema: &Schema, options: IpcWriteOptions) -> Self {
        let mut context = IpcWriteContext::default();
        context.set_reserve_scratch(true);
        Self {
            schema: Arc::new(wire_schema(schema)),
            options,
            generator: IpcDataGenerator::default(),
            dictionaries: DictionaryTracker::new(false),
            context,
        }
    }

    fn encode(&mut self, batch: RecordBatch) -> Result<Vec<FlightData>> {
        let batch = self.hydrate(batch)?;
        let mut messages = Vec::new();
        for piece in split(&batch) {
            let (dictionaries, data) = self.generator.encode(
                &piece,
                &mut self.dictionaries,
                &self.options,
                &mut self.context,
            )?;
            messages.extend(dictionaries.into_iter().map(FlightData::from));
            messages.push(FlightData::from(data));
        }
        Ok(messages)
    }

    /// The batch with its dictionary columns as their values, as the
    /// wire schema says.
    fn hydrate(&self, batch: RecordBatch) -> Result<RecordBatch> {
        if batch.schema().fields() == self.schema.fields() {
            return Ok(batch);
        }
        let columns = batch
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(column, field)| cast(column, field.data_type()))
            .collect::<Result<Vec<_>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }
}

/// `batch` in slices of at most about [`MAX_MESSAGE_BYTES`] (no copy).
fn split(batch: &RecordBatch) -> Vec<RecordBatch> {
    let bytes: usize = batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_buffer_memory_size())
        })
        .sum();
    let pieces = bytes.div_ceil(MAX_MESSAGE_BYTES).max(1);
    let rows = batch.num_rows();
    if pieces == 1 || rows <= 1 {
        return vec![batch.clone()];
    }
    let per_piece = rows.div_ceil(pieces);
    (0..rows)
        .step_by(per_piece)
        .map(|start| batch.slice(start, per_piece.min(rows - start)))
        .collect()
}

/// A result's schema as clients receive it: dictionary-encoded fields, at
/// any depth, as their value types. Flight clients differ in what they do
/// with dictionaries; values they all read.
pub fn wire_schema(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema.fields().iter().map(|f| wire_field(f)).collect();
    Schema::new(fields).with_metadata(schema.metadata().clone())
}

fn wire_field(field: &Field) -> Field {
    field.clone().with_data_type(wire_type(field.data_type()))
}

fn wire_type(data_type: &DataType) -> DataType {
    let inner = |f: &FieldRef| Arc::new(wire_field(f));
    match data_type {
        DataType::Dictionary(_, values) => wire_type(values),
        DataType::List(f) => DataType::List(inner(f)),
        DataType::LargeList(f) => DataType::LargeList(inner(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(inner(f), *n),
        DataType::Map(f, sorted) => DataType::Map(inner(f), *sorted),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(inner).collect()),
        other => other.clone(),
    }
}

/// One batch (a metadata answer) as Flight data.
pub fn one_batch(batch: RecordBatch) -> BoxedStream<FlightData> {
    encode(
        batch.schema(),
        stream::once(async { Ok(batch) }),
        IpcWriteOptions::default(),
    )
}

/// A schema as the IPC bytes FlightInfo, SchemaResult and prepared
/// statements carry.
pub fn schema_bytes(schema: &Schema) -> Result<bytes::Bytes> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default()).try_into()?;
    Ok(bytes)
}

/// A FlightInfo of one endpoint with no location: the client fetches the
/// ticket from the server it asked.
pub fn flight_info(
    schema: &Schema,
    ticket: Ticket,
    descriptor: FlightDescriptor,
    ordered: bool,
) -> Result<FlightInfo> {
    Ok(FlightInfo::new()
        .try_with_schema(schema)?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor)
        .with_ordered(ordered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, DictionaryArray, Int32Array, StringArray};
    use arrow::datatypes::Int32Type;
    use arrow_flight::decode::FlightRecordBatchStream;

    fn batch(rows: usize) -> RecordBatch {
        let words: DictionaryArray<Int32Type> =
            (0..rows).map(|i| ["a", "bb", "ccc"][i % 3]).collect();
        let text = StringArray::from_iter_values(
            (0..rows).map(|i| format!("row {i:08} {}", "x".repeat(60))),
        );
        RecordBatch::try_from_iter(vec![
            ("word", Arc::new(words) as _),
            (
                "n",
                Arc::new(Int32Array::from_iter_values(0..rows as i32)) as _,
            ),
            ("text", Arc::new(text) as _),
        ])
        .unwrap()
    }

    #[tokio::test]
    async fn results_arrive_whole_without_dictionaries_in_messages_that_fit() {
        let batches = vec![batch(10), batch(100_000), batch(0), batch(7)];
        let schema = batches[0].schema();
        let flight = encode(
            Arc::clone(&schema),
            stream::iter(batches.clone().into_iter().map(Ok)),
            IpcWriteOptions::default(),
        );
        let messages: Vec<FlightData> = flight.try_collect().await.unwrap();
        assert!(
            messages.len() > 5,
            "the large batch is cut: {}",
            messages.len()
        );
        assert!(messages
            .iter()
            .all(|m| m.data_body.len() <= MAX_MESSAGE_BYTES + 64 * 1024));
        let decoded = FlightRecordBatchStream::new_from_flight_data(stream::iter(
            messages.into_iter().map(Ok),
        ));
        let got: Vec<RecordBatch> = decoded.try_collect().await.unwrap();
        let wire = wire_schema(&schema);
        assert_eq!(wire.field(0).data_type(), &DataType::Utf8);
        let rows: usize = got.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 100_017);
        let want = arrow::compute::concat_batches(
            &Arc::new(wire.clone()),
            &batches
                .iter()
                .map(|b| {
                    Encoder::new(&schema, IpcWriteOptions::default())
                        .hydrate(b.clone())
                        .unwrap()
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let got = arrow::compute::concat_batches(&Arc::new(wire), &got).unwrap();
        assert_eq!(got, want);
        assert_eq!(
            got.column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(4),
            "bb"
        );
    }

    #[test]
    fn nested_dictionaries_become_their_values() {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Schema::new(vec![Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", dict, true))),
            true,
        )]);
        assert_eq!(
            wire_schema(&schema).field(0).data_type(),
            &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
        );
    }
}
