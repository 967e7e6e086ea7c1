//! CloudWatch: the clusters' idle and activity metrics.

use std::collections::BTreeMap;

use sparkhub_core::ports::{AwsError, ClusterMetrics, MetricsQuery, MetricsSource};

use crate::{aws_error, to_jiff, to_smithy};

/// CloudWatch metrics.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    pub(crate) client: aws_sdk_cloudwatch::Client,
}

impl CloudWatch {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        Self { client }
    }
}

/// GetMetricData takes at most 500 queries; two per cluster.
pub const CLUSTERS_PER_METRICS_CALL: usize = 250;

impl MetricsSource for CloudWatch {
    async fn idle_metrics(
        &self,
        clusters: &[MetricsQuery],
        start: jiff::Timestamp,
        end: jiff::Timestamp,
    ) -> Result<BTreeMap<String, ClusterMetrics>, AwsError> {
        use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
        let query = |id: String,
                     namespace: &str,
                     name: &str,
                     (stat, period): (&str, i64),
                     cluster: &str| {
            MetricDataQuery::builder()
                .id(id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(namespace)
                                .metric_name(name)
                                .dimensions(
                                    Dimension::builder()
                                        .name("JobFlowId")
                                        .value(cluster)
                                        .build(),
                                )
                                .build(),
                        )
                        .period(period as i32)
                        .stat(stat)
                        .build(),
                )
                .return_data(true)
                .build()
        };
        let mut out: BTreeMap<String, ClusterMetrics> = BTreeMap::new();
        for chunk in clusters.chunks(CLUSTERS_PER_METRICS_CALL) {
            let mut queries = Vec::with_capacity(chunk.len() * 2);
            for (i, cluster) in chunk.iter().enumerate() {
                queries.push(query(
                    format!("idle{i}"),
                    sparkhub_core::idle::EMR_NAMESPACE,
                    sparkhub_core::idle::IS_IDLE_METRIC,
                    ("Minimum", sparkhub_core::idle::METRIC_PERIOD_SECONDS),
                    &cluster.cluster_id,
                ));
                if let Some(namespace) = &cluster.activity_namespace {
                    queries.push(query(
                        format!("nb{i}"),
                        namespace,
                        sparkhub_core::idle::AGENT_METRIC,
                        ("Maximum", sparkhub_core::idle::AGENT_PERIOD_SECONDS),
                        &cluster.cluster_id,
                    ));
                }
                out.entry(cluster.cluster_id.clone()).or_default();
            }
            let mut pages = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(queries))
                .start_time(to_smithy(start))
                .end_time(to_smithy(end))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws_error("CloudWatch GetMetricData", e))?;
                for result in page.metric_data_results() {
                    let id = result.id().unwrap_or_default();
                    let (index, notebook) = match (id.strip_prefix("idle"), id.strip_prefix("nb")) {
                        (Some(i), _) => (i, false),
                        (_, Some(i)) => (i, true),
                        _ => continue,
                    };
                    let Some(cluster) = index
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| chunk.get(i))
                        .map(|q| &q.cluster_id)
                    else {
                        continue;
                    };
                    let points = result
                        .timestamps()
                        .iter()
                        .zip(result.values())
                        .filter_map(|(t, v)| Some((to_jiff(t)?, *v)));
                    let entry = out.entry(cluster.clone()).or_default();
                    if notebook {
                        entry.busy.extend(points);
                    } else {
                        entry.is_idle.extend(points);
                    }
                }
            }
        }
        Ok(out)
    }
}
