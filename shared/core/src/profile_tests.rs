use super::*;
use crate::profile::{MAX_PROFILE_BYTES, ProfileParseError};

const TUTORIAL: &str = include_str!("../../../profiles/tutorial.toml");
const RETRAIN: &str = include_str!("../../../profiles/retrain.toml");

fn tutorial() -> RawProfile {
    RawProfile::from_toml(TUTORIAL).expect("the tutorial profile parses")
}

/// Field names of every error, in order.
fn fields(p: &RawProfile) -> Vec<String> {
    match p.validate() {
        Ok(_) => vec![],
        Err(ValidationErrors(errors)) => errors.into_iter().map(|e| e.field).collect(),
    }
}

#[test]
fn example_profiles_are_valid() {
    assert_eq!(fields(&tutorial()), Vec::<String>::new());
    let retrain = Profile::parse(RETRAIN).unwrap();
    assert_eq!(retrain.kind, ProfileKind::Pipeline);
}

#[test]
fn tutorial_profile_is_the_tutorial_cluster() {
    let p = tutorial();
    assert_eq!(
        p.applications,
        ["Spark", "Hadoop", "Livy", "Hive", "JupyterHub"]
    );
    assert_eq!(
        p.python_packages,
        ["seaborn", "matplotlib", "numpy", "pandas", "boto3"]
    );
    assert_eq!((p.fleets.master.on_demand, p.fleets.core.on_demand), (1, 2));
    assert_eq!(p.fleets.core.instance_types, ["m5.xlarge"]);
    assert!(p.release_label.starts_with("emr-7."), "defaults to emr-7");
    assert_eq!(p.schedule.as_ref().unwrap().timezone, "Europe/Berlin");
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let text = TUTORIAL.replace(
        "kind = \"interactive\"",
        "kind = \"interactive\"\nrelase_label = \"emr-7.1.0\"",
    );
    let err = RawProfile::from_toml(&text).unwrap_err().to_string();
    assert!(err.contains("relase_label"), "{err}");
    let text = TUTORIAL.replace("grace_minutes = 30", "grace_minutes = 30\ngrace = 1");
    assert!(
        RawProfile::from_toml(&text)
            .unwrap_err()
            .to_string()
            .contains("grace")
    );
}

