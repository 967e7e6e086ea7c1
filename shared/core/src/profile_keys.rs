//! Every key a profile may have, its kind, default and meaning: one table
//! that checks a profile's shape in plain words and is the README's key
//! reference (`make generate` writes [`reference_markdown`] into it).
//!
//! Why a table of our own and not a schema derived from the types (e.g.
//! schemars): a type error must be said in the profile's words, with the
//! unit and an example ("must be a whole number of minutes, like 60"), and a
//! key that TOML put into `[tags]` must be recognised as a top-level key —
//! neither is in a derived schema. The test
//! `the_key_table_is_the_profile_model` keeps the table and [`RawProfile`]
//! equal (every key, every default), so it cannot drift.
//!
//! [`RawProfile`]: super::RawProfile

use std::fmt::Write as _;

use super::FieldError;

/// What a key's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text in quotes.
    Text,
    /// A list of texts.
    TextList,
    /// A list of whole numbers, 0 or more, in `unit`s.
    WholeList { unit: &'static str },
    /// A whole number, 0 or more, in `unit`s.
    Whole { unit: &'static str },
    /// One of these texts.
    Choice(&'static [&'static str]),
    /// A `[section]` of the keys below it.
    Section,
    /// Any number of `[[section]]`s of the keys below it.
    Sections,
    /// A `[section]` of any `key = "text"` lines. The messages call one
    /// line `line` ("a tag") and say what its value must be with `value`;
    /// `of_users`: its keys are the profile's `users`.
    TextMap {
        line: &'static str,
        value: &'static str,
        of_users: bool,
    },
}

/// Whether a key must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Optional; the default applies.
    Optional,
    /// Required in every profile (or in every section it belongs to, when
    /// that section is there).
    Required,
}

/// One key of a profile.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Its path as the messages write it: `idle.timeout_minutes`, `steps[].name`.
    pub path: &'static str,
    pub kind: Kind,
    pub need: Need,
    /// Its default as TOML, when it has one that does not depend on other keys.
    pub default: Option<&'static str>,
    /// A value as it would be written, for the messages and the reference.
    pub example: &'static str,
    /// What it means, in one or two sentences.
    pub about: &'static str,
}

const fn key(
    path: &'static str,
    kind: Kind,
    need: Need,
    default: Option<&'static str>,
    example: &'static str,
    about: &'static str,
) -> Key {
    Key {
        path,
        kind,
        need,
        default,
        example,
        about,
    }
}

use Kind::*;
use Need::*;

