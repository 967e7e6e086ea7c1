//! Adapter tests with `aws-smithy-mocks`: the answers the emulator cannot give
//! (throttling, 5xx, access denied, pagination markers).

use super::*;
use std::collections::BTreeMap;

use aws_sdk_emr::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_emr::operation::list_clusters::ListClustersOutput;
use aws_sdk_emr::types::{Cluster, ClusterStatus, ClusterSummary as SdkSummary, Tag};
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::types::Object;
use aws_sdk_s3::types::error::NoSuchKey;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::types::error::{ExecutionAlreadyExists, ExecutionDoesNotExist};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use sparkhub_core::emr::ClusterState;
use sparkhub_core::ports::{
    ClusterDirectory, ClusterFleet, ClusterInstances, ClusterSteps, HistoryStore, LeaseStore,
    ListedCluster, Notifier, ProfileStore, ScriptStore, SecretStore, Started, StoredProfile,
    Workflow,
};
use sparkhub_core::profile::{ActionOnFailure, MAX_PROFILE_BYTES};
use sparkhub_core::render::StepConfig;

const MACHINE: &str = "arn:aws:states:eu-central-1:123456789012:stateMachine:sparkhub-cluster";

fn http(status: u16, body: &'static str) -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

#[tokio::test]
async fn missing_profile_is_none_not_an_error() {
    let rule = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key() == Some("profiles/nope.toml"))
        .then_error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()));
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, [&rule]), "b-1");
    assert_eq!(s3.read_profile("nope").await.unwrap(), None);
    assert_eq!(s3.location("nope"), "s3://b-1/profiles/nope.toml");
}

#[tokio::test]
async fn profile_text_is_read() {
    let rule = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
        GetObjectOutput::builder()
            .body(ByteStream::from_static(b"name = \"x\""))
            .build()
    });
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, [&rule]), "b-1");
    assert_eq!(
        s3.read_profile("x").await.unwrap(),
        Some(StoredProfile::Text("name = \"x\"".into()))
    );
}

/// A 300 MB object under `profiles/` costs one ranged GET and no body: the
/// body here fails if it is read at all.
#[tokio::test]
async fn an_oversized_profile_is_refused_before_its_body_is_read() {
    const HUGE: i64 = 300 << 20;
    let range = format!("bytes=0-{MAX_PROFILE_BYTES}");
    let ranged = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(move |r| r.range() == Some(range.as_str()))
        .then_output(|| {
            GetObjectOutput::builder()
                .content_length(MAX_PROFILE_BYTES as i64 + 1)
                .content_range(format!("bytes 0-{MAX_PROFILE_BYTES}/{HUGE}"))
                .body(ByteStream::new(SdkBody::taken()))
                .build()
        });
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, [&ranged]), "b-1");
    assert_eq!(
        s3.read_profile("x").await.unwrap(),
        Some(StoredProfile::TooLarge { size: HUGE as u64 })
    );

    // A store that ignores the range: refused by its Content-Length.
    let whole = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
        GetObjectOutput::builder()
            .content_length(HUGE)
            .body(ByteStream::new(SdkBody::taken()))
            .build()
    });
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, [&whole]), "b-1");
    assert_eq!(
        s3.read_profile("x").await.unwrap(),
        Some(StoredProfile::TooLarge { size: HUGE as u64 })
    );

    // And one that says nothing of the size: read only up to the limit.
    let silent = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
        GetObjectOutput::builder()
            .body(ByteStream::from(vec![b'#'; MAX_PROFILE_BYTES + 1000]))
            .build()
    });
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, [&silent]), "b-1");
    assert!(matches!(
        s3.read_profile("x").await.unwrap(),
        Some(StoredProfile::TooLarge { size }) if size > MAX_PROFILE_BYTES as u64
    ));
}

/// S3 answers a range on an empty object with 416: an empty profile, not an
/// AWS failure (it is then reported as the invalid profile it is).
#[tokio::test]
async fn an_empty_profile_object_is_empty_text() {
    let rule = mock!(aws_sdk_s3::Client::get_object).then_error(|| {
        GetObjectError::generic(
            ErrorMetadata::builder()
                .code("InvalidRange")
                .message("The requested range is not satisfiable")
                .build(),
        )
    });
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, [&rule]), "b-1");
    assert_eq!(
        s3.read_profile("x").await.unwrap(),
        Some(StoredProfile::Text(String::new()))
    );
}