#[test]
fn wrong_types_are_rejected() {
    let text = TUTORIAL.replace("on_demand = 2", "on_demand = \"two\"");
    assert!(RawProfile::from_toml(&text).is_err());
    let text = TUTORIAL.replace("kind = \"interactive\"", "kind = \"batch\"");
    assert!(
        RawProfile::from_toml(&text)
            .unwrap_err()
            .to_string()
            .contains("batch")
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let mut p = tutorial();
    p.users = vec!["philipp".into(), "admin".into(), "bob;rm".into()];
    p.release_label = "emr-5.36.0".into();
    p.fleets.master.on_demand = 2;
    p.idle.timeout_minutes = 1;
    let err = p.validate().unwrap_err();
    let text = err.to_string();
    assert_eq!(err.0.len(), 4, "{text}");
    assert!(
        text.contains(
            r#"users[2]: "bob;rm" is not a valid Linux user name (^[a-z_][a-z0-9_-]{0,31}$)"#
        ),
        "{text}"
    );
    assert!(text.contains("release_label: \"emr-5.36.0\""), "{text}");
    assert!(
        text.contains("fleets.master: the master fleet needs exactly 1 instance"),
        "{text}"
    );
    assert!(
        text.contains("idle.timeout_minutes: 1 is out of range (5 to 10080 minutes)"),
        "{text}"
    );
}

/// Each case changes one field of the valid tutorial profile and names the
/// field the validation must report.
#[test]
fn each_rule_flips_validation() {
    type Change = fn(&mut RawProfile);
    let cases: &[(&str, Change, &str)] = &[
        ("bad name", |p| p.name = "My Profile".into(), "name"),
        (
            "emr-6 is allowed",
            |p| p.release_label = "emr-6.15.0".into(),
            "",
        ),
        (
            "emr-8 is not",
            |p| p.release_label = "emr-8.0.0".into(),
            "release_label",
        ),
        (
            "garbage label",
            |p| p.release_label = "7.1".into(),
            "release_label",
        ),
        (
            "no applications",
            |p| {
                p.applications.clear();
                p.users.clear();
                p.emails.clear();
            },
            "applications",
        ),
        (
            "unknown application",
            |p| p.applications.push("Sparkk".into()),
            "applications[5]",
        ),
        (
            "duplicate application",
            |p| p.applications.push("Spark".into()),
            "applications[5]",
        ),
        (
            "package with shell",
            |p| p.python_packages.push("x; rm -rf /".into()),
            "python_packages[5]",
        ),
        (
            "package with version",
            |p| p.python_packages.push("torch>=2.1".into()),
            "",
        ),
        (
            "package with bad op",
            |p| p.python_packages.push("torch=2".into()),
            "python_packages[5]",
        ),
        (
            "upper-case user",
            |p| p.users.push("Bob".into()),
            "users[2]",
        ),
        (
            "duplicate user",
            |p| p.users.push("admin".into()),
            "users[2]",
        ),
        (
            "a user named like EMR's step account",
            |p| p.users.push("hadoop".into()),
            "users[2]",
        ),
        (
            "EMR's default hub admin",
            |p| p.users.push("jovyan".into()),
            "users[2]",
        ),
        (
            "users without hub",
            |p| p.applications.retain(|a| a != "JupyterHub"),
            "users",
        ),
        (
            "empty key",
            |p| p.key_name = Some(String::new()),
            "key_name",
        ),
        (
            "a key name that is a shell command",
            |p| p.key_name = Some("k; touch x #".into()),
            "key_name",
        ),
        (
            "a key name with $( )",
            |p| p.key_name = Some("k$(id)".into()),
            "key_name",
        ),
        (
            "a key name EC2 would take: spaces, brackets, slashes",
            |p| p.key_name = Some("team key (prod) [eu-central-1]/v2@ops+1=a,b#c".into()),
            "",
        ),
        (
            "a key name with a leading space",
            |p| p.key_name = Some(" team".into()),
            "key_name",
        ),
        (
            "a key name over 255 characters",
            |p| p.key_name = Some("k".repeat(256)),
            "key_name",
        ),
        (
            "a key name of 255 characters",
            |p| p.key_name = Some("k".repeat(255)),
            "",
        ),
        (
            "a key name beyond ASCII",
            |p| p.key_name = Some("schlüssel".into()),
            "key_name",
        ),
        (
            "log uri not s3",
            |p| p.log_uri = Some("/var/log".into()),
            "log_uri",
        ),
        (
            "notebook bucket",
            |p| p.notebook_bucket = Some("Bad_Bucket".into()),
            "notebook_bucket",
        ),
        (
            "subnet",
            |p| p.subnet_ids.push("sub-123".into()),
            "subnet_ids[0]",
        ),
        (
            "access location is a file",
            |p| p.access.read.push("s3://my-code/clean.py".into()),
            "access.read[0]",
        ),
        (
            "access location with a wildcard",
            |p| p.access.write.push("s3://my-models/*/".into()),
            "access.write[0]",
        ),
        (
            "access location not s3",
            |p| p.access.read.push("https://example.com/".into()),
            "access.read[0]",
        ),
        (
            "good access",
            |p| {
                p.access.read.push("s3://my-code/".into());
                p.access.write.push("s3://my-models/team-a/".into())
            },
            "",
        ),
        (
            "step reads outside access",
            |p| {
                p.steps.push(StepSpec {
                    name: "train".into(),
                    jar: "command-runner.jar".into(),
                    args: vec!["spark-submit".into(), "s3://other-code/train.py".into()],
                    action_on_failure: ActionOnFailure::Continue,
                })
            },
            "steps[0].args[1]",
        ),
        (
            "step reads inside access",
            |p| {
                p.access.read.push("s3://my-code/jobs/".into());
                p.steps.push(StepSpec {
                    name: "train".into(),
                    jar: "command-runner.jar".into(),
                    args: vec!["spark-submit".into(), "s3://my-code/jobs/train.py".into()],
                    action_on_failure: ActionOnFailure::Continue,
                })
            },
            "",
        ),
        (
            "a prefix is not a folder",
            |p| {
                p.access.read.push("s3://my-code/jobs/".into());
                p.steps.push(StepSpec {
                    name: "train".into(),
                    jar: "command-runner.jar".into(),
                    args: vec!["--py-files=s3://my-code/jobs-private/x.py".into()],
                    action_on_failure: ActionOnFailure::Continue,
                })
            },
            "steps[0].args[0]",
        ),
        (
            "the v2 policy tag is sparkhub's",
            |p| {
                p.tags.insert(
                    "for-use-with-amazon-emr-managed-policies".into(),
                    "false".into(),
                );
            },
            "tags.\"for-use-with-amazon-emr-managed-policies\"",
        ),
        (
            "no master types",
            |p| p.fleets.master.instance_types.clear(),
            "fleets.master.instance_types",
        ),
        (
            "bad instance type",
            |p| p.fleets.core.instance_types.push("xlarge".into()),
            "fleets.core.instance_types[1]",
        ),
        ("empty core", |p| p.fleets.core.on_demand = 0, "fleets.core"),
        (
            "spot core",
            |p| {
                p.fleets.core.on_demand = 0;
                p.fleets.core.spot = 3
            },
            "",
        ),
        (
            "spot master",
            |p| {
                p.fleets.master.on_demand = 0;
                p.fleets.master.spot = 1
            },
            "",
        ),
        (
            "bad task fleet",
            |p| {
                p.fleets.task = Some(Fleet {
                    instance_types: vec![],
                    on_demand: 0,
                    spot: 2,
                })
            },
            "fleets.task.instance_types",
        ),
        (
            "grace",
            |p| p.idle.grace_minutes = 2000,
            "idle.grace_minutes",
        ),
        (
            "lifetime",
            |p| p.idle.max_lifetime_hours = 0,
            "idle.max_lifetime_hours",
        ),
        (
            "unix cron",
            |p| p.schedule.as_mut().unwrap().cron = "0 8 * * 1-5".into(),
            "schedule.cron",
        ),
        (
            "five fields",
            |p| p.schedule.as_mut().unwrap().cron = "cron(0 8 * * MON-FRI)".into(),
            "schedule.cron",
        ),
        (
            "both days",
            |p| p.schedule.as_mut().unwrap().cron = "cron(0 8 * * MON-FRI *)".into(),
            "schedule.cron",
        ),
        (
            "time zone",
            |p| p.schedule.as_mut().unwrap().timezone = "Berlin".into(),
            "schedule.timezone",
        ),
        (
            "reserved tag",
            |p| {
                p.tags.insert("sparkhub:managed".into(), "false".into());
            },
            "tags.\"sparkhub:managed\"",
        ),
        (
            "aws tag",
            |p| {
                p.tags.insert("AWS:x".into(), "y".into());
            },
            "tags.\"AWS:x\"",
        ),
        (
            "pipeline without steps",
            |p| p.kind = ProfileKind::Pipeline,
            "steps",
        ),
        (
            "trigger bucket",
            |p| {
                p.steps = vec![step()];
                p.triggers.push(Trigger {
                    bucket: "NO".into(),
                    prefix: String::new(),
                    suffix: String::new(),
                })
            },
            "triggers[0].bucket",
        ),
        (
            "trigger outside access",
            |p| {
                p.steps = vec![step()];
                p.access.read.push("s3://data-1/other/".into());
                p.triggers.push(Trigger {
                    bucket: "data-1".into(),
                    prefix: "in/".into(),
                    suffix: String::new(),
                })
            },
            "triggers[0]",
        ),
        (
            "trigger inside access",
            |p| {
                p.steps = vec![step()];
                p.access.read.push("s3://data-1/".into());
                p.triggers.push(Trigger {
                    bucket: "data-1".into(),
                    prefix: "in/".into(),
                    suffix: String::new(),
                })
            },
            "",
        ),
        (
            "trigger without steps",
            |p| {
                p.access.read.push("s3://data-1/in/".into());
                p.triggers.push(Trigger {
                    bucket: "data-1".into(),
                    prefix: "in/".into(),
                    suffix: String::new(),
                })
            },
            "triggers",
        ),
        (
            "zero clusters",
            |p| p.max_active_clusters = Some(0),
            "max_active_clusters",
        ),
        (
            "unnamed step",
            |p| {
                p.steps.push(StepSpec {
                    name: " ".into(),
                    jar: "command-runner.jar".into(),
                    args: vec![],
                    action_on_failure: ActionOnFailure::Continue,
                })
            },
            "steps[0].name",
        ),
    ];
    for (what, change, field) in cases {
        let mut p = tutorial();
        change(&mut p);
        let expected: Vec<String> = if field.is_empty() {
            vec![]
        } else {
            vec![field.to_string()]
        };
        assert_eq!(fields(&p), expected, "{what}: {:?}", p.validate());
    }
}

fn step() -> StepSpec {
    StepSpec {
        name: "s".into(),
        jar: "command-runner.jar".into(),
        args: vec![],
        action_on_failure: ActionOnFailure::Continue,
    }
}

#[test]
fn triggers_match_bucket_prefix_and_suffix() {
    let t = Trigger {
        bucket: "data-1".into(),
        prefix: "incoming/".into(),
        suffix: ".csv".into(),
    };
    assert!(t.matches("data-1", "incoming/2026/a.csv"));
    assert!(!t.matches("data-2", "incoming/2026/a.csv"));
    assert!(!t.matches("data-1", "archive/a.csv"));
    assert!(!t.matches("data-1", "incoming/a.parquet"));
}

#[test]
fn interactive_profiles_default_to_one_active_cluster_pipelines_to_five() {
    assert_eq!(Profile::parse(TUTORIAL).unwrap().active_cluster_limit(), 1);
    assert_eq!(
        Profile::parse(RETRAIN).unwrap().active_cluster_limit(),
        DEFAULT_PIPELINE_LIMIT
    );
    let mut p = Profile::parse(TUTORIAL).unwrap();
    p.max_active_clusters = Some(3);
    assert_eq!(p.active_cluster_limit(), 3);
}

/// The profile a new user writes with five mistakes: every one is reported,
/// each naming its field, in one answer.
#[test]
fn unknown_missing_and_bad_keys_are_reported_together() {
    let text = r#"
name = "team-a"
colour = "blue"
release_label = "emr-7.x"
applications = ["Spark", "JupyterHub"]
users = ["alice", "bob;rm"]

[fleets.master]
instance_types = ["m5.xlarge"]
on_demand = 1

[fleets.core]
instance_types = ["m5.xlarge", "m5a.xlarge", "m5d.xlarge", "m6i.xlarge", "m6a.xlarge", "r5.xlarge"]
on_demand = 4294967295
spot = 1

[[steps]]
args = ["spark-submit", "s3://code/x.py"]
"#;
    let Err(ProfileParseError::Invalid(ValidationErrors(errors))) = Profile::parse(text) else {
        panic!("an invalid profile is Invalid")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    for field in [
        "colour",
        "steps[0].name",
        "release_label",
        "users[1]",
        "fleets.core.instance_types",
        "fleets.core.on_demand",
        "steps[0].args[1]",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    let text = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("colour: is not a key sparkhub knows"),
        "{text}"
    );
    assert!(text.contains("steps[0].name: is required"), "{text}");
    assert!(
        !fields.contains(&"name"),
        "a key reported missing is not reported again as a bad value: {fields:?}"
    );
}

#[test]
fn a_profile_without_its_required_keys_names_each_of_them() {
    let Err(ProfileParseError::Invalid(ValidationErrors(errors))) =
        Profile::parse("kind = \"interactive\"\n[fleets.master]\non_demand = 1\n")
    else {
        panic!("an empty profile is Invalid")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    for f in [
        "name",
        "applications",
        "fleets.core",
        "fleets.master.instance_types",
    ] {
        assert!(fields.contains(&f), "{f}: {fields:?}");
    }
    let fleets = errors.iter().find(|e| e.field == "fleets.core").unwrap();
    assert!(
        fleets.message.starts_with("is required: Core nodes"),
        "{fleets:?}"
    );
}

#[test]
fn a_wrong_type_is_named_by_its_path() {
    let text = TUTORIAL.replace("timeout_minutes = 60", "timeout_minutes = \"an hour\"");
    let Err(ProfileParseError::Invalid(ValidationErrors(errors))) = Profile::parse(&text) else {
        panic!("a wrong type is Invalid, not unreadable")
    };
    assert_eq!(errors[0].field, "idle.timeout_minutes", "{errors:?}");
}

/// The values that become types (names, users, S3 locations) are checked
/// with the shape: each case edits the tutorial's text and names every field
/// `Profile::parse` must report, all in one answer.
#[test]
fn typed_values_are_reported_together_with_the_shape() {
    /// (what, text replaced in the tutorial → its replacement, fields reported)
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    );
    let cases: &[Case] = &[
        (
            "a bad user, a bad location and an unknown key",
            &[
                ("\"admin\"]", "\"Bob\"]\ncolour = \"blue\""),
                ("[tags]", "[access]\nread = [\"s3://data-1/in\"]\n\n[tags]"),
            ],
            &["colour", "users[1]", "access.read[0]"],
        ),
        (
            "a bad name, a log URI that is no s3:// URI, an unknown key in [idle]",
            &[
                ("\"tutorial\"", "\"Tutorial\""),
                ("key_name", "log_uri = \"/var/log\"\nkey_name"),
                ("grace_minutes = 30", "grace_minutes = 30\ngrace = 1"),
            ],
            &["idle.grace", "name", "log_uri"],
        ),
        (
            "a step action EMR does not have is a wrong type, named by its path",
            &[(
                "[tags]",
                "[[steps]]\nname = \"s\"\naction_on_failure = \"RETRY\"\n\n[tags]",
            )],
            &["steps[0].action_on_failure"],
        ),
        (
            "a bad name, a write location with a wildcard, a reserved user",
            &[
                ("\"tutorial\"", "\"Tutorial\""),
                ("\"admin\"]", "\"hadoop\"]"),
                ("[tags]", "[access]\nwrite = [\"s3://models/*/\"]\n\n[tags]"),
            ],
            &["name", "users[1]", "access.write[0]"],
        ),
    ];
    for (what, edits, expected) in cases {
        let mut text = TUTORIAL.to_owned();
        for (from, to) in *edits {
            assert!(text.contains(from), "{what}: {from:?} is in the tutorial");
            text = text.replacen(from, to, 1);
        }
        let Err(ProfileParseError::Invalid(ValidationErrors(errors))) = Profile::parse(&text)
        else {
            panic!("{what}: Invalid expected")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, *expected, "{what}: {errors:?}");
    }
}

/// A valid profile carries its values typed, as written.
#[test]
fn a_valid_profile_carries_its_names_users_and_locations_typed() {
    let text = TUTORIAL.replacen("key_name", "log_uri = \"s3://team-logs/emr/\"\nkey_name", 1)
        + "\n[access]\nread = [\"s3://data-1/in/\"]\nwrite = [\"s3://models-1/\"]\n";
    let p = Profile::parse(&text).unwrap();
    assert_eq!(p.name, ProfileName::parse("tutorial").unwrap());
    assert_eq!(
        p.users,
        [
            UserName::parse("philipp").unwrap(),
            UserName::parse("admin").unwrap()
        ]
    );
    assert_eq!(
        p.log_uri,
        Some(S3Uri::parse("s3://team-logs/emr/").unwrap())
    );
    assert_eq!(
        (p.access.read[0].bucket(), p.access.read[0].prefix()),
        ("data-1", "in/")
    );
    assert!(
        p.access
            .can_read(&S3Uri::parse("s3://models-1/v1/model.bin").unwrap())
    );
    assert!(
        !p.access
            .can_read(&S3Uri::parse("s3://data-1/out/x").unwrap())
    );
}

#[test]
fn not_toml_and_too_large_are_not_profiles() {
    assert!(matches!(
        Profile::parse("name = "),
        Err(ProfileParseError::NotToml(_))
    ));
    let huge = format!("{TUTORIAL}\n# {}\n", "x".repeat(MAX_PROFILE_BYTES));
    assert!(matches!(
        Profile::parse(&huge),
        Err(ProfileParseError::TooLarge { .. })
    ));
}

#[test]
fn emr_limits_are_validation_errors() {
    let mut p = tutorial();
    p.fleets.core.instance_types = [
        "m5.xlarge",
        "m5a.xlarge",
        "m5d.xlarge",
        "m6i.xlarge",
        "m6a.xlarge",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        fields(&p),
        Vec::<String>::new(),
        "five types are EMR's limit"
    );
    p.fleets.core.instance_types.push("r5.xlarge".into());
    assert_eq!(fields(&p), ["fleets.core.instance_types"]);

    let mut p = tutorial();
    p.fleets.master.on_demand = u32::MAX;
    p.fleets.master.spot = 1;
    assert_eq!(
        fields(&p),
        ["fleets.master.on_demand", "fleets.master"],
        "no overflow, no panic"
    );

    for (label, ok) in [
        ("emr-6.4.0", true),
        ("emr-6.15.0", true),
        ("emr-7.10.0", true),
        ("emr-6.3.1", false),
        ("emr-5.36.0", false),
        ("emr-7.1", false),
    ] {
        let mut p = tutorial();
        p.release_label = label.into();
        assert_eq!(fields(&p).is_empty(), ok, "{label}: {:?}", p.validate());
    }
}

#[test]
fn the_object_may_only_be_a_whole_step_argument() {
    let mut p = RawProfile::from_toml(RETRAIN).unwrap();
    p.steps[0].args = vec!["bash".into(), "-c".into(), "aws s3 cp {object} .".into()];
    let err = p.validate().unwrap_err().to_string();
    assert!(
        err.contains("steps[0].args[2]") && err.contains("whole argument"),
        "{err}"
    );
    p.steps[0].args = vec![
        "bash".into(),
        "-c".into(),
        "aws s3 cp \"$0\" .".into(),
        "{object}".into(),
    ];
    assert_eq!(fields(&p), Vec::<String>::new());
    p.steps[0].args = vec!["--input={object}".into()];
    assert!(p.validate().is_err());
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 3000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(14),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// A TOML value of any kind, nested a little.
    fn value() -> impl Strategy<Value = toml::Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(toml::Value::Integer),
            any::<bool>().prop_map(toml::Value::Boolean),
            ".{0,12}".prop_map(toml::Value::String),
            (-1e9f64..1e9).prop_map(toml::Value::Float),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
                proptest::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
            ]
        })
    }

    /// Mostly keys a profile has, sometimes others.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "name",
                "kind",
                "release_label",
                "applications",
                "users",
                "fleets",
                "master",
                "core",
                "task",
                "instance_types",
                "on_demand",
                "spot",
                "idle",
                "timeout_minutes",
                "steps",
                "args",
                "triggers",
                "bucket",
                "prefix",
                "access",
                "read",
                "write",
                "schedule",
                "cron",
                "timezone",
                "tags",
                "max_active_clusters",
            ])
            .prop_map(String::from),
            "[a-z_]{1,8}",
        ]
    }

    proptest! {
        #![proptest_config(config())]

        /// Arbitrary TOML documents: a profile or a typed error, never a panic.
        #[test]
        fn any_toml_document_is_a_profile_or_a_typed_error(
            table in proptest::collection::btree_map(key(), value(), 0..10)
        ) {
            let text = toml::to_string(&table.into_iter().collect::<toml::Table>()).unwrap_or_default();
            match Profile::parse(&text) {
                Ok(_) => {}
                Err(ProfileParseError::Invalid(errors)) => prop_assert!(!errors.0.is_empty()),
                Err(other) => prop_assert!(false, "valid TOML reported as {other}"),
            }
        }

        /// Any log_uri, [access] location or trigger prefix a profile
        /// accepts uses the one key character set, without `.`, `..` or
        /// empty segments: nothing in it can be read as a quote, a wildcard,
        /// a newline or a way up by IAM, YAML, a shell or Hadoop.
        #[test]
        fn every_accepted_location_is_plain(
            key in "[ -~\n\u{202e}]{0,24}",
            field in 0usize..3,
        ) {
            let uri = format!("s3://loc-1/{key}");
            let text = match field {
                0 => TUTORIAL.replacen("name = \"tutorial\"", &format!("name = \"tutorial\"\nlog_uri = {uri:?}"), 1),
                1 => format!("{TUTORIAL}\n[access]\nread = [{uri:?}]\n"),
                _ => RETRAIN.replacen("prefix = \"incoming/\"", &format!("prefix = {key:?}"), 1),
            };
            if let Ok(profile) = Profile::parse(&text) {
                let keys: Vec<String> = profile
                    .log_uri
                    .iter()
                    .map(|u| u.key().to_owned())
                    .chain(profile.access.read.iter().map(|l| l.prefix().to_owned()))
                    .chain(profile.triggers.iter().map(|t| t.prefix.clone()))
                    .collect();
                for k in keys {
                    prop_assert!(
                        k.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=+".contains(c)),
                        "{k:?}"
                    );
                    let segments: Vec<&str> = k.split('/').collect();
                    prop_assert!(
                        segments[..segments.len() - 1].iter().all(|s| !s.is_empty() && *s != "." && *s != ".."),
                        "{k:?}"
                    );
                }
            }
        }

        /// The tutorial with one value replaced by anything: never a panic.
        #[test]
        fn the_tutorial_with_one_value_changed_never_panics(
            line in 0usize..60,
            replacement in value(),
        ) {
            let mut lines: Vec<String> = TUTORIAL.lines().map(String::from).collect();
            let index = line % lines.len();
            if let Some((key, _)) = lines[index].split_once(" = ") {
                let rendered = toml::to_string(&toml::Table::from_iter([("v".to_string(), replacement)]))
                    .unwrap_or_default();
                if let Some(v) = rendered.strip_prefix("v = ") {
                    lines[index] = format!("{key} = {}", v.trim_end());
                }
            }
            let _ = Profile::parse(&lines.join("\n"));
        }

        /// Arbitrary bytes: never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Profile::parse(&String::from_utf8_lossy(&bytes));
        }
    }
}

