//! Cluster profiles: the TOML a team writes, parsed strictly and validated as a whole.
//!
//! Parsing (`serde` + `toml`) into a [`RawProfile`] rejects unknown keys and
//! wrong types; [`RawProfile::validate`] then checks every field, reports
//! **all** problems at once, each naming the field and what is allowed, and
//! turns the strings into their types: a [`Profile`] carries a
//! [`ProfileName`], [`UserName`]s and S3 locations, so nobody downstream
//! parses them again. Only a validated [`Profile`] can be rendered.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{EmailAddress, ProfileName, S3Location, S3Uri, UserName};

#[path = "profile_keys.rs"]
pub mod keys;

/// The EMR release a profile gets when it names none: a current emr-7 release.
pub const DEFAULT_RELEASE_LABEL: &str = "emr-7.10.0";

/// A cluster profile as written in `profiles/<name>.toml`: its shape is
/// checked, its values are not yet ([`RawProfile::validate`] does).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RawProfile {
    /// Profile name; also the `sparkhub:profile` tag and the key in S3.
    /// Required (the defaults of required keys only let parsing go on to
    /// report every problem at once; see [`REQUIRED_KEYS`]).
    #[serde(default)]
    pub name: String,
    /// `interactive` (JupyterHub for people; kept alive until idle) or
    /// `pipeline` (run the steps, then terminate).
    #[serde(default)]
    pub kind: ProfileKind,
    /// EMR release label, `emr-6.x.y` or `emr-7.x.y`.
    #[serde(default = "default_release_label")]
    pub release_label: String,
    /// EMR applications, by their EMR names (`Spark`, `JupyterHub`, ...). Required.
    #[serde(default)]
    pub applications: Vec<String>,
    /// Python packages installed by a bootstrap action on every node.
    #[serde(default)]
    pub python_packages: Vec<String>,
    /// JupyterHub (PAM) users created once the cluster is up.
    #[serde(default)]
    pub users: Vec<String>,
    /// E-mail addresses of some of the `users` (`[emails]`, user →
    /// address): where the sweep's warnings and termination notices about
    /// this profile's clusters reach them.
    #[serde(default)]
    pub emails: BTreeMap<String, String>,
    /// EC2 key pair for SSH to the master node; without one, use SSM.
    #[serde(default)]
    pub key_name: Option<String>,
    /// Where EMR writes its logs; defaults to `s3://<sparkhub bucket>/logs/`.
    #[serde(default)]
    pub log_uri: Option<String>,
    /// Bucket for JupyterHub notebooks; defaults to the sparkhub bucket.
    #[serde(default)]
    pub notebook_bucket: Option<String>,
    /// Subnets the instance fleets may use (EMR picks one). EMR's managed
    /// policy v2 launches only into subnets tagged
    /// `for-use-with-amazon-emr-managed-policies = true`.
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    /// S3 locations the cluster's nodes may read and write beyond sparkhub's
    /// own (scripts, logs, notebooks): what its steps and notebooks use. The
    /// profile's instance role grants exactly these.
    #[serde(default)]
    pub access: RawAccess,
    /// Required: `[fleets.master]` and `[fleets.core]`.
    #[serde(default)]
    pub fleets: Fleets,
    #[serde(default)]
    pub idle: IdlePolicy,
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// Extra tags on the cluster. Keys starting with `sparkhub:` or `aws:` are reserved.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Pipeline steps, run in order once the cluster is ready.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    /// S3 locations whose new objects start a run of this profile.
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    /// At most this many active managed clusters of the profile; a trigger
    /// beyond it starts nothing. Default: 1 for interactive profiles,
    /// [`DEFAULT_PIPELINE_LIMIT`] for pipelines.
    #[serde(default)]
    pub max_active_clusters: Option<u32>,
    /// A warm pool: a pipeline run takes a waiting cluster of the profile
    /// instead of creating one, and leaves it for the next run.
    #[serde(default)]
    pub pool: Option<Pool>,
    /// EventBridge events (other than S3's) that start a run.
    #[serde(default)]
    pub event_triggers: Vec<EventTrigger>,
    /// A monthly budget (see `crate::budget`).
    #[serde(default)]
    pub budget: Option<Budget>,
}

/// `[budget]`: what a profile may spend in a calendar month.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Budget {
    #[serde(default)]
    pub monthly_usd: u32,
    #[serde(default = "default_alerts")]
    pub alert_percent: Vec<u32>,
}

fn default_alerts() -> Vec<u32> {
    vec![50, 80, 100]
}

/// `[pool]`: how many clusters a pipeline profile keeps warm and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Pool {
    /// At most this many clusters of the profile, running a run or waiting
    /// for one; runs beyond them wait for one to be free.
    #[serde(default = "default_pool_clusters")]
    pub max_clusters: u32,
    /// A cluster with no run for this long is terminated by the idle sweep.
    #[serde(default = "default_pool_idle")]
    pub idle_minutes: u32,
}

fn default_pool_clusters() -> u32 {
    2
}
fn default_pool_idle() -> u32 {
    15
}

/// An EventBridge event pattern that starts a run: the event's `source`,
/// its `detail-type`, and optionally a pattern over its `detail` (JSON, as
/// EventBridge writes patterns).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EventTrigger {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub detail_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl EventTrigger {
    /// The rule's event pattern.
    pub fn pattern(&self) -> serde_json::Value {
        let mut pattern = serde_json::json!({
            "source": [self.source],
            "detail-type": [self.detail_type],
        });
        if let Ok(detail) = serde_json::from_str::<serde_json::Value>(&self.detail) {
            pattern["detail"] = detail;
        }
        pattern
    }
}

/// `{event:<path>}` in a step argument: the value at `path` (dot-separated
/// keys or array indices) of the event that started the run.
pub const EVENT_PLACEHOLDER_PREFIX: &str = "{event:";

/// The path of a whole `{event:<path>}` argument, if `arg` is one.
pub fn event_path(arg: &str) -> Option<&str> {
    arg.strip_prefix(EVENT_PLACEHOLDER_PREFIX)?
        .strip_suffix('}')
}

fn is_event_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// Whether `pattern` is an EventBridge pattern over a detail: an object
/// whose values are arrays (the values to match) or such objects.
fn is_detail_pattern(pattern: &serde_json::Value) -> bool {
    match pattern {
        serde_json::Value::Object(fields) => fields.values().all(|v| match v {
            serde_json::Value::Array(values) => !values.is_empty(),
            serde_json::Value::Object(_) => is_detail_pattern(v),
            _ => false,
        }),
        _ => false,
    }
}

