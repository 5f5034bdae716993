//! The floor of the transfer benchmark (docs/benchmarks.md): the fastest a
//! Rust arrow-flight server on tonic can stream a result, measured to tell
//! how much of logflight's gap to a pyarrow.flight (C++) server is
//! logflight's own work (scan, DataFusion) and how much is the Rust Flight
//! stack it is built on.
//!
//! ```sh
//! logflight-flight-floor SAMPLE.arrow PORT ROWS
//! ```
//! Serves the rows of an Arrow IPC file, repeated until `ROWS` rows, for any
//! DoGet, in one of two ways chosen by the ticket:
//! - `encode`: batches encoded per request by arrow-flight's
//!   `FlightDataEncoderBuilder`, the encoder logflight uses;
//! - `pre`: messages encoded once at start and re-sent, so only tonic's
//!   framing and HTTP/2 remain.
//!
//! Prints `ready` once listening.

// A stand-alone benchmark server outside logflight's error path: its few
// refusals are plain statuses.
#![allow(clippy::disallowed_methods)]

/// The same allocator and settings as `logflight`.
#[path = "../allocator.rs"]
mod allocator;

use std::pin::Pin;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::ipc::reader::FileReader;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status, Streaming};

struct Floor {
    batches: Arc<Vec<RecordBatch>>,
    /// The schema message and, per batch, its rows and messages, encoded once.
    schema_message: FlightData,
    encoded: Arc<Vec<(usize, Vec<FlightData>)>>,
    rows: usize,
}

/// The batches to send for `rows` rows: `batches` repeated, the last one cut.
fn repeat(batches: &[RecordBatch], rows: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut left = rows;
    while left > 0 {
        for b in batches {
            if left == 0 {
                break;
            }
            let take = b.num_rows().min(left);
            out.push(b.slice(0, take));
            left -= take;
        }
    }
    out
}

type Boxed<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

fn unimplemented<T>() -> Result<T, Status> {
    Err(Status::unimplemented("the floor server answers DoGet only"))
}

#[tonic::async_trait]
impl FlightService for Floor {
    type HandshakeStream = Boxed<HandshakeResponse>;
    type ListFlightsStream = Boxed<FlightInfo>;
    type DoGetStream = Boxed<FlightData>;
    type DoPutStream = Boxed<PutResult>;
    type DoActionStream = Boxed<arrow_flight::Result>;
    type ListActionsStream = Boxed<ActionType>;
    type DoExchangeStream = Boxed<FlightData>;

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let mode = request.into_inner().ticket;
        let out: BoxStream<'static, Result<FlightData, Status>> = match &mode[..] {
            b"pre" => {
                let mut left = self.rows;
                let mut messages = vec![self.schema_message.clone()];
                // Each batch's messages, in order, until `rows` rows.
                'fill: loop {
                    for (n, batch_messages) in self.encoded.iter() {
                        if left < *n {
                            break 'fill;
                        }
                        messages.extend(batch_messages.iter().cloned());
                        left -= n;
                    }
                }
                if left > 0 {
                    return Err(Status::invalid_argument(
                        "pre: ROWS must be a multiple of the sample's batch sizes",
                    ));
                }
                stream::iter(messages.into_iter().map(Ok)).boxed()
            }
            _ => {
                let batches = repeat(&self.batches, self.rows);
                let schema = self.batches[0].schema();
                FlightDataEncoderBuilder::new()
                    .with_schema(schema)
                    .build(stream::iter(batches.into_iter().map(Ok::<_, FlightError>)))
                    .map_err(Status::from)
                    .boxed()
            }
        };
        Ok(Response::new(out))
    }

    async fn handshake(
        &self,
        _: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        unimplemented()
    }
    async fn list_flights(
        &self,
        _: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        unimplemented()
    }
    async fn get_flight_info(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        unimplemented()
    }
    async fn poll_flight_info(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        unimplemented()
    }
    async fn get_schema(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        unimplemented()
    }
    async fn do_put(
        &self,
        _: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        unimplemented()
    }
    async fn do_action(
        &self,
        _: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        unimplemented()
    }
    async fn list_actions(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        unimplemented()
    }
    async fn do_exchange(
        &self,
        _: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        unimplemented()
    }
}

impl Floor {
    /// The sample's batches, and each also encoded once.
    async fn load(path: &str, rows: usize) -> Floor {
        let file = std::fs::File::open(path).unwrap_or_else(|e| {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        });
        let reader = FileReader::try_new(file, None).expect("an Arrow IPC file");
        // Batches read from a file share one buffer per message, which the
        // encoder would count once per column and split; copy each into its
        // own buffers, as a batch built by a scan has.
        let batches: Vec<RecordBatch> = reader
            .map(|b| {
                let b = b.expect("a readable batch");
                concat_batches(&b.schema(), [&b]).expect("a copy")
            })
            .collect();
        assert!(!batches.is_empty(), "{path} has no batches");
        let schema = batches[0].schema();
        let mut encoded = Vec::new();
        let mut schema_message = None;
        for b in &batches {
            let mut messages: Vec<FlightData> = FlightDataEncoderBuilder::new()
                .with_schema(schema.clone())
                .build(stream::iter([Ok(b.clone())]))
                .try_collect()
                .await
                .expect("an encodable batch");
            schema_message = Some(messages.remove(0));
            encoded.push((b.num_rows(), messages));
        }
        Floor {
            batches: Arc::new(batches),
            schema_message: schema_message.expect("a schema message"),
            encoded: Arc::new(encoded),
            rows,
        }
    }
}

#[tokio::main]
async fn main() {
    allocator::tune();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, port, rows] = &args[..] else {
        eprintln!("usage: logflight-flight-floor SAMPLE.arrow PORT ROWS");
        std::process::exit(2);
    };
    let (port, rows): (u16, usize) = match (port.parse(), rows.parse()) {
        (Ok(p), Ok(r)) => (p, r),
        _ => {
            eprintln!("PORT and ROWS must be numbers");
            std::process::exit(2);
        }
    };
    let floor = Floor::load(path, rows).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("a free port");
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|c| {
            let _ = c.set_nodelay(true);
        })
    });
    println!("ready");
    tonic::transport::Server::builder()
        .add_service(
            FlightServiceServer::new(floor)
                .max_encoding_message_size(64 << 20)
                .max_decoding_message_size(64 << 20),
        )
        .serve_with_incoming(incoming)
        .await
        .expect("serving");
}
