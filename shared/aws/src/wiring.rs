//! The three use cases over the SDK adapters: what each function's `main`
//! (and the emulator tests) run.

use std::time::Duration;

use futures::FutureExt;
use jiff::Timestamp;
use sparkhub_core::{create, setup, sweep};

use crate::pricing::PriceList;
use crate::scheduler::Checks;
use crate::startups::StartupStore;
use crate::{CloudWatch, Emr, S3Bucket, SecretsManager, Sns, StepFunctions};

pub type AwsCreateCluster =
    create::CreateCluster<S3Bucket, S3Bucket, StepFunctions, Emr, S3Bucket, S3Bucket, S3Bucket>;
pub type AwsSetupUsers =
    setup::SetupUsers<S3Bucket, S3Bucket, SecretsManager, Emr, Sns, StartupStore>;
pub type AwsTerminator =
    sweep::Terminator<S3Bucket, Emr, CloudWatch, Sns, S3Bucket, Checks, S3Bucket, PriceList>;

fn tokio_sleep(d: Duration) -> futures::future::BoxFuture<'static, ()> {
    tokio::time::sleep(d).boxed()
}

/// create-cluster: profiles, scripts and leases in the bucket, the state
/// machine, EMR; the system clock and tokio's timer.
pub fn create_cluster(config: create::Config, aws: &aws_config::SdkConfig) -> AwsCreateCluster {
    let bucket = S3Bucket::new(aws_sdk_s3::Client::new(aws), &config.bucket);
    create::CreateCluster {
        profiles: bucket.clone(),
        scripts: bucket.clone(),
        startups: bucket.clone(),
        budgets: bucket.clone(),
        leases: bucket,
        lease_wait: create::handler::LeaseWait::default(),
        pool_wait: create::pool::PoolWait::default(),
        workflow: StepFunctions::new(aws_sdk_sfn::Client::new(aws), &config.state_machine_arn),
        clusters: Emr::new(aws_sdk_emr::Client::new(aws))
            .with_max_in_flight(config.max_concurrency),
        now: Timestamp::now,
        sleep: tokio_sleep,
        config,
    }
}

/// setup-jupyter-users: profiles and scripts in the bucket, Secrets Manager,
/// EMR, SNS when `config.topic_arn` is set; passwords from the operating
/// system's random source.
pub fn setup_users(config: setup::Config, aws: &aws_config::SdkConfig) -> AwsSetupUsers {
    let bucket = S3Bucket::new(aws_sdk_s3::Client::new(aws), &config.bucket);
    setup::SetupUsers {
        profiles: bucket.clone(),
        scripts: bucket.clone(),
        startups: StartupStore::new(
            bucket,
            CloudWatch::new(aws_sdk_cloudwatch::Client::new(aws)),
        ),
        secrets: SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws)),
        clusters: Emr::new(aws_sdk_emr::Client::new(aws)),
        notifier: config
            .topic_arn
            .as_ref()
            .map(|arn| Sns::new(aws_sdk_sns::Client::new(aws), arn)),
        password: sparkhub_core::users::random_password,
        config,
    }
}

/// terminate-idle-clusters: profiles from the bucket and its history into
/// it, EMR (also the `ClusterTagger` of the warnings), CloudWatch, and SNS
/// when `config.topic_arn` is set.
pub fn terminator(config: sweep::Config, aws: &aws_config::SdkConfig) -> AwsTerminator {
    let bucket = S3Bucket::new(aws_sdk_s3::Client::new(aws), &config.bucket);
    sweep::Terminator {
        profiles: bucket.clone(),
        budgets: bucket.clone(),
        history: bucket,
        // The budgets' prices: the Price List, for the function's region.
        pricing: aws.region().map(|region| sweep::budget::Pricing {
            source: PriceList::from_config(aws),
            region: region.to_string(),
        }),
        fleet: Emr::new(aws_sdk_emr::Client::new(aws)).with_max_in_flight(config.max_concurrency),
        metrics: CloudWatch::new(aws_sdk_cloudwatch::Client::new(aws)),
        notifier: config
            .topic_arn
            .as_ref()
            .map(|arn| Sns::new(aws_sdk_sns::Client::new(aws), arn)),
        checks: config
            .checks
            .as_ref()
            .map(|c| Checks::new(aws_sdk_scheduler::Client::new(aws), &c.group, &c.role_arn)),
        now: Timestamp::now,
        config,
    }
}