/// Every key, in the order the reference lists them.
pub const KEYS: &[Key] = &[
    key(
        "name",
        Text,
        Required,
        None,
        "\"tutorial\"",
        "The profile's name: 1 to 40 lowercase letters, digits and `-`, not starting with `-`. The file must be `profiles/<name>.toml`; the name is the cluster's `sparkhub:profile` tag and names its instance role (`sparkhub-node-<name>`) and secrets.",
    ),
    key(
        "kind",
        Choice(&["interactive", "pipeline"]),
        Optional,
        Some("\"interactive\""),
        "\"pipeline\"",
        "`interactive`: JupyterHub for people, kept until idle. `pipeline`: run the steps, then terminate.",
    ),
    key(
        "release_label",
        Text,
        Optional,
        Some("\"emr-7.10.0\""),
        "\"emr-6.15.0\"",
        "EMR release: `emr-7.x.y`, or `emr-6.x.y` from emr-6.4.0 (the idle check needs EMR's `isbusy` file and auto-termination policy).",
    ),
    key(
        "applications",
        TextList,
        Required,
        None,
        "[\"Spark\", \"JupyterHub\"]",
        "EMR applications by their EMR names (Spark, Hadoop, Livy, Hive, JupyterHub, ...).",
    ),
    key(
        "python_packages",
        TextList,
        Optional,
        Some("[]"),
        "[\"pandas==2.2.3\"]",
        "Python packages (`pandas` or `pandas==2.2.3`) pip installs into every node's own Python at boot: what steps, Spark and the notebooks' PySpark and Spark kernels use. The plain Python 3 kernel runs in the `jupyterhub` container and does not see them (EMR release guide, emr-jupyterhub-install-kernels-libs.html); for it, `sudo docker exec jupyterhub bash -c \"pip install pandas\"` on the master.",
    ),
    key(
        "users",
        TextList,
        Optional,
        Some("[]"),
        "[\"alice\", \"bob\"]",
        "JupyterHub users: Linux user names (`^[a-z_][a-z0-9_-]{0,31}$`, not a system user such as `root` or `hadoop`). Each gets a generated password (`sparkhub password`). Needs `JupyterHub` in `applications`, which needs at least one user.",
    ),
    key(
        "emails",
        TextMap {
            line: "a user's address",
            value: "an address must be text in quotes, like \"alice@example.com\"",
            of_users: true,
        },
        Optional,
        None,
        "",
        "E-mail addresses of the profile's users, `user = \"address\"` (each user one of `users`; not every user needs one). Each address receives the idle sweep's warnings and termination notices about this profile's clusters: `make generate` writes an SNS e-mail subscription per address into the template, and SNS first sends it a confirmation mail. Like every section, write `[emails]` after the top-level keys.",
    ),
    key(
        "key_name",
        Text,
        Optional,
        None,
        "\"team-a\"",
        "EC2 key pair for SSH to the master: 1 to 255 ASCII letters, digits, spaces (not first or last) and `._-:/()#,@[]+=` (EC2's characters without `;&{}!$*`). Without one, reach the hub through SSM Session Manager.",
    ),
    key(
        "log_uri",
        Text,
        Optional,
        None,
        "\"s3://team-logs/emr/\"",
        "Where EMR writes the cluster's logs: `s3://` and a key of letters, digits and `/._-=+` (no quotes, spaces, `..` or empty segments, as for every location). In the sparkhub bucket only below `logs/<name>/`. Default: `s3://<sparkhub bucket>/logs/<name>/`.",
    ),
    key(
        "notebook_bucket",
        Text,
        Optional,
        None,
        "\"s3://team-notebooks\"",
        "Bucket where JupyterHub keeps notebooks, each user's under `jupyter/<user>/` (`s3://bucket` or the bare name). Two profiles may not share a user in one notebook bucket. Default: the sparkhub bucket.",
    ),
    key(
        "subnet_ids",
        TextList,
        Optional,
        Some("[]"),
        "[\"subnet-0abc1234\"]",
        "Subnets the fleets may use (EMR picks one); each tagged `for-use-with-amazon-emr-managed-policies = true` for EMR's managed policy v2 (see *Deploy*). Default: none given, EMR's default.",
    ),
    key(
        "max_active_clusters",
        Whole { unit: "clusters" },
        Optional,
        None,
        "2",
        "At most this many running clusters of the profile; a trigger or schedule beyond it starts nothing. Default: 1 for interactive profiles, 5 for pipelines.",
    ),
    key(
        "pool",
        Section,
        Optional,
        None,
        "",
        "A warm pool (pipeline profiles): a run takes a waiting cluster of the profile whose configuration is the same (scripts and request, by hash) instead of creating one, and leaves it for the next run; runs beyond `max_clusters` wait up to 10 minutes for one to be free.",
    ),
    key(
        "pool.max_clusters",
        Whole { unit: "clusters" },
        Optional,
        Some("2"),
        "3",
        "At most this many clusters of the profile at once, running or waiting (1 to 20); instead of max_active_clusters.",
    ),
    key(
        "pool.idle_minutes",
        Whole { unit: "minutes" },
        Optional,
        Some("15"),
        "30",
        "A pooled cluster without a run for this long is terminated by the idle sweep (5 to 1440), unwarned.",
    ),
    key(
        "budget",
        Section,
        Optional,
        None,
        "",
        "A monthly budget: the idle sweep keeps this month's estimate (list prices × fleets × hours), mails the stack's topic once per threshold, and create-cluster refuses a new cluster once it is spent (a manual run may override it with `\"override_budget\": true`).",
    ),
    key(
        "budget.monthly_usd",
        Whole { unit: "US dollars" },
        Required,
        None,
        "500",
        "The budget of a calendar month (UTC), in whole US dollars (1 or more).",
    ),
    key(
        "budget.alert_percent",
        WholeList { unit: "percent" },
        Optional,
        Some("[50, 80, 100]"),
        "[75, 100]",
        "Thresholds, in percent of the budget, each announced once a month when this month's estimate reaches it (1 to 1000).",
    ),
    key(
        "access",
        Section,
        Optional,
        None,
        "",
        "S3 locations the cluster's steps and notebooks use beyond sparkhub's own files; the profile's instance role grants exactly these. Every `s3://` URI in a step and every trigger location must lie inside them; none may lie in the sparkhub bucket.",
    ),
    key(
        "access.read",
        TextList,
        Optional,
        Some("[]"),
        "[\"s3://my-ml-code/\"]",
        "Locations (`s3://bucket/` or `s3://bucket/prefix/`) the nodes may list and read.",
    ),
    key(
        "access.write",
        TextList,
        Optional,
        Some("[]"),
        "[\"s3://my-ml-models/retrain/\"]",
        "Locations the nodes may list, read, write and delete in.",
    ),
    key(
        "fleets",
        Section,
        Required,
        None,
        "",
        "The instance fleets: `[fleets.master]` and `[fleets.core]`, optionally `[fleets.task]`.",
    ),
    key(
        "fleets.master",
        Section,
        Required,
        None,
        "",
        "The master node: exactly one instance (`on_demand = 1` or `spot = 1`).",
    ),
    key(
        "fleets.master.instance_types",
        TextList,
        Required,
        None,
        "[\"m5.xlarge\"]",
        "EC2 instance types EMR may choose from (1 to 5: EMR's limit without an allocation strategy).",
    ),
    key(
        "fleets.master.on_demand",
        Whole { unit: "instances" },
        Optional,
        Some("0"),
        "1",
        "On-demand instances (at most 1,000).",
    ),
    key(
        "fleets.master.spot",
        Whole { unit: "instances" },
        Optional,
        Some("0"),
        "0",
        "Spot instances (at most 1,000).",
    ),
    key(
        "fleets.core",
        Section,
        Required,
        None,
        "",
        "Core nodes (HDFS and work): at least one instance.",
    ),
    key(
        "fleets.core.instance_types",
        TextList,
        Required,
        None,
        "[\"m5.xlarge\", \"m5a.xlarge\"]",
        "EC2 instance types EMR may choose from (1 to 5: EMR's limit without an allocation strategy).",
    ),
    key(
        "fleets.core.on_demand",
        Whole { unit: "instances" },
        Optional,
        Some("0"),
        "2",
        "On-demand instances (at most 1,000).",
    ),
    key(
        "fleets.core.spot",
        Whole { unit: "instances" },
        Optional,
        Some("0"),
        "2",
        "Spot instances (at most 1,000).",
    ),
    key(
        "fleets.task",
        Section,
        Optional,
        None,
        "",
        "Optional task nodes (work only).",
    ),
    key(
        "fleets.task.instance_types",
        TextList,
        Required,
        None,
        "[\"m5.xlarge\"]",
        "EC2 instance types EMR may choose from (1 to 5: EMR's limit without an allocation strategy).",
    ),
    key(
        "fleets.task.on_demand",
        Whole { unit: "instances" },
        Optional,
        Some("0"),
        "0",
        "On-demand instances (at most 1,000).",
    ),
    key(
        "fleets.task.spot",
        Whole { unit: "instances" },
        Optional,
        Some("0"),
        "4",
        "Spot instances (at most 1,000).",
    ),
    key(
        "idle",
        Section,
        Optional,
        None,
        "",
        "When the cluster counts as unused, and how long it may live.",
    ),
    key(
        "idle.timeout_minutes",
        Whole { unit: "minutes" },
        Optional,
        Some("60"),
        "60",
        "Minutes without steps, Spark work or notebook activity before the idle sweep terminates the cluster (5 to 10080).",
    ),
    key(
        "idle.grace_minutes",
        Whole { unit: "minutes" },
        Optional,
        Some("30"),
        "30",
        "Minutes after the cluster is ready during which it never counts as idle (0 to 1440).",
    ),
    key(
        "idle.max_lifetime_hours",
        Whole { unit: "hours" },
        Optional,
        Some("12"),
        "12",
        "Hours after which the cluster is terminated whatever its activity, unless kept alive (1 to 720).",
    ),
    key(
        "idle.warn_minutes",
        Whole { unit: "minutes" },
        Optional,
        Some("15"),
        "15",
        "Minutes before an idle or lifetime termination that the sweep warns on the stack's topic (0 to 1440; 0: never).",
    ),
    key(
        "schedule",
        Section,
        Optional,
        None,
        "",
        "Start a cluster on a schedule (EventBridge Scheduler). Without it, clusters start by trigger or by hand.",
    ),
    key(
        "schedule.cron",
        Text,
        Optional,
        None,
        "\"cron(0 7 ? * MON-FRI *)\"",
        "When a run starts. EventBridge cron: minutes hours day-of-month month day-of-week year, one of the two days `?`. A cluster takes 7 to 20 minutes to be ready (longer with heavy bootstraps): to have it ready at a time, use ready_by instead.",
    ),
    key(
        "schedule.ready_by",
        Text,
        Optional,
        None,
        "\"cron(0 9 ? * MON-FRI *)\"",
        "Instead of cron: when the cluster must be ready (one minute, hours as numbers, from 01:00 on). The schedule fires an hour earlier; the run creates the cluster at ready_by minus the profile's startup p95 (of its last 20 starts; 20 minutes until it has 5) minus 2 minutes, and the idle grace period counts from ready_by.",
    ),
    key(
        "schedule.timezone",
        Text,
        Required,
        None,
        "\"Europe/Berlin\"",
        "IANA time zone of the cron expression.",
    ),
    key(
        "tags",
        TextMap {
            line: "a tag",
            value: "a tag's value must be text in quotes, like \"analytics\"",
            of_users: false,
        },
        Optional,
        None,
        "",
        "Extra tags on the cluster, `key = \"value\"` (at most 47; keys starting with `sparkhub:` or `aws:` are reserved, and a tag may not be named like a top-level key). Every line below `[tags]` is a tag until the next `[section]`: write top-level keys before the first section.",
    ),
    key(
        "steps",
        Sections,
        Optional,
        None,
        "",
        "Steps run in order once the cluster is ready, each a `[[steps]]` section. A pipeline profile needs at least one.",
    ),
    key(
        "steps[].name",
        Text,
        Required,
        None,
        "\"train\"",
        "The step's name (1 to 256 characters).",
    ),
    key(
        "steps[].jar",
        Text,
        Optional,
        Some("\"command-runner.jar\""),
        "\"command-runner.jar\"",
        "The JAR EMR runs.",
    ),
    key(
        "steps[].args",
        TextList,
        Optional,
        Some("[]"),
        "[\"spark-submit\", \"s3://my-ml-code/train.py\", \"{object}\"]",
        "Its arguments. `{object}`, as a whole argument, becomes the `s3://` URI of the object that started the run. Every `s3://` location must lie in `[access]`.",
    ),
    key(
        "steps[].action_on_failure",
        Choice(&["CANCEL_AND_WAIT", "CONTINUE", "TERMINATE_CLUSTER"]),
        Optional,
        Some("\"CANCEL_AND_WAIT\""),
        "\"TERMINATE_CLUSTER\"",
        "What EMR does when the step fails: cancel the later steps and wait, go on, or terminate the cluster.",
    ),
    key(
        "event_triggers",
        Sections,
        Optional,
        None,
        "",
        "EventBridge events that start a run, each an `[[event_triggers]]` section (a model-monitoring alarm, an upstream job's end, a custom event). Step arguments take values from the event as `{event:detail.alarmName}`, each a whole argument of letters, digits and `._-=+/:@`.",
    ),
    key(
        "event_triggers[].source",
        Text,
        Required,
        None,
        "\"aws.cloudwatch\"",
        "The event's source.",
    ),
    key(
        "event_triggers[].detail_type",
        Text,
        Required,
        None,
        "\"CloudWatch Alarm State Change\"",
        "The event's detail-type.",
    ),
    key(
        "event_triggers[].detail",
        Text,
        Optional,
        None,
        "'{\"alarmName\": [\"model-drift\"], \"state\": {\"value\": [\"ALARM\"]}}'",
        "An EventBridge pattern over the event's detail, as JSON; without it every event of the source and type starts a run.",
    ),
    key(
        "triggers",
        Sections,
        Optional,
        None,
        "",
        "S3 locations whose new objects start a run, each a `[[triggers]]` section (the profile needs steps).",
    ),
    key(
        "triggers[].bucket",
        Text,
        Required,
        None,
        "\"training-data-example\"",
        "The bucket's name (it must send events to EventBridge; the location must lie in `access.read`).",
    ),
    key(
        "triggers[].prefix",
        Text,
        Optional,
        Some("\"\""),
        "\"incoming/\"",
        "Only keys starting with this.",
    ),
    key(
        "triggers[].suffix",
        Text,
        Optional,
        Some("\"\""),
        "\".csv\"",
        "Only keys ending with this.",
    ),
];