/// Threat model, a profile's values: every location of a profile — log_uri,
/// [access], a trigger's prefix and suffix — uses the one key character set,
/// and a quote, a newline or `..` is refused naming the field.
#[test]
fn hostile_locations_are_refused_naming_the_field() {
    for (from, to, field) in [
        (
            "prefix = \"incoming/\"",
            "prefix = \"incoming/../profiles/\"",
            "triggers[0].prefix",
        ),
        (
            "prefix = \"incoming/\"",
            "prefix = \"incoming/\\\"\\n\"",
            "triggers[0].prefix",
        ),
    ] {
        let text = RETRAIN.replacen(from, to, 1);
        assert_ne!(text, RETRAIN);
        let e = Profile::parse(&text).unwrap_err().to_string();
        assert!(e.contains(field), "{to}: {e}");
    }
    for line in [
        "log_uri = \"s3://logs-1/a\\\"b/\"",
        "log_uri = \"s3://logs-1/a/../b/\"",
        "log_uri = \"s3://logs-1/a\\nb/\"",
        // Without the closing "/", logs/a would also grant logs/ab/.
        "log_uri = \"s3://logs-1/logs/a\"",
    ] {
        let text = TUTORIAL.replacen(
            "name = \"tutorial\"",
            &format!("name = \"tutorial\"\n{line}"),
            1,
        );
        let e = Profile::parse(&text).unwrap_err().to_string();
        assert!(e.contains("log_uri"), "{line}: {e}");
    }
}

