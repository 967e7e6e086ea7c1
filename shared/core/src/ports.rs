//! The small capabilities the use cases need from AWS, as traits. The core
//! sees only these and plain data; the `sparkhub-aws` crate implements them
//! with the AWS SDK, `fakes` (feature `test-util`) in memory for the tests.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::future::Future;

use crate::emr::{ClusterState, StepState};
use crate::render::StepConfig;

type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// A failed AWS call: which operation, whether trying again later may help,
/// the service's error code, and the SDK error itself as the source.
#[derive(Debug)]
pub struct AwsError {
    pub operation: &'static str,
    pub retryable: bool,
    pub code: Option<String>,
    pub source: BoxError,
}

impl AwsError {
    pub fn new(
        operation: &'static str,
        retryable: bool,
        code: Option<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self {
            operation,
            retryable,
            code,
            source: source.into(),
        }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AWS {} failed", self.operation)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if self.retryable {
            write!(f, "; this is transient, the call can be retried")?;
        }
        Ok(())
    }
}

impl Error for AwsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// What the profile store holds under a profile's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredProfile {
    /// Its text, at most [`MAX_PROFILE_BYTES`](crate::profile::MAX_PROFILE_BYTES).
    Text(String),
    /// Larger than [`MAX_PROFILE_BYTES`](crate::profile::MAX_PROFILE_BYTES) (`size` bytes, or more): refused by
    /// its size, its body not read, so one huge object cannot exhaust a
    /// function's memory.
    TooLarge { size: u64 },
}