/// A validated cluster profile (see [`RawProfile`] for what each key means):
/// made by [`Profile::parse`] or [`RawProfile::validate`] only, its names and
/// S3 locations already parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: ProfileName,
    pub kind: ProfileKind,
    pub release_label: String,
    pub applications: Vec<String>,
    pub python_packages: Vec<String>,
    pub users: Vec<UserName>,
    /// The users' addresses; every key is one of `users`.
    pub emails: BTreeMap<UserName, EmailAddress>,
    pub key_name: Option<String>,
    pub log_uri: Option<S3Uri>,
    pub notebook_bucket: Option<String>,
    pub subnet_ids: Vec<String>,
    pub access: Access,
    pub fleets: Fleets,
    pub idle: IdlePolicy,
    pub schedule: Option<Schedule>,
    pub tags: BTreeMap<String, String>,
    pub steps: Vec<StepSpec>,
    pub triggers: Vec<Trigger>,
    pub max_active_clusters: Option<u32>,
    pub pool: Option<Pool>,
    pub event_triggers: Vec<EventTrigger>,
    pub budget: Option<Budget>,
}

/// New objects in `bucket` whose key starts with `prefix` (and ends with
/// `suffix`, when given) start a run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Trigger {
    #[serde(default)]
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
}

impl Trigger {
    pub fn matches(&self, bucket: &str, key: &str) -> bool {
        self.bucket == bucket && key.starts_with(&self.prefix) && key.ends_with(&self.suffix)
    }
}

fn default_release_label() -> String {
    DEFAULT_RELEASE_LABEL.to_owned()
}

/// S3 locations (`s3://bucket/` or `s3://bucket/prefix/`) a profile's nodes
/// may read, and may read and write. Every notebook user on the cluster can
/// use the node's credentials, so these are granted to the profile's own
/// instance role only, never to another profile's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    /// Locations the nodes may read (list and get).
    pub read: Vec<S3Location>,
    /// Locations the nodes may read and write (list, get, put, delete).
    pub write: Vec<S3Location>,
}

impl Access {
    /// Whether `uri` lies inside a readable (or writable) location.
    pub fn can_read(&self, uri: &S3Uri) -> bool {
        self.read.iter().chain(&self.write).any(|l| l.contains(uri))
    }
}

/// `[access]` as written: `s3://` strings, checked by [`RawProfile::validate`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct RawAccess {
    #[serde(default)]
    pub read: Vec<String>,
    #[serde(default)]
    pub write: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileKind {
    #[default]
    Interactive,
    Pipeline,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Fleets {
    #[serde(default)]
    pub master: Fleet,
    #[serde(default)]
    pub core: Fleet,
    #[serde(default)]
    pub task: Option<Fleet>,
}

/// One EMR instance fleet: the instance types EMR may choose from and the
/// on-demand and spot capacity (in instances; every type has weight 1).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Fleet {
    #[serde(default)]
    pub instance_types: Vec<String>,
    #[serde(default)]
    pub on_demand: u32,
    #[serde(default)]
    pub spot: u32,
}

/// When a cluster counts as unused, and how long it may live at most.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IdlePolicy {
    /// Minutes without steps, Spark work or notebook activity before termination.
    #[serde(default = "default_idle_timeout")]
    pub timeout_minutes: u32,
    /// Minutes after the cluster became ready during which it is never idle.
    #[serde(default = "default_grace")]
    pub grace_minutes: u32,
    /// Hours after which the cluster is terminated whatever its activity.
    #[serde(default = "default_max_lifetime")]
    pub max_lifetime_hours: u32,
    /// Minutes before the sweep terminates the cluster (idle or at its
    /// maximum lifetime) that it warns, once per idle period; 0: never.
    #[serde(default = "default_warn")]
    pub warn_minutes: u32,
}

fn default_idle_timeout() -> u32 {
    60
}
fn default_grace() -> u32 {
    30
}
fn default_max_lifetime() -> u32 {
    12
}
fn default_warn() -> u32 {
    15
}

impl Default for IdlePolicy {
    fn default() -> Self {
        Self {
            timeout_minutes: default_idle_timeout(),
            grace_minutes: default_grace(),
            max_lifetime_hours: default_max_lifetime(),
            warn_minutes: default_warn(),
        }
    }
}

/// An EventBridge Scheduler schedule in an IANA time zone: `cron`, when a
/// run starts, or `ready_by`, when its cluster must be ready.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Schedule {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cron: String,
    /// `cron(...)` of the instants people arrive: the schedule fires
    /// [`READY_BY_SCHEDULE_LEAD`] earlier, and the run waits until its
    /// profile's startup p95 and a margin before it (see
    /// [`crate::startup`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ready_by: String,
    #[serde(default)]
    pub timezone: String,
}

/// How much earlier than `ready_by` the schedule fires: the longest lead
/// a run can take (a startup p95 plus the margin beyond it starts late, and
/// the report shows it). The run itself waits in the workflow until its
/// lead.
pub const READY_BY_SCHEDULE_LEAD: jiff::SignedDuration = jiff::SignedDuration::from_mins(60);

impl Schedule {
    pub fn is_ready_by(&self) -> bool {
        !self.ready_by.is_empty()
    }

    /// The expression the EventBridge schedule fires on: `cron`, or
    /// `ready_by` moved [`READY_BY_SCHEDULE_LEAD`] earlier.
    pub fn fire_expression(&self) -> Result<String, String> {
        if self.is_ready_by() {
            cron_earlier(&self.ready_by, READY_BY_SCHEDULE_LEAD.as_mins())
        } else {
            Ok(self.cron.clone())
        }
    }
}

/// `expr` (a valid EventBridge cron) `minutes` earlier on the same day:
/// its minute must be one number and its hours numbers (`8`, `8,14`);
/// an instant that would move to the day before is refused, as the day
/// fields cannot be moved with it in general (`L`, `W`, `#`).
pub fn cron_earlier(expr: &str, minutes: i64) -> Result<String, String> {
    let body = expr
        .strip_prefix("cron(")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("{expr:?} is not an EventBridge cron expression"))?;
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!("{expr:?} does not have 6 fields"));
    }
    let minute: i64 = fields[0].parse().map_err(|_| {
        format!(
            "{expr:?}: a ready_by's minute must be one number (like 0 or 30), not {:?}: sparkhub moves it {minutes} minutes earlier to start the run",
            fields[0]
        )
    })?;
    let hours: Vec<i64> = fields[1]
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| {
            format!(
                "{expr:?}: a ready_by's hours must be numbers (like 8 or 8,14), not {:?}: sparkhub moves them {minutes} minutes earlier to start the run",
                fields[1]
            )
        })?;
    let mut moved_hours = Vec::new();
    let mut moved_minute = 0;
    for h in &hours {
        let at = h * 60 + minute - minutes;
        if at < 0 {
            return Err(format!(
                "{expr:?}: ready at {h:02}:{minute:02} means starting the day before, which sparkhub cannot write as one schedule; choose a ready_by from {:02}:{:02} on, or use cron",
                minutes / 60,
                minutes % 60
            ));
        }
        moved_hours.push((at / 60).to_string());
        moved_minute = at % 60;
    }
    Ok(format!(
        "cron({moved_minute} {} {})",
        moved_hours.join(","),
        fields[2..].join(" ")
    ))
}

/// One pipeline step. `{object}` in `args` is replaced by the `s3://` URI of
/// the object that triggered the run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StepSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_jar")]
    pub jar: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub action_on_failure: ActionOnFailure,
}