#[tokio::test]
async fn server_errors_are_retryable_access_denied_is_not() {
    let unavailable = mock!(aws_sdk_s3::Client::get_object).then_http_response(|| http(503, ""));
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, [&unavailable]), "b-1");
    let err = s3.read_profile("x").await.unwrap_err();
    assert!(err.retryable, "{err}");

    let denied = mock!(aws_sdk_s3::Client::get_object).then_error(|| {
        GetObjectError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("Access Denied")
                .build(),
        )
    });
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, [&denied]), "b-1");
    let err = s3.read_profile("x").await.unwrap_err();
    assert!(!err.retryable);
    assert_eq!(err.code.as_deref(), Some("AccessDenied"));
    assert_eq!(err.to_string(), "AWS S3 GetObject failed (AccessDenied)");
}

#[tokio::test]
async fn profile_listing_follows_every_page() {
    let object = |k: &str| Object::builder().key(k).build();
    let page1 = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.continuation_token().is_none())
        .then_output(move || {
            ListObjectsV2Output::builder()
                .contents(object("profiles/a.toml"))
                .contents(object("profiles/notes.txt"))
                .is_truncated(true)
                .next_continuation_token("t2")
                .build()
        });
    let page2 = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.continuation_token() == Some("t2"))
        .then_output(move || {
            ListObjectsV2Output::builder()
                .contents(object("profiles/old/b.toml"))
                .contents(object("profiles/c.toml"))
                .is_truncated(false)
                .build()
        });
    let s3 = S3Bucket::new(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&page1, &page2]),
        "b-1",
    );
    assert_eq!(s3.list_profiles().await.unwrap(), ["a", "c"]);
}

#[tokio::test]
async fn scripts_are_uploaded_only_when_absent() {
    let put = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            r.key() == Some("scripts/abc/x.sh")
                && r.content_type() == Some("text/x-shellscript")
                && r.if_none_match() == Some("*")
        })
        .then_output(|| PutObjectOutput::builder().build());
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put]), "b-1");
    assert!(s3.put_if_absent("scripts/abc/x.sh", "echo").await.unwrap());
    assert_eq!(put.num_calls(), 1);

    let present = mock!(aws_sdk_s3::Client::put_object)
        .then_http_response(|| http(412, "<Error><Code>PreconditionFailed</Code></Error>"));
    let s3 = S3Bucket::new(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&present]),
        "b-1",
    );
    assert!(
        !s3.put_if_absent("scripts/abc/x.sh", "echo").await.unwrap(),
        "an existing script is reported as unchanged, not as an error"
    );

    let denied = mock!(aws_sdk_s3::Client::put_object)
        .then_http_response(|| http(403, "<Error><Code>AccessDenied</Code></Error>"));
    let s3 = S3Bucket::new(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&denied]),
        "b-1",
    );
    assert!(s3.put_if_absent("scripts/abc/x.sh", "echo").await.is_err());
}

#[tokio::test]
async fn a_history_record_is_one_put_under_its_key_and_a_denied_write_is_an_error() {
    let now: jiff::Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
    let record = sparkhub_core::history::Record::termination(
        &ListedCluster {
            id: "j-1".into(),
            name: "sparkhub-tutorial".into(),
            state: ClusterState::Waiting,
            created_at: None,
            ready_at: None,
        },
        "tutorial",
        &sparkhub_core::idle::TerminateReason::Idle { minutes: 60 },
        now,
    );
    let key = format!(
        "history/2026-11-25/j-1-termination-{}.json",
        now.as_second()
    );
    let put = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| {
            r.key() == Some(key.as_str())
                && r.content_type() == Some("application/json")
                && r.if_none_match() == Some("*")
        })
        .then_output(|| PutObjectOutput::builder().build());
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put]), "b-1");
    s3.record(&record).await.unwrap();
    assert_eq!(put.num_calls(), 1);

    let present = mock!(aws_sdk_s3::Client::put_object)
        .then_http_response(|| http(412, "<Error><Code>PreconditionFailed</Code></Error>"));
    let s3 = S3Bucket::new(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&present]),
        "b-1",
    );
    s3.record(&record)
        .await
        .expect("a record already there is the same record");

    let denied = mock!(aws_sdk_s3::Client::put_object)
        .then_http_response(|| http(403, "<Error><Code>AccessDenied</Code></Error>"));
    let s3 = S3Bucket::new(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&denied]),
        "b-1",
    );
    let e = s3.record(&record).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("AccessDenied"));
    assert!(!e.retryable);
}

