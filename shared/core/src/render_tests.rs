use super::*;
use crate::profile::{ActionOnFailure, RawProfile};

const TUTORIAL: &str = include_str!("../../../profiles/tutorial.toml");

fn tutorial() -> Profile {
    Profile::parse(TUTORIAL).unwrap()
}

fn deployment() -> Deployment {
    Deployment::with_default_roles("sparkhub-example")
}

fn request(p: &Profile) -> RunJobFlowRequest {
    plan(p, &deployment(), &RunOptions::default()).input.request
}

fn tag<'a>(r: &'a RunJobFlowRequest, key: &str) -> Option<&'a str> {
    r.tags
        .iter()
        .find(|t| t.key == key)
        .map(|t| t.value.as_str())
}

#[test]
fn tutorial_request_has_what_the_tutorial_configured() {
    let r = request(&tutorial());
    let apps: Vec<&str> = r.applications.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(apps, ["Spark", "Hadoop", "Livy", "Hive", "JupyterHub"]);
    let s3 = &r.configurations[0];
    assert_eq!(s3.classification, "jupyter-s3-conf");
    assert_eq!(s3.properties["s3.persistence.enabled"], "true");
    assert_eq!(s3.properties["s3.persistence.bucket"], "sparkhub-example");
    assert_eq!(r.log_uri, "s3://sparkhub-example/logs/tutorial/");
    assert_eq!(
        r.instances.ec2_key_name.as_deref(),
        Some("sparkhub-tutorial")
    );
    let fleets: Vec<(&str, u32, &str)> = r
        .instances
        .instance_fleets
        .iter()
        .map(|f| {
            (
                f.instance_fleet_type.as_str(),
                f.target_on_demand_capacity,
                f.instance_type_configs[0].instance_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        fleets,
        [("MASTER", 1, "m5.xlarge"), ("CORE", 2, "m5.xlarge")]
    );
    assert_eq!(
        (r.service_role.as_str(), r.job_flow_role.as_str()),
        ("sparkhub-emr-service", "sparkhub-node-tutorial"),
        "the stack's service role, and the tutorial profile's own instance profile"
    );
}

#[test]
fn managed_and_profile_tags_are_always_set() {
    let r = request(&tutorial());
    assert_eq!(tag(&r, TAG_MANAGED), Some("true"));
    assert_eq!(tag(&r, TAG_PROFILE), Some("tutorial"));
    assert_eq!(tag(&r, "team"), Some("data-science"));
    assert_eq!(
        tag(&r, TAG_EMR_MANAGED_POLICY),
        Some("true"),
        "EMR's managed policy v2 launches nothing without it"
    );
}

#[test]
fn bootstrap_actions_point_at_the_uploaded_scripts() {
    let plan = plan(&tutorial(), &deployment(), &RunOptions::default());
    let boot: Vec<&str> = plan
        .input
        .request
        .bootstrap_actions
        .iter()
        .map(|b| b.script_bootstrap_action.path.as_str())
        .collect();
    let uploaded: Vec<String> = plan
        .scripts
        .iter()
        .filter(|s| s.bootstrap)
        .map(|s| format!("s3://sparkhub-example/{}", s.key))
        .collect();
    assert_eq!(boot, uploaded);
    assert_eq!(
        boot.len(),
        2,
        "Python packages and the notebook activity reporter"
    );
    // The users script is uploaded too, for the step that runs it.
    assert!(
        plan.scripts
            .iter()
            .any(|s| s.file_name == "jupyterhub-users.sh" && !s.bootstrap)
    );
}

/// Table: profile change → what the request must show.
#[test]
fn rendering_follows_the_profile() {
    type Change = fn(&mut RawProfile);
    type Check = fn(&RunJobFlowRequest) -> bool;
    let cases: &[(&str, Change, Check)] = &[
        (
            "auto-termination backstop is idle timeout + 30 min",
            |p| p.idle.timeout_minutes = 60,
            |r| r.auto_termination_policy.idle_timeout == 5400,
        ),
        (
            "backstop is capped at 7 days",
            |p| p.idle.timeout_minutes = 10_080,
            |r| r.auto_termination_policy.idle_timeout == 604_800,
        ),
        (
            "kept alive without steps",
            |_| {},
            |r| r.instances.keep_job_flow_alive_when_no_steps,
        ),
        (
            "never termination protected by sparkhub",
            |_| {},
            |r| !r.instances.termination_protected,
        ),
        (
            "notebook bucket override",
            |p| p.notebook_bucket = Some("notes-1".into()),
            |r| r.configurations[0].properties["s3.persistence.bucket"] == "notes-1",
        ),
        (
            "no hub, no s3 persistence",
            |p| {
                p.applications = vec!["Spark".into()];
                p.users.clear();
                p.emails.clear()
            },
            |r| r.configurations.is_empty(),
        ),
        (
            "no packages, only the notebook reporter bootstraps",
            |p| p.python_packages.clear(),
            |r| r.bootstrap_actions.len() == 1 && r.bootstrap_actions[0].name == "ActivityReporter",
        ),
        (
            "log uri override",
            |p| p.log_uri = Some("s3://logs-1/emr/".into()),
            |r| r.log_uri == "s3://logs-1/emr/",
        ),
        (
            "a bucket as the log uri",
            |p| p.log_uri = Some("s3://logs-1".into()),
            |r| r.log_uri == "s3://logs-1/",
        ),
        (
            "no key pair",
            |p| p.key_name = None,
            |r| r.instances.ec2_key_name.is_none(),
        ),
        (
            "subnets",
            |p| p.subnet_ids = vec!["subnet-0123abcd".into()],
            |r| r.instances.ec2_subnet_ids == ["subnet-0123abcd"],
        ),
        (
            "task fleet on spot",
            |p| {
                p.fleets.task = Some(Fleet {
                    instance_types: vec!["m5.xlarge".into(), "m5a.xlarge".into()],
                    on_demand: 0,
                    spot: 4,
                })
            },
            |r| {
                let t = &r.instance_fleets_of("TASK");
                t.len() == 1
                    && t[0].target_spot_capacity == 4
                    && t[0].instance_type_configs.len() == 2
            },
        ),
        (
            "the stack's SSH security group on the master",
            |_| {},
            |r| r.instances.additional_master_security_groups.is_empty(),
        ),
        (
            "emr-6 release",
            |p| p.release_label = "emr-6.15.0".into(),
            |r| r.release_label == "emr-6.15.0",
        ),
        (
            "name from profile",
            |_| {},
            |r| r.name == "sparkhub-tutorial",
        ),
    ];
    for (what, change, check) in cases {
        let mut raw = RawProfile::from_toml(TUTORIAL).unwrap();
        change(&mut raw);
        let p = raw
            .validate()
            .unwrap_or_else(|e| panic!("{what}: the case must start from a valid profile: {e}"));
        assert!(check(&request(&p)), "{what}: {:#?}", request(&p));
    }
}

impl RunJobFlowRequest {
    fn instance_fleets_of(&self, kind: &str) -> Vec<&InstanceFleet> {
        self.instances
            .instance_fleets
            .iter()
            .filter(|f| f.instance_fleet_type == kind)
            .collect()
    }
}

#[test]
fn pipeline_runs_terminate_interactive_runs_do_not() {
    let retrain = Profile::parse(include_str!("../../../profiles/retrain.toml")).unwrap();
    let run = RunOptions {
        object: Some(S3Uri::new("data-1", "incoming/2026-11-25.csv")),
        ..Default::default()
    };
    let input = plan(&retrain, &deployment(), &run).input;
    assert!(input.terminate_when_done);
    assert_eq!(input.steps.len(), 2);
    assert_eq!(
        input.steps[0].hadoop_jar_step.args.last().unwrap(),
        "s3://data-1/incoming/2026-11-25.csv"
    );
    assert_eq!(
        input.steps[0].action_on_failure,
        ActionOnFailure::CancelAndWait
    );
    // The workflow passes the step to EMR as it is in its input.
    let json = serde_json::to_value(&input).unwrap();
    assert_eq!(json["steps"][0]["ActionOnFailure"], "CANCEL_AND_WAIT");
    let back: WorkflowInput = serde_json::from_value(json).unwrap();
    assert_eq!(back, input);
    assert!(
        !plan(&tutorial(), &deployment(), &RunOptions::default())
            .input
            .terminate_when_done
    );
}

#[test]
fn run_steps_replace_the_profile_steps() {
    let steps = vec![StepSpec {
        name: "one-off".into(),
        jar: "command-runner.jar".into(),
        args: vec!["echo".into(), "{object}".into()],
        action_on_failure: ActionOnFailure::Continue,
    }];
    let input = plan(
        &tutorial(),
        &deployment(),
        &RunOptions {
            steps: Some(steps),
            ..Default::default()
        },
    )
    .input;
    assert_eq!(input.steps.len(), 1);
    assert_eq!(input.steps[0].action_on_failure, ActionOnFailure::Continue);
    assert_eq!(
        input.steps[0].hadoop_jar_step.args,
        ["echo", "{object}"],
        "no object, no substitution"
    );
}

#[test]
fn the_stacks_ssh_group_is_added_to_the_master() {
    let deployment = Deployment {
        master_security_group: Some("sg-0123456789abcdef0".into()),
        ..Deployment::with_default_roles("b-1")
    };
    let r = plan(&tutorial(), &deployment, &RunOptions::default())
        .input
        .request;
    assert_eq!(
        r.instances.additional_master_security_groups,
        ["sg-0123456789abcdef0"]
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["Instances"]["AdditionalMasterSecurityGroups"][0],
        "sg-0123456789abcdef0"
    );
}