fn default_jar() -> String {
    "command-runner.jar".to_owned()
}

/// What EMR does when a step fails; serialized as EMR spells it, in a
/// profile, an event's steps and the workflow's input alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionOnFailure {
    Continue,
    #[default]
    CancelAndWait,
    TerminateCluster,
}

impl ActionOnFailure {
    pub fn as_emr(self) -> &'static str {
        match self {
            Self::Continue => "CONTINUE",
            Self::CancelAndWait => "CANCEL_AND_WAIT",
            Self::TerminateCluster => "TERMINATE_CLUSTER",
        }
    }
}

impl fmt::Display for ActionOnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_emr())
    }
}

/// One thing wrong with a profile: the field and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a profile, in field order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// `max_active_clusters` of a pipeline profile that sets none: enough for a
/// few batches at once, few enough that a burst of uploads cannot start a
/// fleet. Interactive profiles default to 1.
pub const DEFAULT_PIPELINE_LIMIT: u32 = 5;

/// Instance types per fleet: EMR's limit without an allocation strategy.
pub const MAX_INSTANCE_TYPES_PER_FLEET: usize = 5;
/// Instances per fleet and purchase option that validation accepts.
pub const MAX_FLEET_CAPACITY: u32 = 1_000;

/// EMR application names sparkhub accepts (as EMR spells them).
pub const KNOWN_APPLICATIONS: &[&str] = &[
    "Delta",
    "Flink",
    "Ganglia",
    "HBase",
    "HCatalog",
    "Hadoop",
    "Hive",
    "Hudi",
    "Hue",
    "Iceberg",
    "JupyterEnterpriseGateway",
    "JupyterHub",
    "Livy",
    "Oozie",
    "Phoenix",
    "Pig",
    "Presto",
    "Spark",
    "Sqoop",
    "Tez",
    "Trino",
    "Zeppelin",
    "ZooKeeper",
];

/// The largest profile sparkhub reads. A profile is a few hundred bytes; the
/// limit keeps one huge object under `profiles/` from exhausting a
/// function's memory, and is checked before parsing.
pub const MAX_PROFILE_BYTES: usize = 256 * 1024;

/// The characters of a `key_name` besides ASCII letters and digits: EC2's
/// for key pair names, without `;&{}!$*`, which mean something to the shell
/// (`sparkhub connect` prints the key's file name in a command).
pub const KEY_PAIR_NAME_PUNCTUATION: &str = " ._-:/()#,@[]+=";

const KEY_PAIR_NAME_RULE: &str = "a key pair name sparkhub accepts: 1 to 255 ASCII letters, digits, spaces (not first or last) and ._-:/()#,@[]+= (EC2 also allows ;&{}!$*, which sparkhub refuses as the shell's)";

/// Whether `name` is a key pair name sparkhub accepts (see
/// [`KEY_PAIR_NAME_PUNCTUATION`]).
pub fn is_key_pair_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && !name.starts_with(' ')
        && !name.ends_with(' ')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || KEY_PAIR_NAME_PUNCTUATION.as_bytes().contains(&b))
}

/// Why a text is not a valid profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileParseError {
    /// Larger than [`MAX_PROFILE_BYTES`]; not parsed at all.
    #[error("{size} bytes; a profile has at most {MAX_PROFILE_BYTES} bytes")]
    TooLarge { size: usize },
    /// Not TOML at all.
    #[error("not TOML: {0}")]
    NotToml(String),
    /// TOML, but not a valid profile: every unknown, missing, mistyped and
    /// invalid key, each naming its field.
    #[error("{0}")]
    Invalid(ValidationErrors),
}

/// Formats a serde_ignored path as the profile's field names are written in
/// messages: `fleets.master.colour`, `steps[1].nmae`.
fn ignored_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let parent = ignored_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// Formats a serde_path_to_error path the same way.
fn error_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    if out.is_empty() {
        "(profile)".into()
    } else {
        out
    }
}

