//! Connections to the other nodes: one lazily connected channel per node,
//! over mutual TLS when the cluster has it, and errors that name the node.
//!
//! A node that died, or cannot be reached, fails the query that needed it
//! with [`ConnectorError::NodeFailed`] naming it (UNAVAILABLE); the
//! planning node keeps serving, and the channel reconnects by itself, so
//! a node that comes back is used by the next query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion_distributed::grpc::{create_worker_client, BoxCloneSyncChannel};
use datafusion_distributed::{
    ChannelResolver, CoordinatorToWorkerMsg, ExecuteTaskRequest, GetWorkerInfoRequest,
    GetWorkerInfoResponse, SetPlanRequest, WorkerChannel, WorkerToCoordinatorMsg,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use logflight_connector::ConnectorError;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use url::Url;

/// How long a node may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The channels to the other nodes.
#[derive(Clone)]
pub struct NodeChannels {
    tls: Option<ClientTlsConfig>,
    channels: Arc<Mutex<HashMap<Url, Channel>>>,
}

impl NodeChannels {
    pub fn new(tls: Option<ClientTlsConfig>) -> Self {
        Self {
            tls,
            channels: Arc::default(),
        }
    }

    fn channel(&self, url: &Url) -> Result<Channel, DataFusionError> {
        let mut channels = self.channels.lock().expect("channels lock");
        if let Some(c) = channels.get(url) {
            return Ok(c.clone());
        }
        let failed = |message: String| {
            ConnectorError::NodeFailed {
                node: url.to_string(),
                message,
            }
            .into_datafusion()
        };
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| failed(format!("bad node URL: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(super::KEEPALIVE)
            .keep_alive_timeout(super::KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.clone())
                .map_err(|e| failed(format!("TLS: {e}")))?;
        }
        let channel = endpoint.connect_lazy();
        channels.insert(url.clone(), channel.clone());
        Ok(channel)
    }
}

#[async_trait]
impl ChannelResolver for NodeChannels {
    async fn get_worker_client_for_url(
        &self,
        url: &Url,
    ) -> Result<Box<dyn WorkerChannel>, DataFusionError> {
        let channel = self.channel(url)?;
        Ok(Box::new(NamedChannel {
            node: url.to_string(),
            inner: create_worker_client(BoxCloneSyncChannel::new(channel)),
            forget: Forget {
                url: url.clone(),
                channels: Arc::clone(&self.channels),
            },
        }))
    }
}

/// The transport's failure inside `err`: a gRPC status that is not an
/// error the other node sent (those arrive decoded, as DataFusion errors).
fn transport_failure(err: &DataFusionError) -> Option<String> {
    let mut current: &(dyn std::error::Error + 'static) = err;
    loop {
        if let Some(status) = current.downcast_ref::<tonic::Status>() {
            return Some(if status.message().is_empty() {
                format!("{:?}", status.code())
            } else {
                status.message().to_string()
            });
        }
        current = match current.downcast_ref::<DataFusionError>() {
            Some(DataFusionError::External(inner)) => inner.as_ref(),
            Some(DataFusionError::Context(_, inner)) => inner.as_ref(),
            Some(DataFusionError::Shared(inner)) => inner.as_ref(),
            _ => current.source()?,
        };
    }
}

/// `err` naming `node` when the connection to it failed, then calling
/// `on_failure`; any other error (one the node sent) is left as it is.
fn name_node_and(node: &str, err: DataFusionError, on_failure: impl FnOnce()) -> DataFusionError {
    if ConnectorError::find_in(&err).is_some() {
        return err;
    }
    match transport_failure(&err) {
        Some(message) => {
            on_failure();
            ConnectorError::NodeFailed {
                node: node.to_string(),
                message,
            }
            .into_datafusion()
        }
        None => err,
    }
}

/// Drops a node's channel once its connection failed, so the next query
/// connects afresh: a node that restarted on the same address would
/// otherwise see half of a query's calls on the old connection.
#[derive(Clone)]
struct Forget {
    url: Url,
    channels: Arc<Mutex<HashMap<Url, Channel>>>,
}

impl Forget {
    fn now(&self) {
        self.channels
            .lock()
            .expect("channels lock")
            .remove(&self.url);
    }
}

/// A node's worker client whose failures name the node.
struct NamedChannel {
    node: String,
    inner: Box<dyn WorkerChannel>,
    forget: Forget,
}

impl NamedChannel {
    fn named(&self) -> impl Fn(DataFusionError) -> DataFusionError + Send + Sync + 'static {
        let node = self.node.clone();
        let forget = self.forget.clone();
        move |e| name_node_and(&node, e, || forget.now())
    }
}

#[async_trait]
impl WorkerChannel for NamedChannel {
    async fn coordinator_channel(
        &mut self,
        headers: http::HeaderMap,
        set_plan_request: SetPlanRequest,
        c2w_stream: BoxStream<'static, CoordinatorToWorkerMsg>,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> datafusion::error::Result<
        BoxStream<'static, datafusion::error::Result<WorkerToCoordinatorMsg>>,
    > {
        let named = self.named();
        let stream = self
            .inner
            .coordinator_channel(headers, set_plan_request, c2w_stream, metrics, task_ctx)
            .await
            .map_err(&named)?;
        Ok(stream.map_err(named).boxed())
    }

    async fn execute_task(
        &mut self,
        headers: http::HeaderMap,
        request: ExecuteTaskRequest,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> datafusion::error::Result<Vec<BoxStream<'static, datafusion::error::Result<RecordBatch>>>>
    {
        let named = self.named();
        let streams = self
            .inner
            .execute_task(headers, request, metrics, task_ctx)
            .await
            .map_err(&named)?;
        Ok(streams
            .into_iter()
            .map(|s| s.map_err(self.named()).boxed())
            .collect())
    }

    async fn get_worker_info(
        &mut self,
        request: GetWorkerInfoRequest,
    ) -> datafusion::error::Result<GetWorkerInfoResponse> {
        let named = self.named();
        self.inner.get_worker_info(request).await.map_err(named)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // What the transport gives (the one Status not built from a ServerError).
    #[allow(clippy::disallowed_methods)]
    fn transport_failures_name_the_node() {
        let err = DataFusionError::External(Box::new(tonic::Status::unavailable(
            "tcp connect error: Connection refused",
        )));
        let named = name_node_and("https://10.0.0.3:50052/", err, || {});
        let found = ConnectorError::find_in(&named).expect("a connector error");
        assert!(
            found
                .to_string()
                .contains("cluster node https://10.0.0.3:50052/ failed"),
            "{found}"
        );
        assert!(found.to_string().contains("Connection refused"), "{found}");
    }

    /// An error the other node sent (a throttled read, a bad value) keeps
    /// its own type and message.
    #[test]
    fn errors_from_the_node_stay_themselves() {
        let throttled = ConnectorError::Throttled {
            api: "GetLogEvents",
            attempts: 8,
            message: "Rate exceeded".into(),
        };
        let named = name_node_and("n", throttled.clone().into_datafusion(), || {});
        assert_eq!(
            ConnectorError::find_in(&named).unwrap().to_string(),
            throttled.to_string()
        );
        let plain = DataFusionError::Execution("Divide by zero error".into());
        let named = name_node_and("n", plain, || panic!("not a transport failure"));
        assert!(ConnectorError::find_in(&named).is_none());
    }
}