/// Cluster profiles in `s3://$SPARKHUB_BUCKET/profiles/<name>.toml`.
pub trait ProfileStore {
    /// The profile's TOML, or `None` when there is no such object. An object
    /// larger than [`MAX_PROFILE_BYTES`](crate::profile::MAX_PROFILE_BYTES) is [`StoredProfile::TooLarge`]: at
    /// most that many bytes and one more are read of it, never the whole.
    fn read_profile(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<StoredProfile>, AwsError>> + Send;
    /// Names of every stored profile.
    fn list_profiles(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// Where the profile lives, for messages (`s3://bucket/profiles/<name>.toml`).
    fn location(&self, name: &str) -> String;
}

/// Rendered scripts under content-addressed keys.
pub trait ScriptStore {
    /// Uploads `body` to `key` unless an object is already there (the key is
    /// derived from the content, so an existing object has the same content).
    /// Returns whether it uploaded.
    fn put_if_absent(
        &self,
        key: &str,
        body: &str,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
}

/// What starting an execution did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    New(String),
    AlreadyExisted(String),
}

/// The cluster state machine.
pub trait Workflow {
    /// The ARN of the execution with this name, if there is one.
    fn find_execution(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
    /// Starts a named execution; a name already used is not an error.
    fn start_execution(
        &self,
        name: &str,
        input: &str,
    ) -> impl Future<Output = Result<Started, AwsError>> + Send;
    /// Names of the executions that are RUNNING (all pages of
    /// `ListExecutions`). Eventually consistent in AWS: a very recent start
    /// may be missing.
    fn running_executions(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// Small objects that change only when the caller still holds the version it
/// read: compare-and-swap on one key (S3 conditional writes). Serialises
/// check-then-act sections across concurrent invocations.
pub trait LeaseStore {
    /// The object's version (ETag) and body, or `None` when there is none.
    fn read(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>, AwsError>> + Send;
    /// Creates the object unless one exists (`If-None-Match: *`): its new
    /// version, or `None` when another writer was first.
    fn create(
        &self,
        key: &str,
        body: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
    /// Replaces the object if it still has `version` (`If-Match`): its new
    /// version, or `None` when it changed or is gone.
    fn replace(
        &self,
        key: &str,
        version: &str,
        body: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
}

/// One EMR cluster as `DescribeCluster` shows it: the one shape of a cluster
/// every port that describes clusters returns. (The other, [`ListedCluster`],
/// is what `ListClusters` says of all clusters in one call: no tags, no
/// protection, so the sweep describes only the clusters its listing and
/// metrics leave in question.)
///
/// The EMR capabilities stay separate ports ([`ClusterDirectory`],
/// [`ClusterSteps`], [`ClusterFleet`], [`ClusterTagger`],
/// [`ClusterUntagger`], [`ClusterInstances`]) on purpose: each function's IAM policy is derived
/// from the ports its use case imports (`shared/codegen/src/iam.rs`), so
/// create-cluster, which only counts clusters, is never allowed to
/// terminate one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub id: String,
    pub name: String,
    pub state: ClusterState,
    pub tags: BTreeMap<String, String>,
    pub termination_protected: bool,
    /// The applications installed (`JupyterHub`, `Spark`, ...).
    pub applications: Vec<String>,
    /// The master node's public DNS name, once it has one.
    pub master_dns: Option<String>,
    /// The EC2 key pair of the nodes, if the profile names one.
    pub key_name: Option<String>,
    /// EMR's timeline: when it was created, when it was first ready.
    pub created_at: Option<jiff::Timestamp>,
    pub ready_at: Option<jiff::Timestamp>,
}

impl Cluster {
    /// Carries `sparkhub:managed = true`.
    pub fn is_managed(&self) -> bool {
        self.tags
            .get(crate::render::TAG_MANAGED)
            .map(String::as_str)
            == Some("true")
    }

    /// The `sparkhub:profile` tag.
    pub fn profile(&self) -> Option<&str> {
        self.tags
            .get(crate::render::TAG_PROFILE)
            .map(String::as_str)
    }
}

/// EMR clusters.
pub trait ClusterDirectory {
    /// The clusters named `name` that are starting, bootstrapping, running or
    /// waiting, with their tags. Only those are described: the listing names
    /// every cluster of the account, the tags need one call per cluster.
    fn active_clusters(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<Cluster>, AwsError>> + Send;
    /// Marks a waiting cluster of a warm pool as held by `execution` from
    /// `at` (`AddTags` of `sparkhub:claimed-by` and `sparkhub:claimed-at`;
    /// see `crate::create::pool`).
    fn claim(
        &self,
        cluster_id: &str,
        execution: &str,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// One step of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSummary {
    pub id: String,
    pub name: String,
    pub state: StepState,
    /// Why it failed, as EMR says (its failure details, else its state
    /// change reason); `None` when EMR gives no reason.
    pub failure_reason: Option<String>,
    /// The log file EMR names for a failed step, if it names one.
    pub log_file: Option<String>,
}

/// One cluster's details and steps.
pub trait ClusterSteps {
    /// The cluster with its tags, or `None` when EMR does not know it.
    fn cluster(
        &self,
        cluster_id: &str,
    ) -> impl Future<Output = Result<Option<Cluster>, AwsError>> + Send;
    /// Every step of the cluster (all pages), newest first, as EMR's
    /// ListSteps returns them.
    fn steps(
        &self,
        cluster_id: &str,
    ) -> impl Future<Output = Result<Vec<StepSummary>, AwsError>> + Send;
    /// Adds one step; returns its id.
    fn add_step(
        &self,
        cluster_id: &str,
        step: &StepConfig,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
}

/// A secret holding a JSON object of strings (user → password). Values never
/// leave this trait except to the caller; implementations never log them.
pub trait SecretStore {
    /// The secret's current value, or `None` when there is no such secret.
    fn read(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, AwsError>> + Send;
    /// Creates the secret; `Ok(false)` when it already exists.
    fn create(
        &self,
        name: &str,
        description: &str,
        value: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// Stores a new version of the secret's value.
    fn update(
        &self,
        name: &str,
        value: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// What `ListClusters` says about a cluster, without further calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCluster {
    pub id: String,
    pub name: String,
    pub state: ClusterState,
    pub created_at: Option<jiff::Timestamp>,
    pub ready_at: Option<jiff::Timestamp>,
}

/// EMR, as the idle sweep uses it: one listing, then details only for the
/// clusters still in question, then one termination call per ten clusters.
pub trait ClusterFleet {
    /// Every active cluster (all pages of `ListClusters`).
    fn list_active(&self) -> impl Future<Output = Result<Vec<ListedCluster>, AwsError>> + Send;
    /// Tags, termination protection, applications (`DescribeCluster`).
    fn details(
        &self,
        cluster_id: &str,
    ) -> impl Future<Output = Result<Option<Cluster>, AwsError>> + Send;
    /// Steps PENDING or RUNNING (`ListSteps` with a state filter, every
    /// page) and, when there are none, when the last step that ended ended
    /// (one more `ListSteps` page: newest first).
    fn steps(
        &self,
        cluster_id: &str,
    ) -> impl Future<Output = Result<StepActivity, AwsError>> + Send;
    /// Terminates at most ten clusters (`TerminateJobFlows`).
    fn terminate(
        &self,
        cluster_ids: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// What a cluster's steps say about its activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepActivity {
    /// Steps PENDING or RUNNING.
    pub busy: usize,
    /// The latest end of a step that ended, among the newest steps.
    pub last_ended: Option<jiff::Timestamp>,
}

/// CloudWatch datapoints of one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterMetrics {
    /// EMR `IsIdle`, Minimum per period.
    pub is_idle: Vec<crate::idle::Datapoint>,
    /// The activity agent's `Busy`, Maximum per minute.
    pub busy: Vec<crate::idle::Datapoint>,
}

/// Which metrics of one cluster to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsQuery {
    pub cluster_id: String,
    /// The namespace its activity agent's samples are read from (its profile's,
    /// [`crate::idle::activity_namespace`]); `None`: none is read.
    pub activity_namespace: Option<String>,
}

/// CloudWatch metrics for many clusters at once.
pub trait MetricsSource {
    /// Datapoints per cluster id over `[start, end)`, in as few calls as the
    /// API allows.
    fn idle_metrics(
        &self,
        clusters: &[MetricsQuery],
        start: jiff::Timestamp,
        end: jiff::Timestamp,
    ) -> impl Future<Output = Result<BTreeMap<String, ClusterMetrics>, AwsError>> + Send;
}

/// One-time invocations of the sweep for named clusters (EventBridge
/// Scheduler): how a termination or warning due between two sweeps comes
/// on time.
pub trait CheckScheduler {
    /// Asks for one run of the sweep function `target_arn` over `cluster_id`
    /// at `at` (whole seconds). Asking twice for the same cluster and instant
    /// is one check.
    fn schedule_check(
        &self,
        cluster_id: &str,
        at: jiff::Timestamp,
        target_arn: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A place to tell people what sparkhub did (SNS). The operator gets every
/// message; `recipients` (`<profile>/<user>`, see [`crate::recipients`])
/// name the users it is for besides, each of whom gets it only when named.
/// Empty: the operator alone.
pub trait Notifier {
    fn notify(
        &self,
        subject: &str,
        message: &str,
        recipients: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Tags on one EMR cluster (`AddTags`). Callers only tag clusters with
/// `sparkhub:managed = true`; the IAM policies enforce it too.
pub trait ClusterTagger {
    /// Adds or overwrites these tags.
    fn add_tags(
        &self,
        cluster_id: &str,
        tags: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Removes tags from one EMR cluster (`RemoveTags`); only `sparkhub
/// keep-alive --clear` does, with the operator's own credentials.
pub trait ClusterUntagger {
    /// Removes these tag keys (keys the cluster lacks are no error).
    fn remove_tags(
        &self,
        cluster_id: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The EC2 instances of one EMR cluster (`ListInstances`); only `sparkhub
/// connect` asks, with the operator's own credentials, for the target of a
/// Session Manager port forwarding.
pub trait ClusterInstances {
    /// The EC2 instance id of the cluster's running master node (of its
    /// master instance group or fleet); `None` while it has none.
    fn master_instance(
        &self,
        cluster_id: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
}

/// The sweep's history (`s3://$SPARKHUB_BUCKET/history/`): one object per
/// termination or warning, written once.
pub trait HistoryStore {
    /// Writes `record` under [`crate::history::Record::key`].
    fn record(
        &self,
        record: &crate::history::Record,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A profile's startup times (`startups/<profile>.json`, see
/// [`crate::startup`]), read.
pub trait StartupHistory {
    /// The object's version (ETag) and body, or `None` when the profile has
    /// none yet.
    fn read_startups(
        &self,
        profile: &crate::ProfileName,
    ) -> impl Future<Output = Result<Option<(String, String)>, AwsError>> + Send;
}

/// Where setup-jupyter-users records a cluster's startup: the history
/// record, the profile's startups object (conditional writes, as
/// [`LeaseStore`]) and the CloudWatch metric.
pub trait StartupLog: StartupHistory {
    /// Writes the history record once (`If-None-Match: *`): `false` when it
    /// was there already (the cluster was WAITING before).
    fn record_startup(
        &self,
        record: &crate::history::StartupRecord,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// Writes the profile's startups object: created when `version` is
    /// `None`, else replaced if it still has that version. The new version,
    /// or `None` when another writer was first.
    fn write_startups(
        &self,
        profile: &crate::ProfileName,
        version: Option<&str>,
        body: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
    /// One datapoint of [`crate::startup::STARTUP_METRIC`] for `profile` at `at`.
    fn publish_startup(
        &self,
        profile: &crate::ProfileName,
        seconds: i64,
        at: jiff::Timestamp,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// On-demand prices of one instance type in one region, USD per
/// instance-hour: EC2 (Linux, shared tenancy) and the EMR charge billed on
/// top of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListPrice {
    pub ec2: f64,
    pub emr: f64,
}

/// AWS's public price list (the Price List Query API); only `sparkhub
/// report` asks, with the operator's own credentials.
pub trait PriceSource {
    /// The on-demand EC2 price and the EMR charge of `instance_type` in
    /// `region` (a region code, `eu-central-1`); `None` when the price list
    /// has no such product for EC2 or for EMR.
    fn list_price(
        &self,
        region: &str,
        instance_type: &str,
    ) -> impl Future<Output = Result<Option<ListPrice>, AwsError>> + Send;
}

/// Profiles' monthly spending (`budgets/<profile>/<yyyy-mm>.json`, see
/// [`crate::budget`]), compare-and-swap like [`LeaseStore`], and the
/// history record of a budget overridden.
pub trait BudgetLedger {
    /// The month's object: its version (ETag) and body, or `None`.
    fn read_month(
        &self,
        profile: &crate::ProfileName,
        month: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>, AwsError>> + Send;
    /// Creates (`version` `None`) or replaces (if it still has `version`)
    /// the month's object: the new version, or `None` when another writer
    /// was first.
    fn write_month(
        &self,
        profile: &crate::ProfileName,
        month: &str,
        version: Option<&str>,
        body: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
    /// Writes the history record of a run started past its budget.
    fn record_override(
        &self,
        record: &crate::history::BudgetOverrideRecord,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The clusters of a period in any state (`ListClusters` with
/// `CreatedAfter`) and their fleets (`ListInstanceFleets`); only `sparkhub
/// report` asks, with the operator's own credentials.
pub trait ClusterArchive {
    /// Every cluster created since `since`, as EMR lists it (its profile not
    /// yet known: `profile` is `None`, `fleets` empty).
    fn clusters_since(
        &self,
        since: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<crate::report::ClusterFacts>, AwsError>> + Send;
    /// The cluster's instance fleets with their target capacities; empty for
    /// a cluster of instance groups (EMR refuses the listing then) or when
    /// EMR gives none.
    fn fleets(
        &self,
        cluster_id: &str,
    ) -> impl Future<Output = Result<Vec<crate::report::FleetUse>, AwsError>> + Send;
}

/// The history read back (`history/` of the sparkhub bucket): the bodies of
/// the objects of the days from `since` on; only `sparkhub report` asks.
pub trait HistoryReader {
    fn history_since(
        &self,
        since: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// Profiles written to the sparkhub bucket (`profiles/<name>.toml`); only
/// `sparkhub push` writes, with the operator's own credentials.
pub trait ProfilePublisher {
    fn put_profile(
        &self,
        name: &crate::ProfileName,
        text: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// IAM instance profiles: does the one a profile's nodes need exist yet
/// (`sparkhub push` warns when not).
pub trait InstanceProfiles {
    fn instance_profile_exists(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
}

/// A deployed stack's outputs (CloudFormation), by output key.
pub trait StackOutputs {
    /// `None` when there is no stack of that name (in the region).
    fn stack_outputs(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, AwsError>> + Send;
}

/// What a synchronous Lambda invocation answered: the function's result (or
/// its error document), and whether it failed (`FunctionError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    pub payload: String,
    pub function_error: Option<String>,
}

/// Lambda functions, invoked and waited for (`sparkhub start`).
pub trait FunctionInvoker {
    fn invoke(
        &self,
        function: &str,
        payload: &str,
    ) -> impl Future<Output = Result<Invoked, AwsError>> + Send;
}

/// Where a run of the cluster workflow is (DescribeExecution and its
/// history).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunProgress {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    /// The state the run entered last.
    pub current_state: Option<String>,
    /// The cluster the run created or claimed, once it has one.
    pub cluster_id: Option<String>,
    /// A failed run: its error and cause.
    pub error: Option<String>,
}

/// Runs of the cluster workflow, read by their execution ARN (`sparkhub
/// start` follows one).
pub trait RunWatcher {
    /// `None` when there is no such execution.
    fn run_progress(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = Result<Option<RunProgress>, AwsError>> + Send;
}

/// Who the operator's credentials are (STS GetCallerIdentity, which needs
/// no permission): the history says who stopped a cluster.
pub trait CallerIdentity {
    /// The caller's ARN.
    fn caller_arn(&self) -> impl Future<Output = Result<String, AwsError>> + Send;
}