/// The required keys missing from a parsed TOML table. A key below an
/// optional section (`schedule.cron`, `steps[].name`) is required only when
/// the section is there: the walk stops at an absent parent.
fn missing_keys(table: &toml::Table) -> Vec<String> {
    fn walk(table: &toml::Table, parts: &[&str], at: &str, out: &mut Vec<String>) {
        let Some((first, rest)) = parts.split_first() else {
            return;
        };
        let (key, each) = match first.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (*first, false),
        };
        let field = if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        };
        match table.get(key) {
            None if !each && rest.is_empty() => out.push(field),
            Some(toml::Value::Array(items)) if each => {
                for (i, item) in items.iter().enumerate() {
                    if let toml::Value::Table(inner) = item {
                        walk(inner, rest, &format!("{field}[{i}]"), out);
                    }
                }
            }
            Some(toml::Value::Table(inner)) => walk(inner, rest, &field, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for key in keys::required() {
        let parts: Vec<&str> = key.split('.').collect();
        walk(table, &parts, "", &mut out);
    }
    out
}

impl Profile {
    /// Parses and validates a profile: every problem at once.
    pub fn parse(text: &str) -> Result<Self, ProfileParseError> {
        Self::parse_with(text, |_| {})
    }

    /// Parses, applies `adjust` (a run's overrides), and validates: the
    /// overrides are checked like the profile itself, and every problem of
    /// shape and value is reported at once.
    pub fn parse_with(
        text: &str,
        adjust: impl FnOnce(&mut RawProfile),
    ) -> Result<Self, ProfileParseError> {
        let (mut raw, mut problems, defaulted) = RawProfile::read(text)?;
        adjust(&mut raw);
        // `users` of the wrong kind is empty now: its addresses would all
        // look like strangers'.
        let users_written = !defaulted.iter().any(|f| f == "users");
        match raw.check(users_written) {
            Ok(profile) if problems.is_empty() => return Ok(profile),
            Ok(_) => {}
            Err(ValidationErrors(errors)) => {
                // A missing key's default would also be reported as a bad
                // value: a field reported already is not reported again.
                // Nor is a section whose value of the wrong kind was
                // replaced by its default (that default would make the
                // section look wrong: a master fleet of 0 instances); a
                // section with an unknown or missing key is still judged.
                let reported: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
                problems.extend(errors.into_iter().filter(|e| {
                    !reported.iter().any(|m| {
                        e.field == *m
                            || e.field.starts_with(&format!("{m}."))
                            || e.field.starts_with(&format!("{m}["))
                    }) && !defaulted
                        .iter()
                        .any(|m| m.starts_with(&format!("{}.", e.field)))
                }));
            }
        }
        Err(ProfileParseError::Invalid(ValidationErrors(problems)))
    }

    /// How many active clusters (and starting runs) of this profile may exist at once.
    pub fn active_cluster_limit(&self) -> u32 {
        if let Some(pool) = &self.pool {
            return pool.max_clusters;
        }
        match (self.max_active_clusters, self.kind) {
            (Some(n), _) => n,
            (None, ProfileKind::Interactive) => 1,
            (None, ProfileKind::Pipeline) => DEFAULT_PIPELINE_LIMIT,
        }
    }

    /// The idle rules the sweep applies: the profile's, except that a
    /// pooled cluster is idle after `[pool] idle_minutes` without a run,
    /// and nobody is warned (a pool has no people on it).
    pub fn idle_policy(&self) -> IdlePolicy {
        match &self.pool {
            None => self.idle.clone(),
            Some(pool) => IdlePolicy {
                timeout_minutes: pool.idle_minutes,
                warn_minutes: 0,
                ..self.idle.clone()
            },
        }
    }

    pub fn has_application(&self, name: &str) -> bool {
        self.applications.iter().any(|a| a == name)
    }

    /// Where EMR writes the cluster's logs: `log_uri`, or
    /// [`default_log_prefix`] in the sparkhub bucket.
    pub fn log_location(&self, sparkhub_bucket: &str) -> S3Uri {
        self.log_uri
            .clone()
            .unwrap_or_else(|| S3Uri::new(sparkhub_bucket, &default_log_prefix(&self.name)))
    }

    /// The profile's locations that lie in the sparkhub bucket where they
    /// may not (field, location): `[access]` and triggers anywhere in it,
    /// `log_uri` outside the profile's own [`default_log_prefix`]. Nodes get
    /// what these name, and the bucket holds every profile's scripts,
    /// leases, history, logs and notebooks; the template cannot tell (the
    /// bucket's name is chosen on deploy), so create-cluster refuses them.
    pub fn locations_in_sparkhub_bucket(&self, sparkhub_bucket: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(uri) = &self.log_uri
            && uri.bucket() == sparkhub_bucket
            && !uri.key().starts_with(&default_log_prefix(&self.name))
        {
            out.push(("log_uri".to_owned(), uri.to_string()));
        }
        for (list, locations) in [
            ("access.read", &self.access.read),
            ("access.write", &self.access.write),
        ] {
            for (i, location) in locations.iter().enumerate() {
                if location.bucket() == sparkhub_bucket {
                    out.push((format!("{list}[{i}]"), location.to_string()));
                }
            }
        }
        if self.notebook_bucket.as_deref() == Some(sparkhub_bucket) {
            // The same folders as the default, but two profiles could then
            // both name the user's folder there (the template's check of
            // shared folders sees two different buckets).
            out.push((
                "notebook_bucket".to_owned(),
                format!("s3://{sparkhub_bucket}/"),
            ));
        }
        for (i, trigger) in self.triggers.iter().enumerate() {
            if trigger.bucket == sparkhub_bucket {
                out.push((
                    format!("triggers[{i}]"),
                    format!("s3://{}/{}", trigger.bucket, trigger.prefix),
                ));
            }
        }
        out
    }
}

/// Users that two profiles share in one notebook bucket: `(user, bucket or
/// None for the sparkhub bucket, the profiles)`. Notebooks live under
/// `jupyter/<user>/`, and each profile's node role may read its users'
/// folders, so such a user's notebooks would be open to both profiles'
/// clusters; `validate` and `make generate` refuse it.
pub fn shared_notebook_folders(
    profiles: &[&Profile],
) -> Vec<(String, Option<String>, Vec<String>)> {
    let mut owners: BTreeMap<(String, Option<String>), Vec<String>> = BTreeMap::new();
    for profile in profiles.iter().filter(|p| p.has_application("JupyterHub")) {
        for user in &profile.users {
            owners
                .entry((user.to_string(), profile.notebook_bucket.clone()))
                .or_default()
                .push(profile.name.to_string());
        }
    }
    owners
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|((user, bucket), names)| (user, bucket, names))
        .collect()
}

/// What is wrong with valid profiles taken together, as `(the files, problem)`:
/// a file whose name is not `<name>.toml` (the functions read
/// `profiles/<name>.toml`), two files of one name, and a user two profiles
/// share in one notebook bucket. `files` pairs each file's name with its
/// profile.
pub fn problems_together(files: &[(&str, &Profile)]) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for (i, (file, profile)) in files.iter().enumerate() {
        let expected = format!("{}.toml", profile.name);
        let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
        if base != expected {
            out.push((
                vec![(*file).to_owned()],
                format!(
                    "the file must be named {expected} after its name = \"{}\" (sparkhub reads profiles/{expected}); rename the file or the profile",
                    profile.name
                ),
            ));
        }
        if let Some((first, _)) = files[..i].iter().find(|(_, p)| p.name == profile.name) {
            out.push((
                vec![(*file).to_owned()],
                format!(
                    "name = \"{}\" is also the name of {first}; each profile needs its own name",
                    profile.name
                ),
            ));
        }
    }
    // A name twice is reported above; its users are not "shared" again.
    let mut profiles: Vec<&Profile> = Vec::new();
    for (_, profile) in files {
        if !profiles.iter().any(|p| p.name == profile.name) {
            profiles.push(profile);
        }
    }
    for (user, bucket, names) in shared_notebook_folders(&profiles) {
        let bucket =
            bucket.map_or_else(|| "the sparkhub bucket".to_owned(), |b| format!("s3://{b}"));
        let file: Vec<String> = files
            .iter()
            .filter(|(_, p)| names.contains(&p.name.to_string()))
            .map(|(f, _)| (*f).to_owned())
            .collect();
        out.push((
            file,
            format!(
                "profiles {} share the user {user} in {bucket}: each cluster could read the other's notebooks of {user} (jupyter/{user}/); rename the user in one of them or give them different notebook_bucket values",
                names.join(" and ")
            ),
        ));
    }
    out
}

/// Where a profile's cluster logs go by default: `logs/<profile>/` in the
/// sparkhub bucket, so one profile's nodes cannot overwrite another's logs.
pub fn default_log_prefix(profile: &ProfileName) -> String {
    format!("logs/{profile}/")
}

impl RawProfile {
    /// Parses a profile: at most [`MAX_PROFILE_BYTES`], TOML, and the shape of
    /// a profile, reporting every unknown, missing and mistyped key at once.
    /// Values are not checked; [`Profile::parse`] does both.
    pub fn from_toml(text: &str) -> Result<Self, ProfileParseError> {
        let (profile, problems, _) = Self::read(text)?;
        if problems.is_empty() {
            Ok(profile)
        } else {
            Err(ProfileParseError::Invalid(ValidationErrors(problems)))
        }
    }