#[test]
fn a_refused_key_name_names_the_field_and_the_rule() {
    let mut p = tutorial();
    p.key_name = Some("k; touch x #".into());
    let text = p.validate().unwrap_err().to_string();
    assert!(
        text.contains("key_name: \"k; touch x #\" is not a key pair name sparkhub accepts")
            && text
                .contains("ASCII letters, digits, spaces (not first or last) and ._-:/()#,@[]+="),
        "{text}"
    );
}

/// The problems of one parse, as "field: message" lines.
fn problems(text: &str) -> Vec<String> {
    match Profile::parse(text) {
        Ok(_) => vec![],
        Err(ProfileParseError::Invalid(ValidationErrors(errors))) => {
            errors.iter().map(ToString::to_string).collect()
        }
        Err(other) => panic!("valid TOML reported as {other}"),
    }
}

/// The issue's file: a wrong type, a typo and a reserved user, each named in
/// plain words, in one answer.
#[test]
fn a_wrong_type_a_typo_and_a_reserved_user_are_all_named_in_plain_words() {
    let text = TUTORIAL
        .replace("timeout_minutes = 60", "timeout_minutes = \"60\"")
        .replace("python_packages", "python_package")
        .replace("\"admin\"]", "\"root\"]");
    let found = problems(&text);
    assert_eq!(found.len(), 3, "{found:#?}");
    let all = found.join("\n");
    assert!(
        all.contains(
            "idle.timeout_minutes: must be a whole number of minutes, like 60 (without quotes)"
        ),
        "{all}"
    );
    assert!(
        all.contains(
            "python_package: is not a key sparkhub knows; did you mean `python_packages`?"
        ),
        "{all}"
    );
    assert!(all.contains("users[1]: \"root\""), "{all}");
    for rust in [
        "expected u32",
        "invalid type",
        "unknown variant",
        "sequence",
    ] {
        assert!(!all.contains(rust), "{rust} in {all}");
    }
}