#[tokio::test]
async fn duplicate_execution_names_are_not_errors() {
    let exists = mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
        StartExecutionError::ExecutionAlreadyExists(ExecutionAlreadyExists::builder().build())
    });
    let sfn = StepFunctions::new(mock_client!(aws_sdk_sfn, [&exists]), MACHINE);
    assert_eq!(
        sfn.start_execution("tutorial-1", "{}").await.unwrap(),
        Started::AlreadyExisted(
            "arn:aws:states:eu-central-1:123456789012:execution:sparkhub-cluster:tutorial-1".into()
        )
    );

    let missing = mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|r| {
            r.execution_arn()
                == Some("arn:aws:states:eu-central-1:123456789012:execution:sparkhub-cluster:x")
        })
        .then_error(|| {
            DescribeExecutionError::ExecutionDoesNotExist(ExecutionDoesNotExist::builder().build())
        });
    let sfn = StepFunctions::new(mock_client!(aws_sdk_sfn, [&missing]), MACHINE);
    assert_eq!(sfn.find_execution("x").await.unwrap(), None);
}

#[tokio::test]
async fn start_execution_throttling_is_retryable() {
    let throttled = mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
        StartExecutionError::generic(ErrorMetadata::builder().code("ThrottlingException").build())
    });
    let sfn = StepFunctions::new(mock_client!(aws_sdk_sfn, [&throttled]), MACHINE);
    let err = sfn.start_execution("x", "{}").await.unwrap_err();
    assert!(err.retryable, "{err}");
}

fn described(
    id: &str,
    state: aws_sdk_emr::types::ClusterState,
    tags: &[(&str, &str)],
) -> DescribeClusterOutput {
    let mut cluster = Cluster::builder()
        .id(id)
        .name(format!("n-{id}"))
        .status(ClusterStatus::builder().state(state).build());
    for (k, v) in tags {
        cluster = cluster.tags(Tag::builder().key(*k).value(*v).build());
    }
    DescribeClusterOutput::builder()
        .cluster(cluster.build())
        .build()
}

#[tokio::test]
async fn active_clusters_follow_the_marker_and_carry_tags() {
    use aws_sdk_emr::types::ClusterState as S;
    let page1 = mock!(aws_sdk_emr::Client::list_clusters)
        .match_requests(|r| r.marker().is_none() && r.cluster_states().len() == 4)
        .then_output(|| {
            ListClustersOutput::builder()
                .clusters(
                    SdkSummary::builder()
                        .id("j-1")
                        .name("sparkhub-tutorial")
                        .build(),
                )
                .marker("m2")
                .build()
        });
    let page2 = mock!(aws_sdk_emr::Client::list_clusters)
        .match_requests(|r| r.marker() == Some("m2"))
        .then_output(|| {
            ListClustersOutput::builder()
                .clusters(
                    SdkSummary::builder()
                        .id("j-2")
                        .name("sparkhub-tutorial")
                        .build(),
                )
                .build()
        });
    let d1 = mock!(aws_sdk_emr::Client::describe_cluster)
        .match_requests(|r| r.cluster_id() == Some("j-1"))
        .then_output(|| {
            described(
                "j-1",
                S::Waiting,
                &[
                    ("sparkhub:managed", "true"),
                    ("sparkhub:profile", "tutorial"),
                ],
            )
        });
    let d2 = mock!(aws_sdk_emr::Client::describe_cluster)
        .match_requests(|r| r.cluster_id() == Some("j-2"))
        .then_output(|| described("j-2", S::Running, &[]));
    let emr = Emr::new(mock_client!(
        aws_sdk_emr,
        RuleMode::MatchAny,
        [&page1, &page2, &d1, &d2]
    ));
    let clusters = emr.active_clusters("sparkhub-tutorial").await.unwrap();
    assert_eq!(clusters.len(), 2, "both pages are read");
    assert!(clusters[0].is_managed());
    assert_eq!(clusters[0].profile(), Some("tutorial"));
    assert_eq!(clusters[0].state, ClusterState::Waiting);
    assert!(!clusters[1].is_managed());
}

#[tokio::test]
async fn the_sdk_retries_throttling_before_the_adapter_sees_it() {
    use aws_sdk_emr::types::ClusterState as S;
    let list = mock!(aws_sdk_emr::Client::list_clusters).then_output(|| {
        ListClustersOutput::builder()
            .clusters(SdkSummary::builder().id("j-1").name("sparkhub-x").build())
            .build()
    });
    let describe = mock!(aws_sdk_emr::Client::describe_cluster)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .times(2)
        .output(|| described("j-1", S::Waiting, &[]))
        .build();
    let client = mock_client!(aws_sdk_emr, RuleMode::MatchAny, [&list, &describe], |b| b
        .retry_config(RetryConfig::standard().with_max_attempts(3)));
    let clusters = Emr::new(client)
        .active_clusters("sparkhub-x")
        .await
        .unwrap();
    assert_eq!(clusters.len(), 1);
    assert_eq!(
        describe.num_calls(),
        3,
        "two throttled attempts, then the answer"
    );
}