    /// The profile, its shape problems (unknown, missing, mistyped keys) and
    /// the fields given their default for a value of the wrong kind.
    fn read(text: &str) -> Result<(Self, Vec<FieldError>, Vec<String>), ProfileParseError> {
        if text.len() > MAX_PROFILE_BYTES {
            return Err(ProfileParseError::TooLarge { size: text.len() });
        }
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e: toml::de::Error| ProfileParseError::NotToml(e.to_string()))?;
        let mut problems: Vec<FieldError> = missing_keys(&table)
            .into_iter()
            .map(|field| FieldError {
                message: match keys::find(&field.replace(|c: char| c.is_ascii_digit(), "")) {
                    Some(key) if key.kind == keys::Kind::Section => {
                        format!("is required: {}", key.about)
                    }
                    Some(key) if !key.example.is_empty() => {
                        format!(
                            "is required, like {} = {}",
                            key.path.rsplit('.').next().unwrap_or(&field),
                            key.example
                        )
                    }
                    _ => "is required".into(),
                },
                field,
            })
            .collect();
        // Unknown keys, wrong kinds and misplaced keys, in plain words; what
        // they name is taken out, so that serde below reads the rest.
        let shape = keys::check_shape(&mut table);
        problems.extend(shape.problems);
        let mut unknown = Vec::new();
        let mut on_unknown = |path: serde_ignored::Path| unknown.push(ignored_path(&path));
        let parsed: Result<RawProfile, _> = serde_path_to_error::deserialize(
            serde_ignored::Deserializer::new(toml::Value::Table(table), &mut on_unknown),
        );
        problems.extend(unknown.into_iter().map(|field| FieldError {
            field,
            message:
                "is not a key sparkhub knows (a typo?); see the profile keys in the README".into(),
        }));
        match parsed {
            Ok(profile) => Ok((profile, problems, shape.defaulted)),
            Err(e) => {
                problems.push(FieldError {
                    field: error_path(e.path()),
                    message: e.into_inner().to_string(),
                });
                Err(ProfileParseError::Invalid(ValidationErrors(problems)))
            }
        }
    }

    /// Checks every field and returns all problems at once, or the profile
    /// with its values typed.
    pub fn validate(&self) -> Result<Profile, ValidationErrors> {
        self.check(true)
    }

    /// [`Self::validate`]; `users_written`: `users` is what the file says
    /// (not a default put in for a value of the wrong kind), so a key of
    /// `[emails]` that is none of them is a problem.
    fn check(&self, users_written: bool) -> Result<Profile, ValidationErrors> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_owned(),
                message,
            })
        };

        let name = match ProfileName::parse(&self.name) {
            Ok(name) => Some(name),
            Err(e) => {
                err("name", e);
                None
            }
        };
        match release_version(&self.release_label) {
            Some((6, minor, _)) if minor >= 4 => {}
            Some((7, _, _)) => {}
            Some((6, _, _)) => err(
                "release_label",
                format!(
                    "{:?} is older than emr-6.4.0; the idle check needs EMR's isbusy file and auto-termination policy, which come with emr-6.4.0 (e.g. {DEFAULT_RELEASE_LABEL:?})",
                    self.release_label
                ),
            ),
            _ => err(
                "release_label",
                format!(
                    "{:?} is not an EMR 6 or 7 release label (emr-6.x.y from emr-6.4.0, or emr-7.x.y, e.g. {DEFAULT_RELEASE_LABEL:?})",
                    self.release_label
                ),
            ),
        }
        if self.applications.is_empty() {
            err(
                "applications",
                "at least one application is needed (e.g. \"Spark\")".into(),
            );
        }
        for (i, app) in self.applications.iter().enumerate() {
            if !KNOWN_APPLICATIONS.contains(&app.as_str()) {
                err(
                    &format!("applications[{i}]"),
                    format!(
                        "{app:?} is not an EMR application sparkhub knows ({})",
                        KNOWN_APPLICATIONS.join(", ")
                    ),
                );
            } else if self.applications[..i].contains(app) {
                err(
                    &format!("applications[{i}]"),
                    format!("{app:?} is listed twice"),
                );
            }
        }
        for (i, package) in self.python_packages.iter().enumerate() {
            if !is_python_requirement(package) {
                err(
                    &format!("python_packages[{i}]"),
                    format!(
                        "{package:?} is not a Python package name with an optional version (e.g. \"pandas\" or \"pandas==2.2.3\")"
                    ),
                );
            }
        }
        let mut users = Vec::with_capacity(self.users.len());
        for (i, user) in self.users.iter().enumerate() {
            match UserName::parse(user) {
                Err(e) => err(&format!("users[{i}]"), e),
                Ok(_) if self.users[..i].contains(user) => {
                    err(&format!("users[{i}]"), format!("{user:?} is listed twice"))
                }
                Ok(user) => users.push(user),
            }
        }
        if !self.users.is_empty() && !self.applications.iter().any(|a| a == "JupyterHub") {
            err(
                "users",
                "JupyterHub users need \"JupyterHub\" in applications".into(),
            );
        }
        // The users step sets up the hub (sparkhub's services, the activity
        // reporter) and locks EMR's default admin jovyan, whose password
        // "jupyter" is public: without a user there is no users step.
        if self.users.is_empty() && self.applications.iter().any(|a| a == "JupyterHub") {
            err(
                "users",
                "a JupyterHub cluster needs at least one user, like users = [\"alice\"]: the users step sets up the hub and locks EMR's default admin jovyan, whose password is public"
                    .into(),
            );
        }
        let mut emails = BTreeMap::new();
        for (user, address) in &self.emails {
            let plain = !user.is_empty()
                && user.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            let field = if plain {
                format!("emails.{user}")
            } else {
                format!("emails.{user:?}")
            };
            let listed = users.iter().find(|u| u.as_str() == user);
            // A listed user whose name is invalid is reported under users.
            if users_written && listed.is_none() && !self.users.contains(user) {
                let shown = if plain {
                    user.clone()
                } else {
                    format!("{user:?}")
                };
                let known = if self.users.is_empty() {
                    "it lists none".to_owned()
                } else {
                    format!("users = {:?}", self.users)
                };
                err(
                    &field,
                    format!(
                        "{shown} is not one of this profile's users ({known}); add {shown} to users or remove the line"
                    ),
                );
            }
            match EmailAddress::parse(address) {
                Err(e) => err(&field, e),
                Ok(address) => {
                    if let Some(user) = listed {
                        emails.insert(user.clone(), address);
                    }
                }
            }
        }
        if let Some(key) = &self.key_name
            && !is_key_pair_name(key)
        {
            err("key_name", format!("{key:?} is not {KEY_PAIR_NAME_RULE}"));
        }
        let log_uri = self
            .log_uri
            .as_deref()
            .map(|uri| S3Location::parse(uri).map(|l| l.as_uri().clone()))
            .transpose()
            .unwrap_or_else(|e| {
                err("log_uri", e);
                None
            });
        // Like every other location, `s3://bucket` (or `s3://bucket/`); the
        // bare name, as earlier versions took it, is read the same.
        let notebook_bucket = self.notebook_bucket.as_deref().and_then(|written| {
            let bare = written.strip_prefix("s3://").unwrap_or(written);
            let bucket = bare.strip_suffix('/').unwrap_or(bare);
            let problem = if written.contains("://") && !written.starts_with("s3://") {
                Some(format!(
                    "{written:?} is not an S3 location; write the bucket as \"s3://<bucket>\" or its bare name"
                ))
            } else if bucket.contains('/') {
                Some(format!(
                    "{written:?} names a folder; notebook_bucket is a whole bucket, like \"s3://team-notebooks\" (sparkhub keeps each user's notebooks in their own folder of it)"
                ))
            } else {
                crate::names::check_bucket(bucket)
                    .err()
                    .map(|e| format!("{written:?}: {e}"))
            };
            match problem {
                Some(problem) => {
                    err("notebook_bucket", problem);
                    None
                }
                None => Some(bucket.to_owned()),
            }
        });
        for (i, subnet) in self.subnet_ids.iter().enumerate() {
            if !is_aws_id(subnet, "subnet-") {
                err(
                    &format!("subnet_ids[{i}]"),
                    format!("{subnet:?} is not a subnet id (subnet- followed by hex digits)"),
                );
            }
        }
        let mut access = Access::default();
        for (list, locations, typed) in [
            ("access.read", &self.access.read, &mut access.read),
            ("access.write", &self.access.write, &mut access.write),
        ] {
            for (i, location) in locations.iter().enumerate() {
                match S3Location::parse(location) {
                    Ok(location) => typed.push(location),
                    Err(e) => err(&format!("{list}[{i}]"), e),
                }
            }
        }

        self.validate_fleet("fleets.master", &self.fleets.master, &mut err);
        let master = &self.fleets.master;
        let master_size = u64::from(master.on_demand) + u64::from(master.spot);
        if master_size != 1 {
            err(
                "fleets.master",
                format!(
                    "the master fleet needs exactly 1 instance (on_demand + spot = 1), got {master_size}"
                ),
            );
        }
        self.validate_fleet("fleets.core", &self.fleets.core, &mut err);
        if u64::from(self.fleets.core.on_demand) + u64::from(self.fleets.core.spot) == 0 {
            err(
                "fleets.core",
                "the core fleet needs at least 1 instance (on_demand + spot >= 1)".into(),
            );
        }
        if let Some(task) = &self.fleets.task {
            self.validate_fleet("fleets.task", task, &mut err);
        }

        let idle = &self.idle;
        if !(5..=10_080).contains(&idle.timeout_minutes) {
            err(
                "idle.timeout_minutes",
                format!(
                    "{} is out of range (5 to 10080 minutes)",
                    idle.timeout_minutes
                ),
            );
        }
        if idle.grace_minutes > 1_440 {
            err(
                "idle.grace_minutes",
                format!("{} is out of range (0 to 1440 minutes)", idle.grace_minutes),
            );
        }
        if idle.warn_minutes > 1_440 {
            err(
                "idle.warn_minutes",
                format!(
                    "{} is out of range (0 to 1440 minutes; 0 turns the warning off)",
                    idle.warn_minutes
                ),
            );
        }
        if !(1..=720).contains(&idle.max_lifetime_hours) {
            err(
                "idle.max_lifetime_hours",
                format!(
                    "{} is out of range (1 to 720 hours)",
                    idle.max_lifetime_hours
                ),
            );
        }

        if let Some(schedule) = &self.schedule {
            match (schedule.cron.is_empty(), schedule.ready_by.is_empty()) {
                (true, true) => err(
                    "schedule.cron",
                    "a schedule needs cron (when a run starts) or ready_by (when its cluster must be ready), like cron = \"cron(0 8 ? * MON-FRI *)\"".into(),
                ),
                (false, false) => err(
                    "schedule.ready_by",
                    "give cron (when a run starts) or ready_by (when its cluster must be ready), not both".into(),
                ),
                (false, true) => {
                    if let Err(e) = check_cron(&schedule.cron) {
                        err("schedule.cron", e);
                    }
                }
                (true, false) => {
                    if let Err(e) = check_cron(&schedule.ready_by)
                        .and_then(|()| schedule.fire_expression().map(|_| ()))
                    {
                        err("schedule.ready_by", e);
                    }
                }
            }
            if jiff::tz::TimeZone::get(&schedule.timezone).is_err() {
                err(
                    "schedule.timezone",
                    format!(
                        "{:?} is not an IANA time zone (e.g. \"Europe/Berlin\")",
                        schedule.timezone
                    ),
                );
            }
        }

        if self.tags.len() > 42 {
            err(
                "tags",
                format!(
                    "{} tags; at most 42 (EMR allows 50, sparkhub sets up to 8 of its own)",
                    self.tags.len()
                ),
            );
        }
        for (key, value) in &self.tags {
            let field = format!("tags.{key:?}");
            let lower = key.to_ascii_lowercase();
            if lower.starts_with("sparkhub:") || lower.starts_with("aws:") {
                err(
                    &field,
                    "keys starting with \"sparkhub:\" or \"aws:\" are reserved".into(),
                );
            } else if lower == crate::render::TAG_EMR_MANAGED_POLICY {
                err(
                    &field,
                    "sparkhub sets this tag itself (EMR's managed policy v2 needs it to be \"true\")".into(),
                );
            } else if key.is_empty() || key.chars().count() > 128 {
                err(&field, "a tag key has 1 to 128 characters".into());
            }
            if value.chars().count() > 256 {
                err(&field, "a tag value has at most 256 characters".into());
            }
        }

        if self.kind == ProfileKind::Pipeline && self.steps.is_empty() {
            err(
                "steps",
                "a pipeline profile needs at least one step ([[steps]])".into(),
            );
        }
        for (i, step) in self.steps.iter().enumerate() {
            if step.name.trim().is_empty() || step.name.chars().count() > 256 {
                err(
                    &format!("steps[{i}].name"),
                    "a step name has 1 to 256 characters".into(),
                );
            }
            if step.jar.trim().is_empty() {
                err(
                    &format!("steps[{i}].jar"),
                    "a step needs a jar (e.g. \"command-runner.jar\")".into(),
                );
            }
            for (j, arg) in step.args.iter().enumerate() {
                if arg.contains(crate::render::OBJECT_PLACEHOLDER)
                    && arg != crate::render::OBJECT_PLACEHOLDER
                {
                    err(
                        &format!("steps[{i}].args[{j}]"),
                        format!(
                            "{arg:?}: {{object}} may only be a whole argument, never part of a shell string or another argument (pass it as its own argument, e.g. [\"bash\", \"-c\", \"aws s3 cp \\\"$0\\\" .\", \"{{object}}\"])"
                        ),
                    );
                }
            }
            if step.jar.contains(crate::render::OBJECT_PLACEHOLDER) {
                err(
                    &format!("steps[{i}].jar"),
                    "{object} may only be a whole step argument, not the jar".into(),
                );
            }
            for (j, arg) in std::iter::once(&step.jar).chain(&step.args).enumerate() {
                let field = if j == 0 {
                    format!("steps[{i}].jar")
                } else {
                    format!("steps[{i}].args[{}]", j - 1)
                };
                for uri in s3_uris_in(arg) {
                    match S3Uri::parse(uri) {
                        Err(e) => err(&field, e),
                        Ok(uri) if !access.can_read(&uri) => err(
                            &field,
                            format!(
                                "{uri} is outside the profile's [access] locations; the cluster's nodes could not read it (add a location that covers it to access.read or access.write)"
                            ),
                        ),
                        Ok(_) => {}
                    }
                }
            }
        }

        for (i, trigger) in self.triggers.iter().enumerate() {
            for (part, value) in [("prefix", &trigger.prefix), ("suffix", &trigger.suffix)] {
                if let Err(e) = crate::names::check_location_key(value) {
                    err(&format!("triggers[{i}].{part}"), format!("{value:?}: {e}"));
                }
            }
            if let Err(e) = crate::names::check_bucket(&trigger.bucket) {
                err(&format!("triggers[{i}].bucket"), e);
            } else if !access.can_read(&S3Uri::new(&trigger.bucket, &trigger.prefix)) {
                err(
                    &format!("triggers[{i}]"),
                    format!(
                        "s3://{}/{} is outside the profile's [access] locations; the steps could not read the object that triggers the run (add it to access.read)",
                        trigger.bucket, trigger.prefix
                    ),
                );
            }
        }
        if !self.triggers.is_empty() && self.steps.is_empty() {
            err(
                "triggers",
                "a triggered run needs steps ([[steps]]) to do something with the object".into(),
            );
        }
        if self.max_active_clusters == Some(0) {
            err(
                "max_active_clusters",
                "0 would never start a cluster; use 1 or more, or leave it out".into(),
            );
        }
        if let Some(pool) = &self.pool {
            if self.kind != ProfileKind::Pipeline {
                err(
                    "pool",
                    "only a pipeline profile's runs share clusters; an interactive cluster already stays up until idle".into(),
                );
            }
            if !(1..=20).contains(&pool.max_clusters) {
                err(
                    "pool.max_clusters",
                    format!("{} is out of range (1 to 20 clusters)", pool.max_clusters),
                );
            }
            if !(5..=1_440).contains(&pool.idle_minutes) {
                err(
                    "pool.idle_minutes",
                    format!("{} is out of range (5 to 1440 minutes)", pool.idle_minutes),
                );
            }
            if self.max_active_clusters.is_some() {
                err(
                    "max_active_clusters",
                    "a pooled profile's limit is [pool] max_clusters; remove max_active_clusters"
                        .into(),
                );
            }
        }
        if let Some(budget) = &self.budget {
            if budget.monthly_usd == 0 {
                err(
                    "budget.monthly_usd",
                    "0 would refuse every cluster; give the month's budget in whole US dollars, like 500".into(),
                );
            }
            for (i, p) in budget.alert_percent.iter().enumerate() {
                if !(1..=1_000).contains(p) {
                    err(
                        &format!("budget.alert_percent[{i}]"),
                        format!("{p} is out of range (1 to 1000 percent of the budget)"),
                    );
                }
            }
        }
        for (i, trigger) in self.event_triggers.iter().enumerate() {
            for (part, value) in [
                ("source", &trigger.source),
                ("detail_type", &trigger.detail_type),
            ] {
                if value.trim().is_empty() || value.chars().count() > 256 {
                    err(
                        &format!("event_triggers[{i}].{part}"),
                        "1 to 256 characters, as the event names it (like \"aws.cloudwatch\" and \"CloudWatch Alarm State Change\")".into(),
                    );
                }
            }
            if trigger.source == "aws.s3" {
                err(
                    &format!("event_triggers[{i}].source"),
                    "new S3 objects start runs through [[triggers]] (bucket, prefix, suffix)"
                        .into(),
                );
            }
            if !trigger.detail.is_empty() {
                match serde_json::from_str::<serde_json::Value>(&trigger.detail) {
                    Ok(pattern) if is_detail_pattern(&pattern) => {}
                    _ => err(
                        &format!("event_triggers[{i}].detail"),
                        format!(
                            "{:?} is not an EventBridge pattern over the event's detail: a JSON object whose values are lists of values to match or such objects, like '{{\"state\": {{\"value\": [\"ALARM\"]}}}}'",
                            trigger.detail
                        ),
                    ),
                }
            }
        }
        if !self.event_triggers.is_empty() && self.steps.is_empty() {
            err(
                "event_triggers",
                "a triggered run needs steps ([[steps]])".into(),
            );
        }
        for (i, step) in self.steps.iter().enumerate() {
            for (j, arg) in step.args.iter().enumerate() {
                let field = format!("steps[{i}].args[{j}]");
                match event_path(arg) {
                    Some(path) if !is_event_path(path) => err(
                        &field,
                        format!(
                            "{arg:?}: an event path is keys or list indices joined by dots, like {{event:detail.alarmName}}"
                        ),
                    ),
                    Some(_) if self.event_triggers.is_empty() => err(
                        &field,
                        format!(
                            "{arg:?} takes a value from the event that started the run, but the profile has no [[event_triggers]]"
                        ),
                    ),
                    Some(_) => {}
                    None if arg.contains(EVENT_PLACEHOLDER_PREFIX) => err(
                        &field,
                        format!(
                            "{arg:?}: {{event:...}} may only be a whole argument, never part of one"
                        ),
                    ),
                    None => {}
                }
            }
        }

        match name {
            Some(name) if errors.is_empty() => Ok(Profile {
                name,
                kind: self.kind,
                release_label: self.release_label.clone(),
                applications: self.applications.clone(),
                python_packages: self.python_packages.clone(),
                users,
                emails,
                key_name: self.key_name.clone(),
                log_uri,
                notebook_bucket,
                subnet_ids: self.subnet_ids.clone(),
                access,
                fleets: self.fleets.clone(),
                idle: self.idle.clone(),
                schedule: self.schedule.clone(),
                tags: self.tags.clone(),
                steps: self.steps.clone(),
                triggers: self.triggers.clone(),
                max_active_clusters: self.max_active_clusters,
                pool: self.pool.clone(),
                event_triggers: self.event_triggers.clone(),
                budget: self.budget.clone(),
            }),
            _ => Err(ValidationErrors(errors)),
        }
    }

    fn validate_fleet(&self, field: &str, fleet: &Fleet, err: &mut impl FnMut(&str, String)) {
        if fleet.instance_types.is_empty() {
            err(
                &format!("{field}.instance_types"),
                "at least one instance type is needed (e.g. \"m5.xlarge\")".into(),
            );
        }
        // EMR accepts at most 5 instance types per fleet without an
        // allocation strategy (30 with one), and sparkhub sends none:
        // https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-instance-fleet.html
        if fleet.instance_types.len() > MAX_INSTANCE_TYPES_PER_FLEET {
            err(
                &format!("{field}.instance_types"),
                format!(
                    "{} instance types; EMR takes at most {MAX_INSTANCE_TYPES_PER_FLEET} per fleet without an allocation strategy",
                    fleet.instance_types.len()
                ),
            );
        }
        // EMR's instance fleets hold at most a few thousand units; a number
        // beyond that is a typo, not a cluster.
        for (key, n) in [("on_demand", fleet.on_demand), ("spot", fleet.spot)] {
            if n > MAX_FLEET_CAPACITY {
                err(
                    &format!("{field}.{key}"),
                    format!("{n} instances; at most {MAX_FLEET_CAPACITY} per fleet"),
                );
            }
        }
        for (i, t) in fleet.instance_types.iter().enumerate() {
            if !is_instance_type(t) {
                err(
                    &format!("{field}.instance_types[{i}]"),
                    format!("{t:?} is not an EC2 instance type (family.size, e.g. \"m5.xlarge\")"),
                );
            }
        }
    }
}