/// One broken profile per case, each alone (exactly its field, in its
/// words), then all of them in one file: every problem reported.
#[test]
fn broken_profiles_each_alone_and_all_together() {
    // (text in the tutorial → replacement, field, words in the message)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "timeout_minutes = 60",
            "timeout_minutes = \"60\"",
            "idle.timeout_minutes",
            "must be a whole number of minutes, like 60 (without quotes)",
        ),
        (
            "grace_minutes = 30",
            "grace_minutes = -5",
            "idle.grace_minutes",
            "whole number of minutes, like 30; -5 is negative",
        ),
        (
            "max_lifetime_hours = 12",
            "max_lifetime_hours = 1.5",
            "idle.max_lifetime_hours",
            "must be a whole number of hours, like 12; it is the number 1.5",
        ),
        (
            "kind = \"interactive\"",
            "kind = \"batch\"",
            "kind",
            "must be one of \"interactive\", \"pipeline\"; \"batch\" is none of them",
        ),
        (
            "users = [\"philipp\", \"admin\"]",
            "users = \"philipp\"",
            "users",
            "must be a list of texts in quotes, like [\"alice\", \"bob\"]; it is text (\"philipp\")",
        ),
        (
            "\"pandas\", \"boto3\"]",
            "\"pandas\", 3]",
            "python_packages[4]",
            "must be text in quotes",
        ),
        (
            "key_name = \"sparkhub-tutorial\"",
            "key_name = true",
            "key_name",
            "must be text in quotes, like \"team-a\"; it is true",
        ),
        (
            "on_demand = 2",
            "on_demand = 99999999999",
            "fleets.core.on_demand",
            "99999999999 is too large",
        ),
        (
            "[fleets.master]",
            "access = \"s3://data-1/\"\n[fleets.master]",
            "access",
            "must be a section, [access], with its keys on the lines below; it is text",
        ),
        (
            "timeout_minutes = 60",
            "timeout_minute = 60",
            "idle.timeout_minute",
            "did you mean `timeout_minutes`?",
        ),
        (
            "cron = \"cron(0 8 ? * MON-FRI *)\"",
            "cron = \"cron(0 25 ? * MON-FRI *)\"",
            "schedule.cron",
            "hours \"25\" (allowed: 0-23",
        ),
        (
            "cron = \"cron(0 8 ? * MON-FRI *)\"",
            "cron = \"cron(61 8 ? * MON-FRI *)\"",
            "schedule.cron",
            "minutes \"61\" (allowed: 0-59",
        ),
        (
            "cron = \"cron(0 8 ? * MON-FRI *)\"",
            "cron = \"cron(0 8 ? 13 MON-FRI *)\"",
            "schedule.cron",
            "month \"13\" (allowed: 1-12 or JAN-DEC",
        ),
        (
            "cron = \"cron(0 8 ? * MON-FRI *)\"",
            "cron = \"cron(0 8 ? * MON-FRY *)\"",
            "schedule.cron",
            "day-of-week \"MON-FRY\" (allowed: 1-7 or SUN-SAT",
        ),
        (
            "[fleets.master]",
            "notebook_bucket = \"s3://team-nb/notebooks/\"\n[fleets.master]",
            "notebook_bucket",
            "names a folder",
        ),
    ];
    let mut all = TUTORIAL.to_owned();
    let mut expected = Vec::new();
    for (from, to, field, words) in cases {
        assert!(TUTORIAL.contains(from), "{from:?} is in the tutorial");
        let found = problems(&TUTORIAL.replacen(from, to, 1));
        assert_eq!(found.len(), 1, "{to:?}: {found:#?}");
        assert!(
            found[0].starts_with(&format!("{field}: ")) && found[0].contains(words),
            "{to:?}: {found:?}"
        );
        // Together: the cases that edit one line edit it in turn; the ones
        // on a line already edited are left out of the combined file.
        if all.contains(from) {
            all = all.replacen(from, to, 1);
            expected.push(*field);
        }
    }
    // A key appended at the end of the file lands in [tags].
    all.push_str("\nmax_active_clusters = 2\n");
    expected.push("tags.max_active_clusters");
    let found = problems(&all);
    let fields: Vec<&str> = found
        .iter()
        .map(|f| f.split(": ").next().unwrap())
        .collect();
    for field in &expected {
        assert!(fields.contains(field), "{field} missing from {found:#?}");
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn a_top_level_key_written_below_a_section_is_named_as_such() {
    let found = problems(&format!("{TUTORIAL}\nnotebook_bucket = \"s3://team-nb\"\n"));
    assert_eq!(
        found,
        [
            "tags.notebook_bucket: `notebook_bucket` is a top-level key; it must come before the first [section] (below [tags], TOML makes it a tag)"
        ]
    );
    let text = TUTORIAL.replace("grace_minutes = 30", "grace_minutes = 30\nkey_name = \"k\"");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "idle.key_name: `key_name` is a top-level key; it must come before the first [section]"
        ),
        "{found:?}"
    );
    let found = problems(&format!("{TUTORIAL}\nschedule = \"daily\"\n"));
    assert_eq!(
        found,
        [
            "tags.schedule: `schedule` is one of sparkhub's sections ([schedule]); written below [tags], TOML makes it a tag"
        ]
    );
    // A real tag stays a tag.
    assert!(problems(&format!("{TUTORIAL}\nowner = \"data-team\"\n")).is_empty());
}

