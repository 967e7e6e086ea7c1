use super::*;

const TUTORIAL: &str = include_str!("../../profiles/tutorial.toml");
const RETRAIN: &str = include_str!("../../profiles/retrain.toml");

fn tutorial() -> Profile {
    Profile::from_toml(TUTORIAL).expect("the tutorial profile parses")
}

/// Field names of every error, in order.
fn fields(p: &Profile) -> Vec<String> {
    match p.validate() {
        Ok(()) => vec![],
        Err(ValidationErrors(errors)) => errors.into_iter().map(|e| e.field).collect(),
    }
}

#[test]
fn example_profiles_are_valid() {
    assert_eq!(tutorial().validate(), Ok(()));
    let retrain = Profile::from_toml(RETRAIN).unwrap();
    assert_eq!(retrain.validate(), Ok(()));
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
    let err = Profile::from_toml(&text).unwrap_err().to_string();
    assert!(err.contains("relase_label"), "{err}");
    let text = TUTORIAL.replace("grace_minutes = 30", "grace_minutes = 30\ngrace = 1");
    assert!(
        Profile::from_toml(&text)
            .unwrap_err()
            .to_string()
            .contains("grace")
    );
}

#[test]
fn wrong_types_are_rejected() {
    let text = TUTORIAL.replace("on_demand = 2", "on_demand = \"two\"");
    assert!(Profile::from_toml(&text).is_err());
    let text = TUTORIAL.replace("kind = \"interactive\"", "kind = \"batch\"");
    assert!(
        Profile::from_toml(&text)
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
    type Change = fn(&mut Profile);
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
fn interactive_profiles_default_to_one_active_cluster() {
    assert_eq!(tutorial().active_cluster_limit(), Some(1));
    assert_eq!(
        Profile::from_toml(RETRAIN).unwrap().active_cluster_limit(),
        None
    );
    let mut p = tutorial();
    p.max_active_clusters = Some(3);
    assert_eq!(p.active_cluster_limit(), Some(3));
}
