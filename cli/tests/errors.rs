//! The CLI on a machine without AWS set up: no credentials, an unknown AWS
//! profile, no region. Every command that calls AWS says which, with the
//! command that fixes it, and exits 2. No emulator: nothing here may reach
//! AWS (the instance metadata service is switched off, the endpoint unset).

use std::path::PathBuf;
use std::process::{Command, Output};

/// An empty AWS configuration: empty config and credentials files, no
/// AWS_* variables, the instance metadata service off.
struct Bare {
    dir: PathBuf,
}

impl Bare {
    fn new(name: &str, config: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sparkhub-bare-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config"), config).unwrap();
        std::fs::write(dir.join("credentials"), "").unwrap();
        Self { dir }
    }

    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sparkhub"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("AWS_CONFIG_FILE", self.dir.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.join("credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("the sparkhub binary runs")
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// Every command that calls AWS, with arguments that pass its own checks.
const AWS_COMMANDS: &[&[&str]] = &[
    &["status", "--bucket", "b-1"],
    &["connect", "j-1ABCDEFGHIJKL"],
    &["password", "tutorial", "philipp"],
    &["keep-alive", "j-1ABCDEFGHIJKL", "--for", "2h"],
    &["report", "--bucket", "b-1"],
    &["status", "--stack", "sparkhub"],
    &["push", "../profiles/tutorial.toml", "--stack", "sparkhub"],
    &["start", "tutorial", "--stack", "sparkhub"],
    &["stop", "j-1ABCDEFGHIJKL", "--bucket", "b-1"],
];

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What no message for these cases may say: retrying does not help, and
/// none of these commands terminates anything.
fn assert_no_misleading_words(args: &[&str], text: &str) {
    for wrong in [
        "transient",
        "retried",
        "IMDS",
        "terminated",
        "dispatch failure",
    ] {
        assert!(!text.contains(wrong), "{args:?} says {wrong:?}: {text}");
    }
}

#[test]
fn without_credentials_every_command_says_how_to_get_them_and_exits_2() {
    let bare = Bare::new("nocreds", "");
    for args in AWS_COMMANDS {
        let out = bare.run(&[("AWS_REGION", "eu-central-1")], args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(
            text.contains("no AWS credentials found: run `aws configure`")
                && text.contains("aws sso login"),
            "{args:?}: {text}"
        );
        assert_no_misleading_words(args, &text);
    }
}

#[test]
fn an_unknown_aws_profile_is_named_with_where_it_came_from_and_exits_2() {
    let bare = Bare::new("profile", "[profile team]\nregion = eu-central-1\n");
    let config = bare.dir.join("config");
    for args in AWS_COMMANDS {
        let out = bare.run(&[("AWS_PROFILE", "tema")], args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(
            text.contains(&format!(
                "AWS profile \"tema\" (from AWS_PROFILE) is not in {}",
                config.display()
            )) && text.contains("they define team"),
            "{args:?}: {text}"
        );
        assert_no_misleading_words(args, &text);

        let mut flagged = args.to_vec();
        flagged.extend(["--aws-profile", "nope"]);
        let out = bare.run(&[], &flagged);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flagged:?}: {text}");
        assert!(
            text.contains("AWS profile \"nope\" (from --aws-profile)"),
            "{flagged:?}: {text}"
        );
    }
}

#[test]
fn without_a_region_every_command_says_how_to_give_one_and_exits_2() {
    let bare = Bare::new("region", "[profile team]\noutput = json\n");
    for args in AWS_COMMANDS {
        let out = bare.run(
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "example"),
            ],
            args,
        );
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(
            text.contains("no AWS region: pass --region or set AWS_REGION"),
            "{args:?}: {text}"
        );
        assert_no_misleading_words(args, &text);

        // The profile named is the one to give a region to.
        let mut flagged = args.to_vec();
        flagged.extend(["--aws-profile", "team"]);
        let text = stderr(&bare.run(&[], &flagged));
        assert!(
            text.contains("add `region = …` to the AWS profile \"team\""),
            "{flagged:?}: {text}"
        );
    }
}

/// `--region` is the region the calls go to: an unreachable endpoint is
/// named with it (nothing listens on port 9 of the loopback).
#[test]
fn region_flag_is_the_region_called_and_an_unreachable_aws_is_named() {
    let bare = Bare::new("reach", "");
    let out = bare.run(
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "example"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
        &["connect", "j-1ABCDEFGHIJKL", "--region", "ap-south-2"],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("AWS cannot be reached in ap-south-2") && text.contains("AWS_ENDPOINT_URL"),
        "{text}"
    );
}

#[test]
fn a_region_that_is_no_region_name_is_named_before_any_call() {
    let bare = Bare::new("badregion", "");
    let out = bare.run(
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "example"),
        ],
        &["status", "--bucket", "b-1", "--region", "us east"],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("\"us east\" is not an AWS region's name") && !text.contains("interceptor"),
        "{text}"
    );
}