#[test]
fn cron_fields_are_checked_against_eventbridges_ranges_and_names() {
    for good in [
        "cron(0 8 ? * MON-FRI *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "cron(0 8 L * ? *)",
        "cron(0 8 15W * ? 2027)",
        "cron(0 8 LW * ? *)",
        "cron(0 8 ? * 6#3 *)",
        "cron(0 8 ? * 6L *)",
        "cron(30 7 1,15 JAN,MAR-MAY ? 2026-2030)",
        "cron(*/5 * ? * * *)",
    ] {
        assert_eq!(check_cron(good), Ok(()), "{good}");
    }
    for (bad, words) in [
        ("cron(0 25 ? * MON-FRI *)", "hours \"25\""),
        ("cron(61 8 ? * MON-FRI *)", "minutes \"61\""),
        ("cron(0 8 ? 13 MON-FRI *)", "month \"13\""),
        ("cron(0 8 ? * MON-FRY *)", "day-of-week \"MON-FRY\""),
        ("cron(0 8 32 * ? *)", "day-of-month \"32\""),
        ("cron(0 8 ? * 8 *)", "day-of-week \"8\""),
        ("cron(0 8 ? * 3#1,6#3 *)", "day-of-week \"3#1,6#3\""),
        ("cron(0 8 ? * MON-FRI 1969)", "year \"1969\""),
        (
            "cron(0 8 L * MON *)",
            "exactly one of day-of-month and day-of-week",
        ),
        ("cron(0 8 ? * MON#6 *)", "day-of-week"),
        ("cron(0/0 8 ? * MON *)", "minutes \"0/0\""),
        ("cron(0 8W ? * MON *)", "hours \"8W\""),
        ("0 8 * * 1-5", "not an EventBridge cron expression"),
    ] {
        let message = check_cron(bad).unwrap_err();
        assert!(message.contains(words), "{bad}: {message}");
    }
}

#[test]
fn notebook_bucket_takes_an_s3_uri_or_a_bare_name_alike() {
    for written in ["team-nb", "s3://team-nb", "s3://team-nb/"] {
        let text = TUTORIAL.replacen(
            "[fleets.master]",
            &format!("notebook_bucket = {written:?}\n[fleets.master]"),
            1,
        );
        let profile = Profile::parse(&text).unwrap();
        assert_eq!(
            profile.notebook_bucket.as_deref(),
            Some("team-nb"),
            "{written}"
        );
    }
}

/// The key table is the model: every key a full profile has is in it, and
/// none else; each default is what parsing fills in.
#[test]
fn the_key_table_is_the_profile_model() {
    use super::keys::{KEYS, Kind, Need};
    fn paths(value: &toml::Value, at: &str, out: &mut Vec<String>) {
        let toml::Value::Table(table) = value else {
            return;
        };
        for (name, inner) in table {
            let path = if at.is_empty() {
                name.clone()
            } else {
                format!("{at}.{name}")
            };
            out.push(path.clone());
            match inner {
                toml::Value::Table(_) if path != "tags" && path != "emails" => {
                    paths(inner, &path, out)
                }
                toml::Value::Array(items) if items.first().is_some_and(toml::Value::is_table) => {
                    paths(&items[0], &format!("{path}[]"), out)
                }
                _ => {}
            }
        }
    }
    let full = r#"
name = "x"
kind = "pipeline"
release_label = "emr-7.10.0"
applications = ["Spark"]
python_packages = ["pandas"]
users = []
key_name = "k"
log_uri = "s3://logs-1/"
notebook_bucket = "nb-1"
subnet_ids = ["subnet-0abc"]
max_active_clusters = 2
[access]
read = ["s3://in-1/"]
write = ["s3://out-1/"]
[fleets.master]
instance_types = ["m5.xlarge"]
on_demand = 1
spot = 0
[fleets.core]
instance_types = ["m5.xlarge"]
on_demand = 1
spot = 0
[fleets.task]
instance_types = ["m5.xlarge"]
on_demand = 0
spot = 1
[idle]
timeout_minutes = 60
grace_minutes = 30
max_lifetime_hours = 12
warn_minutes = 15
[schedule]
cron = "cron(0 8 ? * MON-FRI *)"
ready_by = "cron(0 9 ? * MON-FRI *)"
timezone = "UTC"
[emails]
alice = "alice@example.com"
[tags]
team = "a"
[[steps]]
name = "s"
jar = "command-runner.jar"
args = ["x"]
action_on_failure = "CONTINUE"
[[triggers]]
bucket = "in-1"
prefix = "p/"
suffix = ".csv"
[pool]
max_clusters = 2
idle_minutes = 15
[[event_triggers]]
source = "aws.cloudwatch"
detail_type = "CloudWatch Alarm State Change"
detail = '{"state": {"value": ["ALARM"]}}'
[budget]
monthly_usd = 100
alert_percent = [50]
"#;
    let raw = RawProfile::from_toml(full).unwrap();
    let mut model = Vec::new();
    paths(&toml::Value::try_from(&raw).unwrap(), "", &mut model);
    model.sort();
    let mut table: Vec<String> = KEYS.iter().map(|k| k.path.to_owned()).collect();
    table.sort();
    assert_eq!(table, model, "the key table and RawProfile differ");

    let minimal = r#"
name = "x"
applications = ["Spark"]
[fleets.master]
instance_types = ["m5.xlarge"]
[fleets.core]
instance_types = ["m5.xlarge"]
[fleets.task]
instance_types = ["m5.xlarge"]
[schedule]
timezone = "UTC"
[[steps]]
name = "s"
[[triggers]]
bucket = "in-1"
[pool]
[[event_triggers]]
source = "aws.cloudwatch"
detail_type = "x"
[budget]
monthly_usd = 100
"#;
    let filled = toml::Value::try_from(RawProfile::from_toml(minimal).unwrap()).unwrap();
    for key in KEYS {
        let mut at = Some(&filled);
        for part in key.path.split('.') {
            at = match part.strip_suffix("[]") {
                Some(list) => at.and_then(|v| v.get(list)).and_then(|v| v.get(0)),
                None => at.and_then(|v| v.get(part)),
            };
        }
        let sections = matches!(
            key.kind,
            Kind::Section | Kind::Sections | Kind::TextMap { .. }
        );
        match key.default {
            Some(default) => {
                let expected: toml::Table = toml::from_str(&format!("v = {default}")).unwrap();
                assert_eq!(at, Some(&expected["v"]), "default of {}", key.path);
            }
            None if key.need == Need::Optional && !sections => {
                assert_eq!(
                    at, None,
                    "{} has a default the table does not name",
                    key.path
                )
            }
            None => {}
        }
        if !key.example.is_empty() && !matches!(key.kind, Kind::Choice(_)) {
            let example: Result<toml::Table, _> = toml::from_str(&format!("v = {}", key.example));
            assert!(example.is_ok(), "the example of {} is TOML", key.path);
        }
    }
}

