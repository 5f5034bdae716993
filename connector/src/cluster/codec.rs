//! logflight's plan nodes as plain data, for the nodes of a cluster.
//!
//! A scan travels as its catalog's name, its log group, the read plan of
//! each partition and its projection; the node that runs it rebuilds it
//! over its own catalog of that name ([`NodeCatalogs`], from its own
//! configuration). Nothing else crosses: no credentials, no AWS client,
//! no cached listing. A typed table's decoding travels as its format
//! ([`FormatSpec`]), the archive's marker as what it reads.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};

use super::placement::ClusterLayout;
use super::NodeCatalogs;
use crate::archive::exec::{ArchiveRead, ArchiveScanExec};
use crate::archive::layout::Day;
use crate::formats::FormatSpec;
use crate::model::ReadRequest;
use crate::scan::LogScanExec;
use crate::typed_scan::TypedDecodeExec;
use crate::typed_table::typed_schema;

/// Bumped when the form changes: nodes of two versions refuse each
/// other's plans with a message instead of misreading them.
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
enum Node {
    LogScan {
        catalog: String,
        /// The account and region the planning node's catalog reads: the
        /// running node's catalog of that name must read the same.
        account: String,
        request: ReadRequest,
        reads: Vec<ReadRequest>,
        projection: Option<Vec<usize>>,
    },
    TypedDecode {
        group: String,
        format: FormatSpec,
        /// The typed table's columns the output has, by name.
        columns: Vec<String>,
        limit: Option<usize>,
        pushed: Vec<String>,
    },
    ArchiveScan {
        group: String,
        days: Vec<i64>,
        parts: usize,
        rows: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    version: u32,
    node: Node,
}

/// The codec of logflight's plan nodes; registered on every node.
#[derive(Debug, Default)]
pub struct LogflightCodec;

fn encode(plan: &dyn ExecutionPlan) -> Result<Node> {
    if let Some(scan) = plan.downcast_ref::<LogScanExec>() {
        return Ok(Node::LogScan {
            catalog: scan.catalog().to_string(),
            account: scan.source().account_key(),
            request: scan.request().clone(),
            reads: scan.reads().to_vec(),
            projection: scan.projection().map(<[usize]>::to_vec),
        });
    }
    if let Some(typed) = plan.downcast_ref::<TypedDecodeExec>() {
        return Ok(Node::TypedDecode {
            group: typed.group().to_string(),
            format: typed.format().spec(),
            columns: typed
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            limit: typed.limit(),
            pushed: typed.pushed().to_vec(),
        });
    }
    if let Some(archive) = plan.downcast_ref::<ArchiveScanExec>() {
        let read = archive.read();
        return Ok(Node::ArchiveScan {
            group: read.group.clone(),
            days: read.days.iter().map(|d| d.0).collect(),
            parts: read.parts,
            rows: read.rows,
        });
    }
    Err(DataFusionError::NotImplemented(format!(
        "{} cannot run on another node of the cluster",
        plan.name()
    )))
}

fn decode(
    node: Node,
    inputs: &[Arc<dyn ExecutionPlan>],
    ctx: &TaskContext,
) -> Result<Arc<dyn ExecutionPlan>> {
    let one_input = || -> Result<Arc<dyn ExecutionPlan>> {
        match inputs {
            [input] => Ok(Arc::clone(input)),
            _ => Err(DataFusionError::Internal(format!(
                "expected one input, got {}",
                inputs.len()
            ))),
        }
    };
    Ok(match node {
        Node::LogScan {
            catalog,
            account,
            request,
            reads,
            projection,
        } => {
            let config = ctx.session_config();
            let catalogs = config.get_extension::<NodeCatalogs>().ok_or_else(|| {
                DataFusionError::Internal("a scan arrived at a node without catalogs".into())
            })?;
            let catalog = catalogs.get(&catalog)?;
            let here = catalog.source().account_key();
            if here != account {
                return Err(DataFusionError::Plan(format!(
                    "catalog {:?} reads {account} on the planning node but {here} here: every node of a cluster needs the same [[catalogs]]",
                    catalog.name()
                )));
            }
            if let Some(layout) = config.get_extension::<ClusterLayout>() {
                let owner = layout.owner_of(&account);
                if owner != layout.me() {
                    return Err(DataFusionError::Plan(format!(
                        "a scan of {account} was sent to {} but its owner is {owner}: every node of a cluster needs the same node list",
                        layout.me()
                    )));
                }
            }
            Arc::new(LogScanExec::try_new(
                catalog.name(),
                Arc::clone(catalog.source()),
                catalog.shared_totals(),
                request,
                reads,
                projection.as_deref(),
            )?)
        }
        Node::TypedDecode {
            group,
            format,
            columns,
            limit,
            pushed,
        } => {
            let kind = format.kind();
            let format = format.build().map_err(DataFusionError::Plan)?;
            let (schema, all) = typed_schema(kind, format.as_ref());
            let indices = columns
                .iter()
                .map(|c| schema.index_of(c))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let projected = Arc::new(schema.project(&indices)?);
            let columns = indices.iter().map(|&i| all[i]).collect();
            Arc::new(TypedDecodeExec::new(
                one_input()?,
                format,
                group,
                columns,
                projected,
                limit,
                pushed,
            ))
        }
        Node::ArchiveScan {
            group,
            days,
            parts,
            rows,
        } => Arc::new(ArchiveScanExec::new(
            ArchiveRead {
                group,
                days: days.into_iter().map(Day).collect(),
                parts,
                rows,
            },
            one_input()?,
        )),
    })
}

impl PhysicalExtensionCodec for LogflightCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let envelope: Envelope = serde_json::from_slice(buf).map_err(|e| {
            DataFusionError::Plan(format!("a plan from another node cannot be read: {e}"))
        })?;
        if envelope.version != VERSION {
            return Err(DataFusionError::Plan(format!(
                "a plan from a node of another logflight version (plan form {}, this node {VERSION}): run one version across the cluster",
                envelope.version
            )));
        }
        decode(envelope.node, inputs, ctx)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let envelope = Envelope {
            version: VERSION,
            node: encode(node.as_ref())?,
        };
        serde_json::to_writer(buf, &envelope).map_err(|e| DataFusionError::External(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ReadApi, StreamSelection, TimeRange};

    fn request() -> ReadRequest {
        ReadRequest {
            group: "/aws/lambda/orders".into(),
            streams: StreamSelection::Prefix("2026/11/24/[$LATEST]".into()),
            time: TimeRange::new(Some(1_764_000_000_000), Some(1_764_000_999_999)),
            filter_pattern: Some("{ $.level = \"ERROR\" }".into()),
            limit: Some(10),
            require_streams: true,
            api: ReadApi::GetLogEvents,
        }
    }

    /// Table: each node form survives the round trip through its bytes.
    #[test]
    fn nodes_round_trip_as_plain_data() {
        let nodes = vec![
            Node::LogScan {
                catalog: "prod-eu".into(),
                account: "cloudwatch|https://logs.eu-west-1.amazonaws.com|eu-west-1|arn".into(),
                request: request(),
                reads: vec![request(), ReadRequest::whole_group("g")],
                projection: Some(vec![0, 3]),
            },
            Node::TypedDecode {
                group: "vpc".into(),
                format: FormatSpec::FlowLogs {
                    layout: "${version} ${account-id} ${srcaddr}".into(),
                },
                columns: vec!["srcaddr".into()],
                limit: None,
                pushed: vec!["srcaddr = '10.0.0.1'".into()],
            },
            Node::ArchiveScan {
                group: "g".into(),
                days: vec![20_000, 20_001],
                parts: 3,
                rows: 99,
            },
        ];
        for node in nodes {
            let bytes = serde_json::to_vec(&Envelope {
                version: VERSION,
                node,
            })
            .unwrap();
            let back: Envelope = serde_json::from_slice(&bytes).unwrap();
            let again = serde_json::to_vec(&back).unwrap();
            assert_eq!(bytes, again);
        }
    }

    /// What travels names no credentials: the form has no field for them.
    #[test]
    fn a_scan_carries_no_secrets() {
        let node = Node::LogScan {
            catalog: "c".into(),
            account: "demo".into(),
            request: request(),
            reads: vec![request()],
            projection: None,
        };
        let text = serde_json::to_string(&node).unwrap();
        for word in ["secret", "token", "credential", "role", "key"] {
            assert!(!text.to_lowercase().contains(word), "{word} in {text}");
        }
    }
}
