//! Results and schemas as Flight messages: the one place record batches
//! become `FlightData`, and FlightInfo gets its schema and ticket.

use std::pin::Pin;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::{
    FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, IpcMessage, SchemaAsIpc, Ticket,
};
use futures::{stream, Stream, TryStreamExt};
use tonic::Status;

use crate::error::{Result, ServerError};

/// A response stream of a streaming RPC.
pub type BoxedStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// `batches` as Flight data, in the encoding `ipc` sets (compression). An
/// error ends the stream with that error's own status.
pub fn encode<S>(schema: SchemaRef, batches: S, ipc: IpcWriteOptions) -> BoxedStream<FlightData>
where
    S: Stream<Item = Result<RecordBatch, ServerError>> + Send + 'static,
{
    let batches = batches.map_err(|e| FlightError::ExternalError(Box::new(e)));
    Box::pin(
        FlightDataEncoderBuilder::new()
            .with_options(ipc)
            .with_schema(schema)
            .build(batches)
            .map_err(|e| Status::from(ServerError::from(e))),
    )
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