#[tokio::test]
async fn only_clusters_with_the_name_are_described() {
    use aws_sdk_emr::types::ClusterState as S;
    let list = mock!(aws_sdk_emr::Client::list_clusters).then_output(|| {
        let mut out = ListClustersOutput::builder();
        for i in 0..50 {
            out = out.clusters(
                SdkSummary::builder()
                    .id(format!("j-OTHER{i}"))
                    .name(format!("team-{i}"))
                    .build(),
            );
        }
        out.clusters(
            SdkSummary::builder()
                .id("j-MINE")
                .name("sparkhub-tutorial")
                .build(),
        )
        .build()
    });
    let describe = mock!(aws_sdk_emr::Client::describe_cluster)
        .match_requests(|r| r.cluster_id() == Some("j-MINE"))
        .then_output(|| {
            described(
                "j-MINE",
                S::Starting,
                &[
                    ("sparkhub:managed", "true"),
                    ("sparkhub:profile", "tutorial"),
                ],
            )
        });
    let emr = Emr::new(mock_client!(
        aws_sdk_emr,
        RuleMode::MatchAny,
        [&list, &describe]
    ));
    let clusters = emr.active_clusters("sparkhub-tutorial").await.unwrap();
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0].id, "j-MINE");
    assert_eq!(
        describe.num_calls(),
        1,
        "fifty clusters of other names are not described"
    );
}

#[tokio::test]
async fn running_executions_follow_the_token() {
    use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
    use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
    let item = |name: &str| {
        ExecutionListItem::builder()
            .execution_arn(format!("arn:x:{name}"))
            .state_machine_arn(MACHINE)
            .name(name)
            .status(ExecutionStatus::Running)
            .start_date(aws_smithy_types::DateTime::from_secs(0))
            .build()
            .unwrap()
    };
    let page1 = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| {
            r.next_token().is_none() && r.status_filter() == Some(&ExecutionStatus::Running)
        })
        .then_output(move || {
            ListExecutionsOutput::builder()
                .executions(item("a_1"))
                .next_token("t2")
                .build()
                .unwrap()
        });
    let page2 = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.next_token() == Some("t2"))
        .then_output(move || {
            ListExecutionsOutput::builder()
                .executions(item("b_2"))
                .build()
                .unwrap()
        });
    let sfn = StepFunctions::new(
        mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&page1, &page2]),
        MACHINE,
    );
    assert_eq!(sfn.running_executions().await.unwrap(), ["a_1", "b_2"]);
}

#[tokio::test]
async fn lease_writes_are_conditional_and_a_lost_race_is_none() {
    let created = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.if_none_match() == Some("*") && r.key() == Some("locks/a.json"))
        .then_output(|| PutObjectOutput::builder().e_tag("\"v1\"").build());
    let exists = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.if_none_match() == Some("*") && r.key() == Some("locks/b.json"))
        .then_http_response(|| http(412, "<Error><Code>PreconditionFailed</Code></Error>"));
    let replaced = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.if_match() == Some("\"v1\""))
        .then_output(|| PutObjectOutput::builder().e_tag("\"v2\"").build());
    let conflict = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.if_match() == Some("\"old\""))
        .then_http_response(|| {
            http(
                409,
                "<Error><Code>ConditionalRequestConflict</Code></Error>",
            )
        });
    let denied = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.key() == Some("locks/denied.json"))
        .then_http_response(|| http(403, "<Error><Code>AccessDenied</Code></Error>"));
    let s3 = S3Bucket::new(
        mock_client!(
            aws_sdk_s3,
            RuleMode::MatchAny,
            [&created, &exists, &replaced, &conflict, &denied]
        ),
        "b-1",
    );
    assert_eq!(
        s3.create("locks/a.json", "{}").await.unwrap().as_deref(),
        Some("\"v1\"")
    );
    assert_eq!(s3.create("locks/b.json", "{}").await.unwrap(), None);
    assert_eq!(
        s3.replace("locks/a.json", "\"v1\"", "{}")
            .await
            .unwrap()
            .as_deref(),
        Some("\"v2\"")
    );
    assert_eq!(
        s3.replace("locks/a.json", "\"old\"", "{}").await.unwrap(),
        None
    );
    let err = s3.create("locks/denied.json", "{}").await.unwrap_err();
    assert!(!err.retryable, "{err}");
}