/// `emr-<major>.<minor>.<patch>` as numbers, when the label has that shape.
fn release_version(label: &str) -> Option<(u32, u32, u32)> {
    let parts: Vec<&str> = label.strip_prefix("emr-")?.split('.').collect();
    let [major, minor, patch] = parts.as_slice() else {
        return None;
    };
    let number = |p: &str| {
        (!p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    Some((number(major)?, number(minor)?, number(patch)?))
}

/// A PEP 508 name with an optional simple version specifier. Deliberately
/// narrower than PEP 508 (no extras, markers or URLs): the string is written
/// into a shell script, so only characters that need no quoting are allowed.
fn is_python_requirement(requirement: &str) -> bool {
    let split = requirement
        .find(['=', '<', '>', '!', '~'])
        .unwrap_or(requirement.len());
    let (name, version) = requirement.split_at(split);
    let name_ok = !name.is_empty()
        && name.len() <= 100
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let version_ok = version.is_empty() || {
        let digits = version.trim_start_matches(['=', '<', '>', '!', '~']);
        let op = &version[..version.len() - digits.len()];
        ["==", ">=", "<=", "~=", "!=", ">", "<"].contains(&op)
            && !digits.is_empty()
            && digits
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._*+".contains(&b))
    };
    name_ok && version_ok
}

/// The `s3://` URIs inside one argument (a whole argument, or a part of a
/// `--conf key=s3://...` style argument), up to the next separator.
fn s3_uris_in(arg: &str) -> Vec<&str> {
    let mut uris = Vec::new();
    let mut rest = arg;
    while let Some(start) = rest.find("s3://") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '=' | ')'))
            .unwrap_or(tail.len());
        uris.push(&tail[..end]);
        rest = &tail[end..];
    }
    uris
}

fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn is_instance_type(t: &str) -> bool {
    let Some((family, size)) = t.split_once('.') else {
        return false;
    };
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok(family) && ok(size) && family.as_bytes()[0].is_ascii_lowercase()
}

/// One field of a cron expression: its name, range, value names and the
/// wildcards it allows, from EventBridge's cron reference
/// (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html>,
/// the format EventBridge Scheduler's `cron()` uses too).
struct CronField {
    name: &'static str,
    low: u32,
    high: u32,
    /// Names for low, low + 1, ... (months, days of the week).
    names: &'static [&'static str],
    /// Wildcards besides `,` `-` `*` `/` digits and names.
    special: &'static str,
}

const CRON_FIELDS: [CronField; 6] = [
    CronField {
        name: "minutes",
        low: 0,
        high: 59,
        names: &[],
        special: "",
    },
    CronField {
        name: "hours",
        low: 0,
        high: 23,
        names: &[],
        special: "",
    },
    CronField {
        name: "day-of-month",
        low: 1,
        high: 31,
        names: &[],
        special: "?LW",
    },
    CronField {
        name: "month",
        low: 1,
        high: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
        special: "",
    },
    CronField {
        name: "day-of-week",
        low: 1,
        high: 7,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
        special: "?L#",
    },
    CronField {
        name: "year",
        low: 1970,
        high: 2199,
        names: &[],
        special: "",
    },
];

