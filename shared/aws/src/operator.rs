//! What the CLI needs beyond the ports, on an operator's machine: the AWS
//! configuration loaded with its region and named profile checked before any
//! call ([`operator_config`]), and what a failed call means for a person
//! ([`diagnose`]). The words and the fixes are the CLI's; this module only
//! tells the cases apart, from the SDK's own error types.

use std::error::Error;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_types::os_shim_internal::{Env, Fs};
use sparkhub_core::ports::AwsError;

/// The operator's choices: `--region`, `--aws-profile` (each `None` when not
/// given: the SDK's defaults, `AWS_REGION` and `AWS_PROFILE`, apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsChoice {
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// Where the name of the AWS profile came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileFrom {
    /// `--aws-profile`.
    Flag,
    /// `AWS_PROFILE`.
    Env,
}

/// Why no configuration could be loaded; nothing was called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigTrouble {
    /// The named AWS profile is in neither the config nor the credentials file.
    UnknownProfile {
        name: String,
        from: ProfileFrom,
        /// The profiles the files define.
        known: Vec<String>,
    },
    /// The config or credentials file could not be read or parsed.
    ProfileFiles(String),
    /// No region from `--region`, `AWS_REGION` or the profile.
    NoRegion { profile: Option<String> },
    /// A region that cannot be a region's name (AWS's are lowercase letters,
    /// digits and `-`, like `eu-central-1`).
    BadRegion { region: String },
}

/// A loaded configuration and the AWS profile it uses, if one is named.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    pub sdk: SdkConfig,
    pub profile: Option<String>,
}

/// The AWS configuration of `choice`, with the named profile and the region
/// checked first, so a missing one is named instead of surfacing as a
/// credentials or endpoint failure of the first call.
pub async fn operator_config(choice: &AwsChoice) -> Result<OperatorConfig, ConfigTrouble> {
    let named = match &choice.profile {
        Some(name) => Some((name.clone(), ProfileFrom::Flag)),
        None => std::env::var("AWS_PROFILE")
            .ok()
            .filter(|n| !n.trim().is_empty())
            .map(|n| (n, ProfileFrom::Env)),
    };
    if let Some((name, from)) = &named {
        let profiles = aws_config::profile::load(
            &Fs::real(),
            &Env::real(),
            &EnvConfigFiles::default(),
            Some(name.clone().into()),
        )
        .await
        .map_err(|e| ConfigTrouble::ProfileFiles(sparkhub_core::errors::message_with_causes(&e)))?;
        if profiles.get_profile(name).is_none() {
            return Err(ConfigTrouble::UnknownProfile {
                name: name.clone(),
                from: *from,
                known: profiles.profiles().map(str::to_owned).collect(),
            });
        }
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &choice.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(name) = &choice.profile {
        loader = loader.profile_name(name);
    }
    let sdk = loader.load().await;
    let profile = named.map(|(name, _)| name);
    match sdk.region().map(|r| r.as_ref()) {
        None => return Err(ConfigTrouble::NoRegion { profile }),
        // Checked here, or the SDK's endpoint resolver reports it in its
        // own words at the first call.
        Some(region)
            if region.is_empty()
                || !region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            return Err(ConfigTrouble::BadRegion {
                region: region.to_owned(),
            });
        }
        Some(_) => {}
    }
    Ok(OperatorConfig { sdk, profile })
}

/// What a failed AWS call means for the person who ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// No source of credentials had any.
    NoCredentials,
    /// A source of credentials failed (an expired SSO session, a broken
    /// profile): the SDK's words for it.
    CredentialsUnusable(String),
    /// AWS refused the credentials (unknown key, expired token, bad
    /// signature): their error code.
    CredentialsRefused(String),
    /// The credentials may not call this IAM action.
    AccessDenied { action: String },
    /// AWS says the thing named does not exist (`NoSuchBucket`,
    /// `ResourceNotFoundException`, ...): its code.
    NotFound(String),
    /// Trying again later may help: throttling, timeouts, 5xx.
    Transient(String),
    /// AWS could not be reached (DNS, connection refused, TLS).
    Unreachable(String),
    /// Anything else: the error's own words.
    Other(String),
}