mod secrets {
    use super::*;
    use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
    use aws_sdk_secretsmanager::operation::get_secret_value::{
        GetSecretValueError, GetSecretValueOutput,
    };
    use aws_sdk_secretsmanager::types::error::{
        ResourceExistsException, ResourceNotFoundException,
    };

    #[tokio::test]
    async fn a_missing_secret_is_none_and_an_existing_one_is_not_created_again() {
        let missing = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        });
        let exists = mock!(aws_sdk_secretsmanager::Client::create_secret).then_error(|| {
            CreateSecretError::ResourceExistsException(ResourceExistsException::builder().build())
        });
        let secrets = SecretsManager::new(mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            [&missing, &exists]
        ));
        assert_eq!(
            secrets.read("sparkhub/t/jupyterhub-users").await.unwrap(),
            None
        );
        assert!(
            !secrets
                .create("sparkhub/t/jupyterhub-users", "d", &BTreeMap::new())
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_secret_that_is_not_a_json_map_is_an_error_that_does_not_show_it() {
        let odd = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_output(|| {
            GetSecretValueOutput::builder()
                .secret_string("hunter2-not-json")
                .build()
        });
        let secrets = SecretsManager::new(mock_client!(aws_sdk_secretsmanager, [&odd]));
        let err = secrets.read("s").await.unwrap_err();
        assert!(!err.retryable);
        let text = sparkhub_core::errors::message_with_causes(&err);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("SecretIsNotAJsonObjectOfStrings"), "{text}");
    }
}

#[tokio::test]
async fn many_clusters_are_described_a_few_at_a_time_in_listing_order() {
    use aws_sdk_emr::types::ClusterState as S;
    let ids: Vec<String> = (0..25).map(|i| format!("j-{i:02}")).collect();
    let listed = ids.clone();
    let list = mock!(aws_sdk_emr::Client::list_clusters).then_output(move || {
        let mut out = ListClustersOutput::builder();
        for id in &listed {
            out = out.clusters(SdkSummary::builder().id(id).name("sparkhub-x").build());
        }
        out.build()
    });
    // Every other cluster is throttled once: its answer comes after the
    // SDK's backoff, later than its neighbours'.
    let rules: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (wanted, answer) = (id.clone(), id.clone());
            let rule = mock!(aws_sdk_emr::Client::describe_cluster)
                .match_requests(move |r| r.cluster_id() == Some(wanted.as_str()))
                .sequence();
            let rule = if i.is_multiple_of(2) {
                rule.http_status(
                    400,
                    Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
                )
            } else {
                rule
            };
            rule.output(move || described(&answer, S::Waiting, &[]))
                .build()
        })
        .collect();
    let mut all = vec![&list];
    all.extend(rules.iter());
    let client = mock_client!(aws_sdk_emr, RuleMode::MatchAny, all, |b| b.retry_config(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(std::time::Duration::from_millis(20))
    ));
    let clusters = Emr::new(client)
        .with_max_in_flight(4)
        .active_clusters("sparkhub-x")
        .await
        .unwrap();
    let found: Vec<&str> = clusters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(found, ids, "every cluster, in listing order");
    let calls: usize = rules.iter().map(|r| r.num_calls()).sum();
    assert_eq!(calls, 25 + 13, "one call per cluster, plus the retries");
}

#[tokio::test]
async fn a_steps_action_on_failure_reaches_emr_as_the_profile_says() {
    use aws_sdk_emr::operation::add_job_flow_steps::AddJobFlowStepsOutput;
    use aws_sdk_emr::types::ActionOnFailure as Sdk;
    use sparkhub_core::render::HadoopJarStep;
    for (ours, sent) in [
        (ActionOnFailure::Continue, Sdk::Continue),
        (ActionOnFailure::CancelAndWait, Sdk::CancelAndWait),
        (ActionOnFailure::TerminateCluster, Sdk::TerminateCluster),
    ] {
        let add = mock!(aws_sdk_emr::Client::add_job_flow_steps)
            .match_requests(move |r| {
                r.job_flow_id() == Some("j-1")
                    && r.steps().first().and_then(|s| s.action_on_failure()) == Some(&sent)
            })
            .then_output(|| AddJobFlowStepsOutput::builder().step_ids("s-1").build());
        let emr = Emr::new(mock_client!(aws_sdk_emr, [&add]));
        let step = StepConfig {
            name: "clean".into(),
            action_on_failure: ours,
            hadoop_jar_step: HadoopJarStep {
                jar: "command-runner.jar".into(),
                args: vec!["spark-submit".into()],
            },
        };
        let id = emr.add_step("j-1", &step).await;
        assert_eq!(id.ok().as_deref(), Some("s-1"), "{ours}");
    }
}