/// The key at `path` (`steps[].name`, with `[]` for any element).
pub fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// The required keys' paths.
pub fn required() -> impl Iterator<Item = &'static str> {
    KEYS.iter().filter(|k| k.need == Required).map(|k| k.path)
}

/// Top-level keys that are values, not sections: the ones a line written
/// below a `[section]` can have been meant as.
fn is_top_level_value(name: &str) -> bool {
    KEYS.iter()
        .any(|k| k.path == name && !matches!(k.kind, Section | Sections | TextMap { .. }))
}

/// What the value must be, in words, with an example.
pub fn rule(key: &Key) -> String {
    let example = if key.example.is_empty() {
        String::new()
    } else {
        format!(", like {}", key.example)
    };
    let last = key.path.rsplit('.').next().unwrap_or(key.path);
    match key.kind {
        Text => format!("must be text in quotes{example}"),
        TextList => format!("must be a list of texts in quotes{example}"),
        WholeList { unit } => format!("must be a list of whole numbers of {unit}{example}"),
        Whole { unit } => format!("must be a whole number of {unit}{example}"),
        Choice(values) => format!(
            "must be one of {}",
            values
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Section => format!(
            "must be a section, [{}], with its keys on the lines below",
            key.path
        ),
        Sections => format!(
            "must be [[{last}]] sections, one per {}",
            &last[..last.len() - 1]
        ),
        TextMap { .. } => format!(
            "must be a section, [{}], of key = \"value\" lines",
            key.path
        ),
    }
}

/// A value as the messages show it: its kind, and short values themselves.
fn described(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) if s.chars().count() <= 40 => format!("text ({s:?})"),
        toml::Value::String(_) => "text".into(),
        toml::Value::Integer(i) => format!("the number {i}"),
        toml::Value::Float(f) => format!("the number {f:?} (with a decimal point)"),
        toml::Value::Boolean(b) => format!("{b}"),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "a list".into(),
        toml::Value::Table(_) => "a section".into(),
    }
}

