//! What a node runs for the other nodes: logflight's scans and the
//! row-wise work above them, nothing else.
//!
//! The worker port takes only other nodes (mutual TLS), but a plan is code:
//! this check is the second wall. A plan that reads files other than the
//! archive's Parquet parts, writes anything, or holds any node a
//! placement never sends is refused before it runs.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::{FileScanConfig, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::limit::LocalLimitExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_distributed::{
    WorkerPlanRewriteEvent, WorkerPlanRewriteEventResponse, WorkerPlanRewriteHandler,
};

use super::placement::passes_through;
use crate::scan::LogScanExec;

/// Why `node` may not run here, if it may not.
fn refusal(node: &dyn ExecutionPlan, archives: &[ObjectStoreUrl]) -> Option<String> {
    if node.is::<LogScanExec>() || node.is::<CooperativeExec>() || node.is::<LocalLimitExec>() {
        return None;
    }
    if passes_through(node) {
        return None;
    }
    if let Some(source) = node.downcast_ref::<DataSourceExec>() {
        let Some(files) = source.data_source().downcast_ref::<FileScanConfig>() else {
            return Some("a data source that is not the archive's files".into());
        };
        if files
            .file_source()
            .downcast_ref::<ParquetSource>()
            .is_none()
        {
            return Some("files that are not Parquet".into());
        }
        if !archives.contains(&files.object_store_url) {
            return Some(format!(
                "files outside this node's archives ({})",
                files.object_store_url.as_str()
            ));
        }
        return None;
    }
    Some(format!(
        "{} is not a scan or a scan's row-wise work",
        node.name()
    ))
}

/// Checks a plan sent by another node; `archives` are the store URLs of
/// this node's archive roots.
pub fn check_remote_plan(plan: &Arc<dyn ExecutionPlan>, archives: &[ObjectStoreUrl]) -> Result<()> {
    let mut refused = None;
    plan.apply(|node| {
        if let Some(why) = refusal(node.as_ref(), archives) {
            refused = Some(why);
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    match refused {
        None => Ok(()),
        Some(why) => Err(DataFusionError::Plan(format!(
            "this node runs only logflight's scans for the other nodes of its cluster; refused: {why}"
        ))),
    }
}

/// The check as a worker's plan hook.
#[derive(Debug, Clone)]
pub struct AdmitScansOnly {
    pub archives: Vec<ObjectStoreUrl>,
}

impl WorkerPlanRewriteHandler for AdmitScansOnly {
    fn rewrite_worker_plan(
        &self,
        ev: WorkerPlanRewriteEvent,
    ) -> Result<WorkerPlanRewriteEventResponse> {
        check_remote_plan(&ev.plan, &self.archives)?;
        Ok(WorkerPlanRewriteEventResponse::new(ev.plan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::log_schema;
    use crate::model::ReadRequest;
    use crate::scan::ScanTotals;
    use crate::source::demo::DemoSource;
    use datafusion::datasource::physical_plan::{CsvSource, FileScanConfigBuilder};
    use datafusion::physical_expr::expressions::lit;
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion::physical_plan::filter::FilterExec;

    fn scan() -> Arc<dyn ExecutionPlan> {
        Arc::new(
            LogScanExec::try_new(
                "c",
                Arc::new(DemoSource::new()),
                Arc::new(ScanTotals::default()),
                ReadRequest::whole_group("g"),
                vec![],
                None,
            )
            .unwrap(),
        )
    }

    fn files(url: &str, parquet: bool) -> Arc<dyn ExecutionPlan> {
        let schema = log_schema();
        let url = ObjectStoreUrl::parse(url).unwrap();
        let config = if parquet {
            FileScanConfigBuilder::new(url, Arc::new(ParquetSource::new(schema)))
        } else {
            FileScanConfigBuilder::new(url, Arc::new(CsvSource::new(schema)))
        };
        DataSourceExec::from_data_source(config.build())
    }

    /// Table: what another node may and may not have run here.
    #[test]
    fn only_scans_and_their_row_wise_work_are_admitted() {
        let archive = ObjectStoreUrl::parse("logflight-archive://a1").unwrap();
        let filtered: Arc<dyn ExecutionPlan> =
            Arc::new(FilterExec::try_new(lit(true), scan()).unwrap());
        let cases: Vec<(Arc<dyn ExecutionPlan>, Option<&str>)> = vec![
            (scan(), None),
            (filtered, None),
            (files("logflight-archive://a1", true), None),
            (files("file://", true), Some("outside this node's archives")),
            (files("logflight-archive://a1", false), Some("not Parquet")),
            (
                Arc::new(EmptyExec::new(log_schema())),
                Some("EmptyExec is not a scan"),
            ),
        ];
        for (plan, refused) in cases {
            let got = check_remote_plan(&plan, std::slice::from_ref(&archive));
            match refused {
                None => assert!(got.is_ok(), "{}: {got:?}", plan.name()),
                Some(why) => {
                    let err = got.unwrap_err().to_string();
                    assert!(err.contains(why), "{}: {err}", plan.name());
                }
            }
        }
    }
}