/// What `sparkhub connect` and the sweep read from DescribeCluster: master
/// DNS name, key pair, protection and applications; an unknown cluster is
/// `None`.
#[tokio::test]
async fn a_described_cluster_carries_what_connect_and_the_sweep_read() {
    use aws_sdk_emr::operation::describe_cluster::DescribeClusterError;
    use aws_sdk_emr::types::{Application, Ec2InstanceAttributes, error::InvalidRequestException};
    let full = mock!(aws_sdk_emr::Client::describe_cluster)
        .match_requests(|r| r.cluster_id() == Some("j-1"))
        .then_output(|| {
            DescribeClusterOutput::builder()
                .cluster(
                    Cluster::builder()
                        .id("j-1")
                        .name("sparkhub-tutorial")
                        .status(
                            ClusterStatus::builder()
                                .state(aws_sdk_emr::types::ClusterState::Waiting)
                                .build(),
                        )
                        .master_public_dns_name("ec2-1-2-3-4.compute.amazonaws.com")
                        .ec2_instance_attributes(
                            Ec2InstanceAttributes::builder()
                                .ec2_key_name("team-key")
                                .build(),
                        )
                        .termination_protected(true)
                        .applications(Application::builder().name("JupyterHub").build())
                        .build(),
                )
                .build()
        });
    let bare = mock!(aws_sdk_emr::Client::describe_cluster)
        .match_requests(|r| r.cluster_id() == Some("j-2"))
        .then_output(|| described("j-2", aws_sdk_emr::types::ClusterState::Starting, &[]));
    let unknown = mock!(aws_sdk_emr::Client::describe_cluster)
        .match_requests(|r| r.cluster_id() == Some("j-3"))
        .then_error(|| {
            DescribeClusterError::InvalidRequestException(
                InvalidRequestException::builder()
                    .message("Cluster id 'j-3' is not valid.")
                    .build(),
            )
        });
    let emr = Emr::new(mock_client!(
        aws_sdk_emr,
        RuleMode::MatchAny,
        [&full, &bare, &unknown]
    ));
    let full = emr.cluster("j-1").await.unwrap().unwrap();
    assert_eq!(
        full.master_dns.as_deref(),
        Some("ec2-1-2-3-4.compute.amazonaws.com")
    );
    assert_eq!(full.key_name.as_deref(), Some("team-key"));
    assert!(full.termination_protected);
    assert_eq!(full.applications, ["JupyterHub"]);
    let bare = emr.cluster("j-2").await.unwrap().unwrap();
    assert_eq!((bare.master_dns, bare.key_name), (None, None));
    assert!(!bare.termination_protected && bare.applications.is_empty());
    assert_eq!(bare.state, ClusterState::Starting);
    assert_eq!(emr.cluster("j-3").await.unwrap(), None);
}

/// The request never left: no credentials is no transient failure, and the
/// CLI tells it apart from a refused connection, which is one.
#[test]
fn missing_credentials_are_not_retryable_a_refused_connection_is() {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_emr::operation::describe_cluster::DescribeClusterError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use operator::{Trouble, diagnose};

    let no_credentials =
        SdkError::<DescribeClusterError, HttpResponse>::dispatch_failure(ConnectorError::other(
            Box::new(CredentialsError::not_loaded("none in chain")),
            None,
        ));
    let err = aws_error("EMR DescribeCluster", no_credentials);
    assert!(!err.retryable, "{err}");
    assert_eq!(diagnose(&err), Trouble::NoCredentials);

    let refused =
        SdkError::<DescribeClusterError, HttpResponse>::dispatch_failure(ConnectorError::io(
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ));
    let err = aws_error("EMR DescribeCluster", refused);
    assert!(err.retryable, "{err}");
    assert!(matches!(diagnose(&err), Trouble::Unreachable(_)), "{err}");
}