/// Whether `value` has the key's kind (a list's elements are checked one by
/// one by the caller).
fn fits(kind: Kind, value: &toml::Value) -> bool {
    match (kind, value) {
        (Text, toml::Value::String(_)) => true,
        (TextList | WholeList { .. }, toml::Value::Array(_)) => true,
        (Whole { .. }, toml::Value::Integer(i)) => u32::try_from(*i).is_ok(),
        (Choice(values), toml::Value::String(s)) => values.contains(&s.as_str()),
        (Section | TextMap { .. }, toml::Value::Table(_)) => true,
        (Sections, toml::Value::Array(items)) => items.iter().all(toml::Value::is_table),
        _ => false,
    }
}

/// Checks the shape of a profile's TOML against [`KEYS`]: every unknown key,
/// every value of the wrong kind, every top-level key written below a
/// section, each in plain words. What it reports is removed from `table`, so
/// that deserializing what is left succeeds and the value rules can still
/// check the rest (a removed key gets its default, and the caller does not
/// report its field again).
pub fn check_shape(table: &mut toml::Table) -> Shape {
    let mut shape = Shape::default();
    let users: Vec<String> = table
        .get("users")
        .and_then(toml::Value::as_array)
        .map(|users| {
            users
                .iter()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    walk(table, "", "", &users, &mut shape);
    shape
}

/// What [`check_shape`] found.
#[derive(Debug, Default)]
pub struct Shape {
    pub problems: Vec<FieldError>,
    /// The fields whose value was of the wrong kind and was taken out, so
    /// that the profile has the default there.
    pub defaulted: Vec<String>,
}

/// `at`: the field as messages write it (`steps[1]`); `pattern`: the same
/// as [`KEYS`] writes it (`steps[]`); `users`: the profile's `users`.
fn walk(table: &mut toml::Table, at: &str, pattern: &str, users: &[String], out: &mut Shape) {
    let join = |base: &str, name: &str| {
        if base.is_empty() {
            name.to_owned()
        } else {
            format!("{base}.{name}")
        }
    };
    let names: Vec<String> = table.keys().cloned().collect();
    for name in names {
        let field = join(at, &name);
        let path = join(pattern, &name);
        let problem = |message: String| FieldError {
            field: field.clone(),
            message,
        };
        let Some(key) = find(&path) else {
            let message = if !at.is_empty() && is_top_level_value(&name) {
                format!(
                    "`{name}` is a top-level key; it must come before the first [section] (TOML puts every line below a section header into that section)"
                )
            } else {
                unknown(pattern, &name)
            };
            out.problems.push(problem(message));
            table.remove(&name);
            continue;
        };
        let value = table.get_mut(&name).expect("a key of the table");
        if !fits(key.kind, value) {
            let message = match (key.kind, &*value) {
                (Whole { .. }, toml::Value::Integer(i)) if *i < 0 => {
                    format!("{}; {i} is negative", rule(key))
                }
                (Whole { .. }, toml::Value::Integer(i)) => {
                    format!("{}; {i} is too large", rule(key))
                }
                (Choice(_), toml::Value::String(s)) => {
                    format!("{}; {s:?} is none of them", rule(key))
                }
                (Whole { .. }, toml::Value::String(s)) if s.trim().parse::<u32>().is_ok() => {
                    format!("{} (without quotes); it is text ({s:?})", rule(key))
                }
                (Sections, toml::Value::Array(_)) => {
                    format!("{}; it is a list of values", rule(key))
                }
                _ => format!("{}; it is {}", rule(key), described(value)),
            };
            out.problems.push(problem(message));
            out.defaulted.push(field.clone());
            table.remove(&name);
            continue;
        }
        match (key.kind, value) {
            (TextList, toml::Value::Array(items)) => {
                let bad: Vec<usize> = (0..items.len()).filter(|i| !items[*i].is_str()).collect();
                for &i in &bad {
                    out.problems.push(FieldError {
                        field: format!("{field}[{i}]"),
                        message: format!(
                            "must be text in quotes (each element of {name}); it is {}",
                            described(&items[i])
                        ),
                    });
                }
                for i in bad.into_iter().rev() {
                    items.remove(i);
                }
            }
            (WholeList { unit }, toml::Value::Array(items)) => {
                let whole =
                    |v: &toml::Value| v.as_integer().is_some_and(|n| u32::try_from(n).is_ok());
                let bad: Vec<usize> = (0..items.len()).filter(|i| !whole(&items[*i])).collect();
                for &i in &bad {
                    out.problems.push(FieldError {
                        field: format!("{field}[{i}]"),
                        message: format!(
                            "must be a whole number of {unit} (each element of {name}); it is {}",
                            described(&items[i])
                        ),
                    });
                }
                for i in bad.into_iter().rev() {
                    items.remove(i);
                }
            }
            (Section, toml::Value::Table(inner)) => walk(inner, &field, &path, users, out),
            (Sections, toml::Value::Array(items)) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let toml::Value::Table(inner) = item {
                        walk(
                            inner,
                            &format!("{field}[{i}]"),
                            &format!("{path}[]"),
                            users,
                            out,
                        );
                    }
                }
            }
            (
                TextMap {
                    line,
                    value: rule,
                    of_users,
                },
                toml::Value::Table(inner),
            ) => {
                let tags: Vec<String> = inner.keys().cloned().collect();
                for tag in tags {
                    let value = &inner[&tag];
                    // A line named like one of the profile's users is one
                    // of theirs, whatever else the name means.
                    let misplaced = !(of_users && users.contains(&tag));
                    let section = find(&tag).filter(|k| {
                        misplaced && matches!(k.kind, Section | Sections | TextMap { .. })
                    });
                    let message = if let Some(section) = section {
                        format!(
                            "`{tag}` is one of sparkhub's sections ([{}]); written below [{name}], TOML makes it {line}",
                            section.path
                        )
                    } else if misplaced && is_top_level_value(&tag) {
                        format!(
                            "`{tag}` is a top-level key; it must come before the first [section] (below [{name}], TOML makes it {line})"
                        )
                    } else if !value.is_str() {
                        format!("{rule}; it is {}", described(value))
                    } else {
                        continue;
                    };
                    out.problems.push(FieldError {
                        field: format!("{field}.{tag}"),
                        message,
                    });
                    inner.remove(&tag);
                }
            }
            _ => {}
        }
    }
}