#[test]
fn profiles_are_checked_together() {
    let tutorial = Profile::parse(TUTORIAL).unwrap();
    let retrain = Profile::parse(RETRAIN).unwrap();
    assert!(
        problems_together(&[
            ("profiles/tutorial.toml", &tutorial),
            ("profiles/retrain.toml", &retrain)
        ])
        .is_empty()
    );
    let mut team_b = tutorial.clone();
    team_b.name = ProfileName::parse("team-b").unwrap();
    let found = problems_together(&[
        ("profiles/tutorial.toml", &tutorial),
        ("profiles/tutorial-copy.toml", &tutorial),
        ("team-b.toml", &team_b),
    ]);
    let text: Vec<String> = found
        .iter()
        .map(|(f, p)| format!("{}: {p}", f.join(", ")))
        .collect();
    assert_eq!(found.len(), 4, "{text:#?}");
    assert!(
        text[0].starts_with("profiles/tutorial-copy.toml: the file must be named tutorial.toml"),
        "{text:#?}"
    );
    assert!(text[1].starts_with("profiles/tutorial-copy.toml: name = \"tutorial\" is also the name of profiles/tutorial.toml"), "{text:#?}");
    assert!(
        text[2].contains("share the user admin in the sparkhub bucket"),
        "{text:#?}"
    );
    assert!(text[3].contains("share the user philipp"), "{text:#?}");
    team_b.notebook_bucket = Some("team-b-nb".into());
    assert!(
        problems_together(&[("tutorial.toml", &tutorial), ("team-b.toml", &team_b)]).is_empty()
    );
}

/// A typo inside a section hides none of the section's own problems; a
/// value of the wrong kind does (its default would be reported as wrong).
#[test]
fn a_typo_in_a_section_hides_none_of_its_problems() {
    let text = TUTORIAL.replacen("on_demand = 1", "on_demand = 2\nowner = \"x\"", 1);
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found.iter().any(|f| f.starts_with("fleets.master.owner: ")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("fleets.master: the master fleet needs exactly 1 instance")),
        "{found:#?}"
    );
    let text = TUTORIAL.replacen("on_demand = 1", "on_demand = \"1\"", 1);
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("fleets.master.on_demand: must be a whole number"),
        "{found:#?}"
    );
    let found = problems(&TUTORIAL.replacen("on_demand = 2", "on_demand = 2.0", 1));
    assert!(
        found[0].ends_with("it is the number 2.0 (with a decimal point)"),
        "{found:#?}"
    );
}