#[tokio::test]
async fn access_denied_names_the_iam_action_throttling_is_transient() {
    use aws_sdk_emr::operation::describe_cluster::DescribeClusterError;
    use operator::{Trouble, diagnose};
    let denied = mock!(aws_sdk_emr::Client::describe_cluster).then_error(|| {
        DescribeClusterError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("User: arn:aws:iam::123456789012:user/ana is not authorized")
                .build(),
        )
    });
    let emr = Emr::new(mock_client!(aws_sdk_emr, [&denied]));
    let err = emr.details("j-1").await.unwrap_err();
    assert_eq!(
        diagnose(&err),
        Trouble::AccessDenied {
            action: "elasticmapreduce:DescribeCluster".into()
        }
    );

    let listing = mock!(aws_sdk_s3::Client::list_objects_v2).then_error(|| {
        aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error::generic(
            ErrorMetadata::builder().code("AccessDenied").build(),
        )
    });
    let s3 = S3Bucket::new(mock_client!(aws_sdk_s3, [&listing]), "b-1");
    let err = s3.list_profiles().await.unwrap_err();
    assert_eq!(
        diagnose(&err),
        Trouble::AccessDenied {
            action: "s3:ListBucket".into()
        }
    );

    let throttled = mock!(aws_sdk_emr::Client::describe_cluster).then_error(|| {
        DescribeClusterError::generic(ErrorMetadata::builder().code("ThrottlingException").build())
    });
    let emr = Emr::new(mock_client!(aws_sdk_emr, [&throttled]));
    let err = emr.details("j-1").await.unwrap_err();
    assert!(matches!(diagnose(&err), Trouble::Transient(_)), "{err:?}");
}

/// The master of a fleet cluster (what sparkhub renders: one call), else of
/// a cluster of instance groups; a core node is never the answer.
#[tokio::test]
async fn master_instance_comes_from_the_master_fleet_or_group() {
    use aws_sdk_emr::operation::list_instances::ListInstancesOutput;
    use aws_sdk_emr::types::{Instance, InstanceFleetType, InstanceGroupType};
    let instance = |id: &str, group: Option<&str>, fleet: Option<&str>| {
        Instance::builder()
            .ec2_instance_id(id)
            .set_instance_group_id(group.map(str::to_owned))
            .set_instance_fleet_id(fleet.map(str::to_owned))
            .build()
    };
    let fleet = mock!(aws_sdk_emr::Client::list_instances)
        .match_requests(|r| r.instance_fleet_type() == Some(&InstanceFleetType::Master))
        .then_output(move || {
            ListInstancesOutput::builder()
                .instances(instance("i-0fleetmaster", None, Some("if-M")))
                .build()
        });
    let groups_unasked = mock!(aws_sdk_emr::Client::list_instances)
        .match_requests(|r| r.instance_group_types() == [InstanceGroupType::Master])
        .then_output(|| ListInstancesOutput::builder().build());
    let emr = Emr::new(mock_client!(
        aws_sdk_emr,
        RuleMode::MatchAny,
        [&fleet, &groups_unasked]
    ));
    assert_eq!(
        emr.master_instance("j-2").await.unwrap().as_deref(),
        Some("i-0fleetmaster")
    );
    assert_eq!(
        groups_unasked.num_calls(),
        0,
        "a fleet cluster takes one call"
    );

    // A cluster of groups: the fleet query has nothing of a fleet (whatever
    // EMR answers to it), the group query has the master.
    let none = mock!(aws_sdk_emr::Client::list_instances)
        .match_requests(|r| r.instance_fleet_type() == Some(&InstanceFleetType::Master))
        .then_output(move || {
            ListInstancesOutput::builder()
                .instances(instance("i-0core", Some("ig-C"), None))
                .build()
        });
    let groups = mock!(aws_sdk_emr::Client::list_instances)
        .match_requests(|r| r.instance_group_types() == [InstanceGroupType::Master])
        .then_output(move || {
            ListInstancesOutput::builder()
                .instances(instance("i-0master", Some("ig-M"), None))
                .build()
        });
    let emr = Emr::new(mock_client!(
        aws_sdk_emr,
        RuleMode::MatchAny,
        [&none, &groups]
    ));
    assert_eq!(
        emr.master_instance("j-1").await.unwrap().as_deref(),
        Some("i-0master")
    );
}

