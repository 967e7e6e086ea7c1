//! The Price List adapter over `GetProducts` answers in the documented
//! format (`tests/fixtures/pricing/`, see its README), with
//! `aws-smithy-mocks`.

use super::*;
use aws_sdk_pricing::operation::get_products::{GetProductsError, GetProductsOutput};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;

/// The `PriceList` strings of a fixture (a GetProducts response body).
fn fixture(name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pricing")
        .join(name);
    let body: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(body["FormatVersion"], "aws_v1", "{}", path.display());
    body["PriceList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e.as_str()
                .expect("PriceList entries are strings")
                .to_owned()
        })
        .collect()
}

fn has_filter(filters: &[Filter], field: &str, value: &str) -> bool {
    filters
        .iter()
        .any(|f| f.r#type() == &FilterType::TermMatch && f.field() == field && f.value() == value)
}

#[tokio::test]
async fn an_instance_type_is_priced_from_ec2s_on_demand_term_and_emrs_charge() {
    let ec2 = mock!(aws_sdk_pricing::Client::get_products)
        .match_requests(|r| {
            let f = r.filters();
            r.service_code() == Some(EC2_SERVICE)
                && r.format_version() == Some("aws_v1")
                && has_filter(f, "instanceType", "m5.xlarge")
                && has_filter(f, "regionCode", "us-east-1")
                && has_filter(f, "operatingSystem", "Linux")
                && has_filter(f, "tenancy", "Shared")
                && has_filter(f, "preInstalledSw", "NA")
                && has_filter(f, "capacitystatus", "Used")
        })
        .then_output(|| {
            GetProductsOutput::builder()
                .format_version("aws_v1")
                .set_price_list(Some(fixture("ec2-m5.xlarge-us-east-1.json")))
                .build()
        });
    let emr = mock!(aws_sdk_pricing::Client::get_products)
        .match_requests(|r| {
            let f = r.filters();
            r.service_code() == Some(EMR_SERVICE)
                && has_filter(f, "instanceType", "m5.xlarge")
                && has_filter(f, "regionCode", "us-east-1")
                && has_filter(f, "productFamily", "Elastic Map Reduce Instance")
                && has_filter(f, "softwareType", "EMR")
        })
        .then_output(|| {
            GetProductsOutput::builder()
                .format_version("aws_v1")
                .set_price_list(Some(fixture("emr-m5.xlarge-us-east-1.json")))
                .build()
        });
    let prices = PriceList::new(mock_client!(
        aws_sdk_pricing,
        RuleMode::MatchAny,
        [&ec2, &emr]
    ));
    // The Reserved term ($0.121) in the same entry is not the price.
    assert_eq!(
        prices.list_price("us-east-1", "m5.xlarge").await.unwrap(),
        Some(ListPrice {
            ec2: 0.192,
            emr: 0.048
        })
    );
    assert_eq!(ec2.num_calls(), 1);
    assert_eq!(emr.num_calls(), 1);
}

#[tokio::test]
async fn a_type_the_price_list_lacks_is_none_and_emr_is_not_asked() {
    let empty = mock!(aws_sdk_pricing::Client::get_products).then_output(|| {
        GetProductsOutput::builder()
            .format_version("aws_v1")
            .build()
    });
    let prices = PriceList::new(mock_client!(aws_sdk_pricing, RuleMode::MatchAny, [&empty]));
    assert_eq!(
        prices.list_price("us-east-1", "x9.huge").await.unwrap(),
        None
    );
    assert_eq!(empty.num_calls(), 1);
}

#[tokio::test]
async fn the_answers_pages_are_followed() {
    let first = mock!(aws_sdk_pricing::Client::get_products)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            GetProductsOutput::builder()
                .format_version("aws_v1")
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_pricing::Client::get_products)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_compute_output(|r| {
            let name = if r.service_code() == Some(EC2_SERVICE) {
                "ec2-m5.xlarge-us-east-1.json"
            } else {
                "emr-m5.xlarge-us-east-1.json"
            };
            GetProductsOutput::builder()
                .format_version("aws_v1")
                .set_price_list(Some(fixture(name)))
                .build()
        });
    let prices = PriceList::new(mock_client!(
        aws_sdk_pricing,
        RuleMode::MatchAny,
        [&first, &second]
    ));
    assert_eq!(
        prices.list_price("us-east-1", "m5.xlarge").await.unwrap(),
        Some(ListPrice {
            ec2: 0.192,
            emr: 0.048
        })
    );
    assert_eq!((first.num_calls(), second.num_calls()), (2, 2));
}

#[tokio::test]
async fn access_denied_is_an_error_that_names_its_code() {
    let denied = mock!(aws_sdk_pricing::Client::get_products).then_error(|| {
        GetProductsError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized to perform: pricing:GetProducts")
                .build(),
        )
    });
    let prices = PriceList::new(mock_client!(aws_sdk_pricing, RuleMode::MatchAny, [&denied]));
    let err = prices
        .list_price("us-east-1", "m5.xlarge")
        .await
        .unwrap_err();
    assert!(!err.retryable);
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
    assert_eq!(
        err.to_string(),
        "AWS Pricing GetProducts failed (AccessDeniedException)"
    );
}

/// Entries of another type or operation, terms in other units, zero or
/// unparsable prices and entries that are not JSON are no price.
#[test]
fn only_on_demand_hours_of_the_type_count() {
    let ec2 = fixture("ec2-m5.xlarge-us-east-1.json");
    assert_eq!(on_demand_hourly(&ec2, "m5.xlarge"), Some(0.192));
    assert_eq!(on_demand_hourly(&ec2, "m5a.xlarge"), None);
    let with = |from: &str, to: &str| vec![ec2[0].replacen(from, to, 1)];
    assert_eq!(
        on_demand_hourly(
            &with(
                "\"operation\":\"RunInstances\"",
                "\"operation\":\"RunInstances:0004\""
            ),
            "m5.xlarge"
        ),
        None,
        "another operation (with SQL Server) is not Linux's price"
    );
    assert_eq!(
        on_demand_hourly(&with("\"0.1920000000\"", "\"0.0000000000\""), "m5.xlarge"),
        None
    );
    assert_eq!(
        on_demand_hourly(
            &with("\"unit\":\"Hrs\"", "\"unit\":\"Quantity\""),
            "m5.xlarge"
        ),
        None
    );
    assert_eq!(
        on_demand_hourly(&["not json".to_owned()], "m5.xlarge"),
        None
    );
    // Two products left: the dearest, an upper bound.
    let dearer = ec2[0].replacen("0.1920000000", "0.2100000000", 1);
    assert_eq!(
        on_demand_hourly(&[ec2[0].clone(), dearer], "m5.xlarge"),
        Some(0.21)
    );
}

#[test]
fn the_adapter_asks_the_us_east_1_endpoint() {
    let config = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("eu-central-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let prices = PriceList::from_config(&config);
    assert_eq!(
        prices.client.config().region().map(|r| r.as_ref()),
        Some(PRICE_LIST_REGION)
    );
}