#[test]
fn notebook_bucket_forms_that_are_no_bucket_say_why() {
    for (written, words) in [
        ("https://team-nb.s3.amazonaws.com", "is not an S3 location"),
        ("S3://team-nb", "is not an S3 location"),
        ("s3://team-nb/notebooks/", "names a folder"),
        ("s3://", "\"s3://\": "),
    ] {
        let text = TUTORIAL.replacen(
            "[fleets.master]",
            &format!("notebook_bucket = {written:?}\n[fleets.master]"),
            1,
        );
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{written}: {found:#?}");
        assert!(found[0].contains(words), "{written}: {found:#?}");
    }
    let text = TUTORIAL.replacen(
        "[fleets.master]",
        "notebook_bucket = \"team-nb/\"\n[fleets.master]",
        1,
    );
    assert_eq!(
        Profile::parse(&text).unwrap().notebook_bucket.as_deref(),
        Some("team-nb")
    );
}

#[test]
fn a_cron_number_is_digits_only() {
    assert!(check_cron("cron(+0 8 ? * MON *)").is_err());
    assert!(check_cron("cron(0/+5 8 ? * MON *)").is_err());
}

/// `[emails]`: each key one of the profile's users, each value one
/// plausible address, every problem in plain words.
#[test]
fn emails_name_the_profiles_users_and_plausible_addresses() {
    const LINE: &str = "philipp = \"philipp@example.com\"";
    assert!(TUTORIAL.contains(LINE));
    let tutorial = Profile::parse(TUTORIAL).unwrap();
    assert_eq!(
        tutorial
            .emails
            .iter()
            .map(|(u, a)| (u.as_str(), a.as_str()))
            .collect::<Vec<_>>(),
        [("philipp", "philipp@example.com")],
        "admin has no address"
    );
    let cases: &[(&str, &[&str])] = &[
        (LINE, &[]),
        (
            "philipp = \"philipp@example.com\"\nadmin = \"ops@example.com\"",
            &[],
        ),
        (
            "bob = \"bob@example.com\"",
            &[
                "emails.bob: bob is not one of this profile's users (users = [\"philipp\", \"admin\"]); add bob to users or remove the line",
            ],
        ),
        (
            "philipp = \"philipp at example.com\"",
            &[
                "emails.philipp: \"philipp at example.com\" is not an e-mail address: it contains a space (write one address, like \"alice@example.com\")",
            ],
        ),
        (
            "philipp = \"philipp@example.com, admin@example.com\"",
            &[
                "emails.philipp: \"philipp@example.com, admin@example.com\" is not an e-mail address: it contains ','",
            ],
        ),
        (
            "philipp = \"Philipp <philipp@example.com>\"",
            &[
                "emails.philipp: \"Philipp <philipp@example.com>\" is not an e-mail address: it contains a space",
            ],
        ),
        (
            "philipp = \"philipp@localhost\"",
            &[
                "emails.philipp: \"philipp@localhost\" is not an e-mail address: \"localhost\" after @ is not a domain name",
            ],
        ),
        (
            "philipp = 3",
            &[
                "emails.philipp: an address must be text in quotes, like \"alice@example.com\"; it is the number 3",
            ],
        ),
        (
            "\"Bob Smith\" = \"bob@@example.com\"",
            &[
                "emails.\"Bob Smith\": \"Bob Smith\" is not one of this profile's users (users = [\"philipp\", \"admin\"]); add \"Bob Smith\" to users or remove the line",
                "emails.\"Bob Smith\": \"bob@@example.com\" is not an e-mail address: it has 2 @",
            ],
        ),
        (
            "max_active_clusters = 2",
            &[
                "emails.max_active_clusters: `max_active_clusters` is a top-level key; it must come before the first [section] (below [emails], TOML makes it a user's address)",
            ],
        ),
        (
            "idle = \"i@example.com\"",
            &[
                "emails.idle: `idle` is one of sparkhub's sections ([idle]); written below [emails], TOML makes it a user's address",
            ],
        ),
    ];
    for (lines, expected) in cases {
        let found = problems(&TUTORIAL.replacen(LINE, lines, 1));
        assert_eq!(found.len(), expected.len(), "{lines}: {found:#?}");
        for (found, expected) in found.iter().zip(*expected) {
            assert!(found.starts_with(expected), "{lines}:\n{found}\n{expected}");
        }
    }
    // A user named like a key sparkhub knows is still a user below [emails].
    let text = TUTORIAL.replacen("\"admin\"]", "\"kind\"]", 1).replacen(
        LINE,
        "kind = \"kind@example.com\"",
        1,
    );
    let profile = Profile::parse(&text).unwrap();
    assert_eq!(
        profile
            .emails
            .values()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["kind@example.com"]
    );
    // No [emails]: nobody gets mail, and that is no problem.
    let none = Profile::parse(&TUTORIAL.replacen(&format!("[emails]\n{LINE}\n"), "", 1)).unwrap();
    assert!(none.emails.is_empty());
}

#[test]
fn a_ready_by_schedule_fires_an_hour_earlier() {
    let ready = |expr: &str| {
        let mut p = tutorial();
        let s = p.schedule.as_mut().unwrap();
        s.cron = String::new();
        s.ready_by = expr.into();
        p
    };
    let p = ready("cron(0 8 ? * MON-FRI *)").validate().unwrap();
    let schedule = p.schedule.unwrap();
    assert!(schedule.is_ready_by());
    assert_eq!(
        schedule.fire_expression().unwrap(),
        "cron(0 7 ? * MON-FRI *)"
    );
    assert_eq!(
        cron_earlier("cron(30 8,14 ? * MON-FRI *)", 60).unwrap(),
        "cron(30 7,13 ? * MON-FRI *)"
    );
    assert_eq!(
        cron_earlier("cron(15 1 1 * ? *)", 60).unwrap(),
        "cron(15 0 1 * ? *)"
    );
    // Refused, naming the field and why.
    for (expr, says) in [
        ("cron(30 0 ? * MON-FRI *)", "the day before"),
        ("cron(*/5 8 ? * MON-FRI *)", "minute must be one number"),
        ("cron(0 8-10 ? * MON-FRI *)", "hours must be numbers"),
        ("cron(0 25 ? * MON-FRI *)", "hours"),
    ] {
        let e = ready(expr).validate().unwrap_err();
        let f = e.0.iter().find(|f| f.field == "schedule.ready_by");
        assert!(f.is_some_and(|f| f.message.contains(says)), "{expr}: {e:?}");
    }
    // Both or neither.
    let mut both = ready("cron(0 8 ? * MON-FRI *)");
    both.schedule.as_mut().unwrap().cron = "cron(0 7 ? * MON-FRI *)".into();
    assert!(fields(&both).contains(&"schedule.ready_by".to_owned()));
    let neither = ready("");
    assert!(fields(&neither).contains(&"schedule.cron".to_owned()));
}

#[test]
fn a_ready_by_is_a_key_of_a_profiles_text() {
    let text = TUTORIAL.replace(
        "cron = \"cron(0 8 ? * MON-FRI *)\"",
        "ready_by = \"cron(0 9 ? * MON-FRI *)\"",
    );
    let p = Profile::parse(&text).unwrap();
    assert_eq!(
        p.schedule.unwrap().fire_expression().unwrap(),
        "cron(0 8 ? * MON-FRI *)"
    );
}

#[test]
fn a_pool_belongs_to_a_pipeline_and_replaces_max_active_clusters() {
    let pooled = format!("{RETRAIN}\n[pool]\nmax_clusters = 3\nidle_minutes = 20\n");
    let p = Profile::parse(&pooled).unwrap();
    assert_eq!(p.active_cluster_limit(), 3);
    let idle = p.idle_policy();
    assert_eq!((idle.timeout_minutes, idle.warn_minutes), (20, 0));
    assert_eq!(idle.max_lifetime_hours, p.idle.max_lifetime_hours);

    let mut raw = tutorial();
    raw.pool = Some(Pool {
        max_clusters: 0,
        idle_minutes: 2,
    });
    raw.max_active_clusters = Some(1);
    let f = fields(&raw);
    for field in [
        "pool",
        "pool.max_clusters",
        "pool.idle_minutes",
        "max_active_clusters",
    ] {
        assert!(f.contains(&field.to_owned()), "{field}: {f:?}");
    }
}

#[test]
fn event_triggers_and_event_arguments_are_checked() {
    let with = |trigger: &str, arg: &str| {
        format!(
            "{}\n[[event_triggers]]\n{trigger}\n",
            RETRAIN.replace("\"{object}\"]", &format!("\"{arg}\"]"))
        )
    };
    let ok = with(
        "source = \"aws.cloudwatch\"\ndetail_type = \"CloudWatch Alarm State Change\"\ndetail = '{\"state\": {\"value\": [\"ALARM\"]}}'",
        "{event:detail.alarmName}",
    );
    let p = Profile::parse(&ok).unwrap();
    assert_eq!(
        p.event_triggers[0].pattern(),
        serde_json::json!({"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"], "detail": {"state": {"value": ["ALARM"]}}})
    );
    for (text, field) in [
        (
            with(
                "source = \"aws.cloudwatch\"\ndetail_type = \"x\"\ndetail = '{\"state\": \"ALARM\"}'",
                "{event:detail.a}",
            ),
            "event_triggers[0].detail",
        ),
        (
            with(
                "source = \"aws.s3\"\ndetail_type = \"Object Created\"",
                "{event:detail.a}",
            ),
            "event_triggers[0].source",
        ),
        (
            with("source = \"\"\ndetail_type = \"x\"", "{event:detail.a}"),
            "event_triggers[0].source",
        ),
        (
            with("source = \"a\"\ndetail_type = \"x\"", "{event:detail..a}"),
            "steps[0].args[4]",
        ),
        (
            with(
                "source = \"a\"\ndetail_type = \"x\"",
                "--name={event:detail.a}",
            ),
            "steps[0].args[4]",
        ),
    ] {
        let e = Profile::parse(&text).unwrap_err();
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    // An event argument without an event trigger.
    let e = Profile::parse(&RETRAIN.replace("\"{object}\"]", "\"{event:detail.a}\"]")).unwrap_err();
    assert!(e.to_string().contains("no [[event_triggers]]"), "{e}");
}

#[test]
fn a_budget_needs_dollars_and_sensible_thresholds() {
    let text = format!("{RETRAIN}\n[budget]\nmonthly_usd = 200\n");
    let p = Profile::parse(&text).unwrap();
    assert_eq!(p.budget.unwrap().alert_percent, [50, 80, 100]);
    for (budget, field, says) in [
        (
            "monthly_usd = 0",
            "budget.monthly_usd",
            "refuse every cluster",
        ),
        (
            "monthly_usd = 10\nalert_percent = [0, 80]",
            "budget.alert_percent[0]",
            "out of range",
        ),
        (
            "monthly_usd = 10\nalert_percent = [\"80\"]",
            "budget.alert_percent[0]",
            "whole number of percent",
        ),
        ("alert_percent = [80]", "budget.monthly_usd", ""),
    ] {
        let e = Profile::parse(&format!("{RETRAIN}\n[budget]\n{budget}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(field) && e.contains(says), "{budget}: {e}");
    }
}