/// A warning names its recipients in one String.Array attribute, which the
/// users' subscriptions filter on; a message for the operator alone has
/// none (the operator's subscription takes everything).
#[tokio::test]
async fn a_message_names_its_recipients_in_a_string_array_attribute() {
    use aws_sdk_sns::operation::publish::PublishOutput;
    const TOPIC: &str = "arn:aws:sns:eu-central-1:123456789012:sparkhub";
    let named = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            let attribute = r.message_attributes().and_then(|a| a.get("recipients"));
            r.topic_arn() == Some(TOPIC)
                && r.message_attributes().map(|a| a.len()) == Some(1)
                && attribute.is_some_and(|v| {
                    v.data_type() == "String.Array"
                        && v.string_value() == Some(r#"["tutorial/philipp","tutorial/data_eng-2"]"#)
                })
        })
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    let operator_only = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| r.topic_arn() == Some(TOPIC) && r.message_attributes().is_none())
        .then_output(|| PublishOutput::builder().message_id("m-2").build());
    let sns = Sns::new(
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&named, &operator_only]),
        TOPIC,
    );
    sns.notify(
        "sparkhub will terminate j-1 (tutorial) in 15 min",
        "…",
        &["tutorial/philipp".into(), "tutorial/data_eng-2".into()],
    )
    .await
    .unwrap();
    sns.notify("sparkhub terminated j-2 (retrain)", "…", &[])
        .await
        .unwrap();
    assert_eq!(named.num_calls(), 1, "the warning for two users");
    assert_eq!(operator_only.num_calls(), 1, "the notice for the operator");
}

/// The run's state is the one entered last and its cluster the last one a
/// state saw, by the events' ids, whatever order the listing gives.
#[tokio::test]
async fn run_progress_reads_the_last_state_and_the_cluster_by_event_id() {
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
    use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
    use aws_sdk_sfn::types::{
        ExecutionStatus, HistoryEvent, HistoryEventType, StateEnteredEventDetails,
        StateExitedEventDetails,
    };
    use sparkhub_core::ports::RunWatcher;
    let at = aws_smithy_types::DateTime::from_secs(0);
    let entered = move |id: i64, name: &str, input: &str| {
        HistoryEvent::builder()
            .id(id)
            .timestamp(at)
            .r#type(HistoryEventType::TaskStateEntered)
            .state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name(name)
                    .input(input)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let exited = move |id: i64, name: &str, output: &str| {
        HistoryEvent::builder()
            .id(id)
            .timestamp(at)
            .r#type(HistoryEventType::TaskStateExited)
            .state_exited_event_details(
                StateExitedEventDetails::builder()
                    .name(name)
                    .output(output)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let described = mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || {
        DescribeExecutionOutput::builder()
            .execution_arn("arn:x")
            .state_machine_arn(MACHINE)
            .status(ExecutionStatus::Running)
            .start_date(at)
            .build()
            .unwrap()
    });
    let history = mock!(aws_sdk_sfn::Client::get_execution_history).then_output(move || {
        GetExecutionHistoryOutput::builder()
            .events(entered(
                7,
                "Wait for cluster",
                r#"{"cluster":{"ClusterId":"j-NEW"}}"#,
            ))
            .events(entered(2, "Create cluster", "{}"))
            .events(exited(
                3,
                "Create cluster",
                r#"{"cluster":{"ClusterId":"j-OLD"}}"#,
            ))
            .events(exited(
                5,
                "Describe cluster",
                r#"{"cluster":{"ClusterId":"j-NEW"}}"#,
            ))
            .build()
            .unwrap()
    });
    let sfn = StepFunctions::new(
        mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&described, &history]),
        MACHINE,
    );
    let run = sfn.run_progress("arn:x").await.unwrap().unwrap();
    assert_eq!(run.status, "RUNNING");
    assert_eq!(run.current_state.as_deref(), Some("Wait for cluster"));
    assert_eq!(run.cluster_id.as_deref(), Some("j-NEW"));

    let missing = mock!(aws_sdk_sfn::Client::describe_execution).then_error(|| {
        DescribeExecutionError::ExecutionDoesNotExist(ExecutionDoesNotExist::builder().build())
    });
    let sfn = StepFunctions::new(mock_client!(aws_sdk_sfn, [&missing]), MACHINE);
    assert_eq!(sfn.run_progress("arn:gone").await.unwrap(), None);
}

/// An access denied names the IAM action to ask for, for the CLI's calls too.
#[test]
fn the_iam_action_of_every_operation_the_cli_makes() {
    for (operation, action) in [
        (
            "CloudFormation DescribeStacks",
            "cloudformation:DescribeStacks",
        ),
        ("IAM GetInstanceProfile", "iam:GetInstanceProfile"),
        ("Lambda Invoke", "lambda:InvokeFunction"),
        ("STS GetCallerIdentity", "sts:GetCallerIdentity"),
        (
            "Step Functions GetExecutionHistory",
            "states:GetExecutionHistory",
        ),
        (
            "EMR ListInstanceFleets",
            "elasticmapreduce:ListInstanceFleets",
        ),
        ("S3 ListObjectsV2", "s3:ListBucket"),
        ("Pricing GetProducts", "pricing:GetProducts"),
    ] {
        assert_eq!(operator::iam_action(operation), action);
    }
}