impl CronField {
    fn range(&self) -> String {
        match (self.names.first(), self.names.last()) {
            (Some(first), Some(last)) => {
                format!("{}-{} or {first}-{last}", self.low, self.high)
            }
            _ => format!("{}-{}", self.low, self.high),
        }
    }

    /// One value: a number in range or a name.
    fn value(&self, text: &str) -> bool {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse::<u32>()
                .is_ok_and(|n| (self.low..=self.high).contains(&n))
        } else {
            self.names.contains(&text)
        }
    }

    /// One element of a comma list: `*`, `v`, `a-b`, with `/step`, and the
    /// field's own `?`, `L`, `W`, `#`.
    fn element(&self, text: &str) -> bool {
        let allows = |c: char| self.special.contains(c);
        match text {
            "?" => return allows('?'),
            "L" => return allows('L'),
            "LW" => return allows('W'),
            _ => {}
        }
        if allows('W')
            && let Some(day) = text.strip_suffix('W')
        {
            return self.value(day);
        }
        if allows('L')
            && let Some(day) = text.strip_suffix('L')
            && self.value(day)
        {
            return true;
        }
        if allows('#')
            && let Some((day, nth)) = text.split_once('#')
        {
            return self.value(day) && matches!(nth, "1" | "2" | "3" | "4" | "5");
        }
        let (base, step) = match text.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (text, None),
        };
        if let Some(step) = step
            && !(step.bytes().all(|b| b.is_ascii_digit())
                && step.parse::<u32>().is_ok_and(|s| s >= 1 && s <= self.high))
        {
            return false;
        }
        match base.split_once('-') {
            _ if base == "*" => true,
            Some((from, to)) => self.value(from) && self.value(to),
            None => self.value(base),
        }
    }
}

/// Checks an EventBridge Scheduler cron expression:
/// `cron(minutes hours day-of-month month day-of-week year)`, each field
/// against EventBridge's ranges, names and wildcards ([`CRON_FIELDS`]), with
/// exactly one of day-of-month and day-of-week `?`.
fn check_cron(expr: &str) -> Result<(), String> {
    let example = "e.g. \"cron(0 8 ? * MON-FRI *)\"";
    let Some(body) = expr
        .strip_prefix("cron(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return Err(format!(
            "{expr:?} is not an EventBridge cron expression ({example})"
        ));
    };
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "{expr:?} has {} fields; EventBridge cron has 6 (minutes hours day-of-month month day-of-week year), {example}",
            fields.len()
        ));
    }
    let mut wrong = Vec::new();
    for (field, text) in CRON_FIELDS.iter().zip(&fields) {
        let elements: Vec<&str> = text.split(',').collect();
        let ok = elements.iter().all(|e| field.element(e))
            // `?` and `#` stand alone ("3#1,6#3" is two expressions).
            && (elements.len() == 1 || !text.contains(['?', '#']));
        if !ok {
            let special: String = field.special.chars().map(|c| format!(" {c}")).collect();
            wrong.push(format!(
                "{} {text:?} (allowed: {}, with , - * /{special})",
                field.name,
                field.range()
            ));
        }
    }
    if !wrong.is_empty() {
        return Err(format!("{expr:?}: {}", wrong.join("; ")));
    }
    if (fields[2] == "?") == (fields[4] == "?") {
        return Err(format!(
            "{expr:?}: exactly one of day-of-month and day-of-week must be \"?\", {example}"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