const CREDENTIALS_REFUSED: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "AuthFailure",
];

const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
    "Forbidden",
];

const NOT_FOUND: &[&str] = &[
    "NoSuchBucket",
    "NoSuchKey",
    "ResourceNotFoundException",
    "NotFound",
    "ClusterNotFound",
    "NoSuchEntity",
    "StackNotFound",
    "StateMachineDoesNotExist",
];

/// Tells the cases of a failed call apart: by the SDK's error types in its
/// chain (credentials, connection) and by the service's error code.
pub fn diagnose(error: &AwsError) -> Trouble {
    let chain = || chain_of(error);
    if let Some(credentials) = chain().find_map(|e| e.downcast_ref::<CredentialsError>()) {
        // The IMDS is the chain's last resort: when it answers (or not)
        // without credentials, no other source had any either.
        let imds =
            chain_of(credentials).any(|e| e.is::<aws_config::imds::client::error::ImdsError>());
        return match credentials {
            CredentialsError::CredentialsNotLoaded(_) => Trouble::NoCredentials,
            _ if imds => Trouble::NoCredentials,
            CredentialsError::ProviderTimedOut(_) => {
                Trouble::Transient("loading the AWS credentials timed out".into())
            }
            other => {
                Trouble::CredentialsUnusable(sparkhub_core::errors::message_with_causes(other))
            }
        };
    }
    if let Some(connector) = chain().find_map(|e| e.downcast_ref::<ConnectorError>()) {
        let words = connector
            .source()
            .map(sparkhub_core::errors::message_with_causes)
            .unwrap_or_else(|| connector.to_string());
        if connector.is_timeout() {
            return Trouble::Transient(format!("the call timed out: {words}"));
        }
        if connector.is_io() {
            return Trouble::Unreachable(words);
        }
    }
    if let Some(code) = error.code.as_deref() {
        if CREDENTIALS_REFUSED.contains(&code) {
            return Trouble::CredentialsRefused(code.to_owned());
        }
        if ACCESS_DENIED.contains(&code) {
            return Trouble::AccessDenied {
                action: iam_action(error.operation),
            };
        }
        if NOT_FOUND.contains(&code) {
            return Trouble::NotFound(code.to_owned());
        }
    }
    if error.retryable {
        return Trouble::Transient(match &error.code {
            Some(code) => format!("AWS answered {code}"),
            None => "AWS did not answer in time".into(),
        });
    }
    Trouble::Other(sparkhub_core::errors::message_with_causes(
        error.source.as_ref(),
    ))
}

/// An error and its causes, outermost first.
fn chain_of<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn Error + 'static)| (*e).source())
}

/// The IAM action of an operation as the adapters name it ("EMR
/// DescribeCluster" → `elasticmapreduce:DescribeCluster`; S3's listing is
/// authorized as `s3:ListBucket`).
pub fn iam_action(operation: &str) -> String {
    let (service, call) = operation.rsplit_once(' ').unwrap_or(("", operation));
    let prefix = match service {
        "EMR" => "elasticmapreduce",
        "S3" => "s3",
        "Secrets Manager" => "secretsmanager",
        "CloudWatch" => "cloudwatch",
        "SNS" => "sns",
        "Step Functions" => "states",
        "CloudFormation" => "cloudformation",
        "IAM" => "iam",
        "Lambda" => "lambda",
        "STS" => "sts",
        "Pricing" => "pricing",
        other => return format!("{other} {call}"),
    };
    let call = match (prefix, call) {
        ("s3", "ListObjectsV2") => "ListBucket",
        ("lambda", "Invoke") => "InvokeFunction",
        (_, call) => call,
    };
    format!("{prefix}:{call}")
}
