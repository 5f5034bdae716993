//! The Flight service tonic serves: each RPC takes its caller (put into the
//! request by the authentication layer), decodes its bytes once into a
//! [`Command`] and hands both to the [`Router`]. Errors become gRPC
//! statuses only through `ServerError`'s one mapping.
//!
//! It serves Flight SQL clients (ADBC, JDBC) and plain Flight clients
//! alike: a DoGet ticket or a GetFlightInfo command whose bytes are SQL
//! text rather than a Flight SQL message runs that SQL.

use std::sync::Arc;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use futures::{stream, StreamExt, TryStreamExt};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use super::command::Command;
use super::encode::BoxedStream;
use super::handshake::Handshake;
use super::router::Router;
use crate::auth::{AuthError, Caller};
use crate::error::{Result, ServerError};
use crate::query::QueryContext;

/// The service registered with tonic.
#[derive(Debug, Clone)]
pub struct LogflightService {
    router: Arc<Router>,
    handshake: Arc<Handshake>,
}

impl LogflightService {
    pub fn new(router: Router, handshake: Handshake) -> Self {
        Self {
            router: Arc::new(router),
            handshake: Arc::new(handshake),
        }
    }
}

/// The caller the authentication layer put into the request, or an
/// anonymous one (which a server with authentication on refuses).
fn context<T>(request: &Request<T>, rpc: &'static str) -> QueryContext {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller {
            principal: None,
            addr: request.remote_addr(),
        });
    QueryContext::new(caller, rpc)
}

fn not_served<T>(rpc: &str) -> Result<T, Status> {
    Err(ServerError::Unsupported(format!(
        "{rpc} is not supported: ask for a statement's FlightInfo (GetFlightInfo with SQL) and DoGet its ticket"
    ))
    .into())
}

async fn handshake(
    service: &LogflightService,
    request: Request<Streaming<HandshakeRequest>>,
) -> Result<Response<BoxedStream<HandshakeResponse>>> {
    let ctx = context(&request, "Handshake");
    let authorization = match request.metadata().get("authorization") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| AuthError::Malformed("the header is not ASCII"))?
                .to_string(),
        ),
    };
    let mut messages = request.into_inner();
    let first = async move { messages.message().await.map_err(ServerError::from) };
    let token = service
        .handshake
        .token(&ctx, authorization.as_deref(), first)
        .await?;
    let header: MetadataValue<_> = format!("Bearer {token}")
        .parse()
        .map_err(|_| ServerError::Internal("the token is not a valid header value".into()))?;
    let reply = HandshakeResponse {
        protocol_version: 0,
        payload: token.into_bytes().into(),
    };
    let mut response = Response::new(Box::pin(stream::iter([Ok(reply)])) as BoxedStream<_>);
    response.metadata_mut().insert("authorization", header);
    Ok(response)
}

/// DoPut: the first message names the command; the batches follow.
async fn do_put(
    service: &LogflightService,
    request: Request<Streaming<FlightData>>,
) -> Result<Response<BoxedStream<PutResult>>> {
    let ctx = context(&request, "DoPut");
    let mut data = request.into_inner().peekable();
    let first = std::pin::Pin::new(&mut data).peek().await.cloned();
    let descriptor = match first {
        None => {
            return Err(ServerError::Unsupported(
                "Unhandled Error: Command is missing.".into(),
            ))
        }
        Some(first) => first?.flight_descriptor.ok_or_else(|| {
            ServerError::Unsupported("Unhandled Error: Flight descriptor is missing.".into())
        })?,
    };
    let command = Command::from_descriptor(&descriptor)?;
    let batches: Vec<_> =
        FlightRecordBatchStream::new_from_flight_data(data.map_err(FlightError::from))
            .try_collect()
            .await
            .map_err(|e| ServerError::InvalidParameters(e.to_string()))?;
    let app_metadata = service.router.do_put(&ctx, command, &batches)?;
    let result = PutResult {
        app_metadata: app_metadata.into(),
    };
    Ok(Response::new(Box::pin(stream::iter([Ok(result)]))))
}

#[tonic::async_trait]
impl FlightService for LogflightService {
    type HandshakeStream = BoxedStream<HandshakeResponse>;
    type ListFlightsStream = BoxedStream<FlightInfo>;
    type DoGetStream = BoxedStream<FlightData>;
    type DoPutStream = BoxedStream<PutResult>;
    type DoActionStream = BoxedStream<arrow_flight::Result>;
    type ListActionsStream = BoxedStream<ActionType>;
    type DoExchangeStream = BoxedStream<FlightData>;

    async fn handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Ok(handshake(self, request).await?)
    }

    async fn list_flights(
        &self,
        _request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        not_served("ListFlights")
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ctx = context(&request, "GetFlightInfo");
        let descriptor = request.into_inner();
        let command = Command::from_descriptor(&descriptor)?;
        let info = self.router.flight_info(&ctx, command, descriptor).await?;
        Ok(Response::new(info))
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        not_served("PollFlightInfo")
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        let ctx = context(&request, "GetSchema");
        let command = Command::from_descriptor(request.get_ref())?;
        Ok(Response::new(self.router.schema(&ctx, command).await?))
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let ctx = context(&request, "DoGet");
        let command = Command::decode(&request.get_ref().ticket)?;
        Ok(Response::new(self.router.do_get(&ctx, command).await?))
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        Ok(do_put(self, request).await?)
    }

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        let ctx = context(&request, "DoAction");
        let action = request.into_inner();
        let command = Command::from_action(&action.r#type, &action.body)?;
        let results = self.router.do_action(&ctx, command).await?;
        let results = results
            .into_iter()
            .map(|body| Ok(arrow_flight::Result { body: body.into() }));
        Ok(Response::new(Box::pin(stream::iter(results))))
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        let actions = Router::actions().into_iter().map(Ok);
        Ok(Response::new(Box::pin(stream::iter(actions))))
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        not_served("DoExchange")
    }
}