/// The message for an unknown key at `pattern`: a close known key is named.
fn unknown(pattern: &str, name: &str) -> String {
    let prefix = if pattern.is_empty() {
        String::new()
    } else {
        format!("{pattern}.")
    };
    let closest = KEYS
        .iter()
        .filter_map(|k| k.path.strip_prefix(&prefix))
        .filter(|rest| !rest.contains('.') && !rest.contains('['))
        .map(|known| (strsim::damerau_levenshtein(known, name), known))
        .filter(|(distance, known)| *distance <= 2.max(known.len() / 4))
        .min();
    match closest {
        Some((_, known)) => format!("is not a key sparkhub knows; did you mean `{known}`?"),
        None => "is not a key sparkhub knows (a typo?); see the profile keys in the README".into(),
    }
}

/// The README's key reference: one table of every key, its kind, default
/// and meaning.
pub fn reference_markdown() -> String {
    let mut out = String::from("| key | value | default | what it does |\n|---|---|---|---|\n");
    for key in KEYS {
        let value = match key.kind {
            Text => "text".to_owned(),
            TextList => "list of texts".to_owned(),
            WholeList { unit } => format!("list of whole numbers ({unit})"),
            Whole { unit } => format!("whole number ({unit})"),
            Choice(values) => values
                .iter()
                .map(|v| format!("`\"{v}\"`"))
                .collect::<Vec<_>>()
                .join(" or "),
            Section => format!("section `[{}]`", key.path),
            Sections => format!("sections `[[{}]]`", key.path),
            TextMap { .. } => format!("section `[{}]` of `key = \"value\"`", key.path),
        };
        // A key required in an optional section is required only there.
        let parent = key
            .path
            .rsplit_once('.')
            .map(|(parent, _)| parent.trim_end_matches("[]"));
        let optional_parent = parent
            .and_then(find)
            .filter(|p| p.need == Optional || p.kind == Sections);
        let default = match (key.need, key.default, optional_parent) {
            (Required, _, Some(parent)) if parent.kind == Sections => {
                format!("required in each `[[{}]]`", parent.path)
            }
            (Required, _, Some(parent)) => format!("required in `[{}]`", parent.path),
            (Required, _, None) => "required".to_owned(),
            (Optional, Some(d), _) => format!("`{d}`"),
            (Optional, None, _) => "—".to_owned(),
        };
        let example = if key.example.is_empty() || matches!(key.kind, Choice(_)) {
            String::new()
        } else {
            format!(" Example: `{}`", key.example)
        };
        let _ = writeln!(
            out,
            "| `{}` | {value} | {default} | {}{example} |",
            key.path,
            key.about.replace('|', "\\|")
        );
    }
    out
}
