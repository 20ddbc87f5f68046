//! What one query may take: memory (DataFusion's memory pool, sorts and aggregates spilling to
//! disk where DataFusion supports it) and time (a deadline on every stream of the plan).
//!
//! The deadline is a physical optimiser rule that puts a [`Deadline`] at the root of every
//! plan the session runs, so every interface that executes the query (HTTP, Postgres, the CLI,
//! `EXPLAIN ANALYZE`) gets it without doing anything; when it fires the reader gets the error
//! at once, and the work is aborted at its next yield point.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, RecordBatchStream,
    SendableRecordBatchStream,
};
use futures::{Stream, StreamExt};

/// The limits of one query; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryLimits {
    /// Bytes of memory the query's operators may hold (past it they spill or fail).
    pub memory_bytes: Option<usize>,
    /// How long the query may run, from the start of its execution.
    pub timeout: Option<Duration>,
}

/// Puts a [`Deadline`] at the root of a plan.
#[derive(Debug)]
pub(crate) struct DeadlineRule {
    pub timeout: Duration,
}

impl PhysicalOptimizerRule for DeadlineRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if plan.name() == DEADLINE {
            return Ok(plan);
        }
        Ok(Arc::new(Deadline {
            properties: plan.properties().clone(),
            input: plan,
            timeout: self.timeout,
        }))
    }

    fn name(&self) -> &str {
        "agora_query_deadline"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

const DEADLINE: &str = "QueryDeadline";

/// Runs its input and fails its streams once `timeout` has passed since they started.
#[derive(Debug)]
struct Deadline {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    timeout: Duration,
}

impl DisplayAs for Deadline {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "QueryDeadline: {} s", self.timeout.as_secs_f64())
    }
}

impl ExecutionPlan for Deadline {
    fn name(&self) -> &str {
        DEADLINE
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(Deadline {
                properties: input.properties().clone(),
                input,
                timeout: self.timeout,
            })),
            _ => datafusion::common::internal_err!("QueryDeadline has one child"),
        }
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        // The input runs in a task of its own: an operator that computes for long without
        // yielding would otherwise keep the timer from being looked at; this way the reader
        // gets its error on time, and dropping the stream aborts the task.
        let mut input = self.input.execute(partition, context)?;
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.input.schema(), 2);
        let tx = builder.tx();
        builder.spawn(async move {
            while let Some(batch) = input.next().await {
                if tx.send(batch).await.is_err() {
                    break;
                }
            }
            Ok(())
        });
        Ok(Box::pin(DeadlineStream {
            schema: self.input.schema(),
            input: Some(builder.build()),
            timer: Box::pin(tokio::time::sleep(self.timeout)),
            timeout: self.timeout,
        }))
    }
}

struct DeadlineStream {
    schema: SchemaRef,
    /// Dropped (cancelling its work) once the deadline passes.
    input: Option<SendableRecordBatchStream>,
    timer: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl Stream for DeadlineStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(input) = self.input.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(item) = input.as_mut().poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.input = None;
            return Poll::Ready(Some(Err(DataFusionError::ResourcesExhausted(format!(
                "the query ran longer than its limit of {} s and was stopped",
                self.timeout.as_secs_f64()
            )))));
        }
        Poll::Pending
    }
}

impl RecordBatchStream for DeadlineStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
