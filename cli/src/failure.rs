//! How a command fails: a message that says what to do and an exit code, the
//! same in every command.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | ok |
//! | 1 | the thing asked about is wrong: an invalid profile, a cluster EMR does not know or that is not sparkhub's, a user without a password |
//! | 2 | usage or environment: a bad argument, an unreadable file, no AWS credentials, no region, an unknown AWS profile, access denied, AWS unreachable |

use std::error::Error;

use sparkhub_aws::operator::{
    AwsChoice, ConfigTrouble, OperatorConfig, ProfileFrom, Trouble, diagnose, operator_config,
};
use sparkhub_core::errors::message_with_causes;
use sparkhub_core::ports::AwsError;
use sparkhub_core::text::printable;

/// The thing asked about is wrong.
pub const WRONG: u8 = 1;
/// Usage or environment.
pub const USAGE: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Exit 1: the thing asked about is wrong.
    pub fn wrong(message: impl Into<String>) -> Self {
        Self {
            code: WRONG,
            message: message.into(),
        }
    }

    /// Exit 2: usage or environment.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: USAGE,
            message: message.into(),
        }
    }
}

/// The `--region` / `--aws-profile` of a command, loaded; knows the words
/// for its failures.
pub struct Aws {
    pub config: OperatorConfig,
}

impl Aws {
    /// Loads the configuration, or says which choice is missing or wrong
    /// (exit 2) before any call.
    pub async fn load(choice: &AwsChoice) -> Result<Self, Failure> {
        match operator_config(choice).await {
            Ok(config) => Ok(Self { config }),
            Err(trouble) => Err(Failure::usage(config_message(&trouble))),
        }
    }

    pub fn sdk(&self) -> &aws_config::SdkConfig {
        &self.config.sdk
    }

    /// What a failed call (anywhere in `error`'s chain, an [`AwsError`])
    /// means, with what to do about it. `doing` says what sparkhub was
    /// doing ("listing the clusters").
    pub fn failure(&self, doing: &str, error: &(dyn Error + 'static)) -> Failure {
        let Some(aws) = find_aws_error(error) else {
            return Failure::usage(format!("{doing}: {}", message_with_causes(error)));
        };
        Failure::usage(self.words(doing, aws))
    }

    fn words(&self, doing: &str, error: &AwsError) -> String {
        let profile = self.config.profile.as_deref();
        let login = match profile {
            Some(name) => format!(
                "`aws sso login --profile {name}` (an SSO profile) or `aws configure --profile {name}`"
            ),
            None => "`aws configure`, or `aws sso login --profile <name>` and set AWS_PROFILE (or pass --aws-profile)".into(),
        };
        let region = self
            .config
            .sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        match diagnose(error) {
            Trouble::NoCredentials => match profile {
                Some(name) => {
                    format!("the AWS profile \"{name}\" gives no credentials: run {login}")
                }
                None => format!("no AWS credentials found: run {login}"),
            },
            Trouble::CredentialsUnusable(why) => format!(
                "the AWS credentials could not be loaded ({}): run {login}",
                printable(&why)
            ),
            Trouble::CredentialsRefused(code) => format!(
                "AWS refused the credentials ({code}: unknown, expired or mistyped): run {login}"
            ),
            Trouble::AccessDenied { action } => format!(
                "{doing}: access denied: your credentials may not call {action}; ask your AWS administrator for it, or use a profile that has it (--aws-profile)"
            ),
            Trouble::NotFound(code) if code == "NoSuchBucket" => format!(
                "{doing}: the bucket does not exist in {region} ({code}): pass the sparkhub bucket's name with --bucket (or set SPARKHUB_BUCKET), and its region with --region"
            ),
            Trouble::NotFound(code) => format!("{doing}: AWS says it does not exist ({code})"),
            Trouble::Transient(why) => format!(
                "{doing}: {}; this is transient, try again in a minute",
                printable(&why)
            ),
            Trouble::Unreachable(why) => format!(
                "{doing}: AWS cannot be reached in {region} ({}): check the network, the region, and AWS_ENDPOINT_URL if it is set",
                printable(&why)
            ),
            Trouble::Other(why) => format!("{doing}: {}", printable(&why)),
        }
    }
}

/// The first [`AwsError`] in `error`'s chain.
fn find_aws_error<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a AwsError> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(aws) = e.downcast_ref::<AwsError>() {
            return Some(aws);
        }
        next = e.source();
    }
    None
}

fn config_message(trouble: &ConfigTrouble) -> String {
    match trouble {
        ConfigTrouble::UnknownProfile { name, from, known } => {
            let from = match from {
                ProfileFrom::Flag => "--aws-profile",
                ProfileFrom::Env => "AWS_PROFILE",
            };
            let known = if known.is_empty() {
                "they define none; run `aws configure --profile <name>` or `aws configure sso`"
                    .to_owned()
            } else {
                format!("they define {}", known.join(", "))
            };
            let file = |var: &str, default: &str| {
                std::env::var(var)
                    .ok()
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| default.to_owned())
            };
            format!(
                "AWS profile \"{}\" (from {from}) is not in {} or {}; {}",
                printable(name),
                printable(&file("AWS_CONFIG_FILE", "~/.aws/config")),
                printable(&file("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")),
                printable(&known)
            )
        }
        ConfigTrouble::ProfileFiles(why) => {
            format!("the AWS config files cannot be read: {}", printable(why))
        }
        ConfigTrouble::NoRegion { profile } => match profile {
            Some(name) => format!(
                "no AWS region: pass --region, set AWS_REGION, or add `region = …` to the AWS profile \"{}\"",
                printable(name)
            ),
            None => "no AWS region: pass --region or set AWS_REGION".into(),
        },
        ConfigTrouble::BadRegion { region } => format!(
            "\"{}\" is not an AWS region's name (lowercase letters, digits and -, like eu-central-1): \
             check --region, AWS_REGION or the AWS profile's region",
            printable(region)
        ),
    }
}
