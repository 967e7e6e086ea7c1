//! AWS's Price List Query API (`pricing:GetProducts`): the on-demand prices
//! `sparkhub report` multiplies by the clusters' instance hours.
//!
//! Which endpoint: the Price List answers in only a few regions, whatever
//! region the prices are for — the Billing User Guide lists
//! `api.pricing.us-east-1`, `api.pricing.eu-central-1` and
//! `api.pricing.ap-south-1` ("Using the AWS Price List Bulk API",
//! https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-ppslong.html,
//! "Endpoints": "The endpoints aren't related to product or service
//! attributes"), the SDK's own service documentation only us-east-1 and
//! ap-south-1. The adapter always asks us-east-1, the one every page names;
//! the operator's region only chooses the prices (`regionCode`).
//! `AWS_ENDPOINT_URL` still replaces the endpoint (the local emulator).
//!
//! Spot prices are not read: they come from EC2's DescribeSpotPriceHistory,
//! and aws-sdk-ec2 is among the largest SDK crates — it would push a clean
//! `make test` on two cores well past its ~10 minutes. The report prices spot
//! capacity at the on-demand price, an upper bound, and says so.

use aws_config::SdkConfig;
use aws_sdk_pricing::types::{Filter, FilterType};
use sparkhub_core::ports::{AwsError, ListPrice, PriceSource};

use crate::aws_error;

/// The region whose Price List endpoint the adapter asks.
pub const PRICE_LIST_REGION: &str = "us-east-1";

/// EC2's and EMR's service codes in the Price List.
pub const EC2_SERVICE: &str = "AmazonEC2";
pub const EMR_SERVICE: &str = "ElasticMapReduce";

const OPERATION: &str = "Pricing GetProducts";

/// The Price List, through an `aws-sdk-pricing` client.
#[derive(Debug, Clone)]
pub struct PriceList {
    client: aws_sdk_pricing::Client,
}

impl PriceList {
    pub fn new(client: aws_sdk_pricing::Client) -> Self {
        Self { client }
    }

    /// A client of the Price List endpoint in [`PRICE_LIST_REGION`], with
    /// the credentials (and any `AWS_ENDPOINT_URL`) of `config`.
    pub fn from_config(config: &SdkConfig) -> Self {
        let config = aws_sdk_pricing::config::Builder::from(config)
            .region(aws_config::Region::from_static(PRICE_LIST_REGION))
            .build();
        Self::new(aws_sdk_pricing::Client::from_conf(config))
    }
}

/// `TERM_MATCH` filters.
fn filters(pairs: &[(&str, &str)]) -> Result<Vec<Filter>, AwsError> {
    pairs
        .iter()
        .map(|(field, value)| {
            Filter::builder()
                .r#type(FilterType::TermMatch)
                .field(*field)
                .value(*value)
                .build()
                .map_err(|e| AwsError::new(OPERATION, false, None, e))
        })
        .collect()
}

/// The filters of the EC2 product: Linux, shared tenancy, no preinstalled
/// software, capacity used (not a reservation's unused capacity).
pub fn ec2_filters<'a>(region: &'a str, instance_type: &'a str) -> [(&'a str, &'a str); 6] {
    [
        ("instanceType", instance_type),
        ("regionCode", region),
        ("operatingSystem", "Linux"),
        ("tenancy", "Shared"),
        ("preInstalledSw", "NA"),
        ("capacitystatus", "Used"),
    ]
}

/// The filters of EMR's charge for an instance type (EMR on EC2, not on EKS
/// or Serverless).
pub fn emr_filters<'a>(region: &'a str, instance_type: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("instanceType", instance_type),
        ("regionCode", region),
        ("productFamily", "Elastic Map Reduce Instance"),
        ("softwareType", "EMR"),
    ]
}

impl PriceSource for PriceList {
    async fn list_price(
        &self,
        region: &str,
        instance_type: &str,
    ) -> Result<Option<ListPrice>, AwsError> {
        let mut answers: Vec<Option<f64>> = Vec::new();
        for (service, wanted) in [
            (EC2_SERVICE, filters(&ec2_filters(region, instance_type))?),
            (EMR_SERVICE, filters(&emr_filters(region, instance_type))?),
        ] {
            let mut pages = self
                .client
                .get_products()
                .service_code(service)
                .format_version("aws_v1")
                .set_filters(Some(wanted))
                .max_results(100)
                .into_paginator()
                .send();
            let mut entries = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws_error(OPERATION, e))?;
                entries.extend(page.price_list().iter().cloned());
            }
            let price = on_demand_hourly(&entries, instance_type);
            if price.is_none() {
                tracing::info!(service, region, instance_type, "no on-demand price listed");
                return Ok(None);
            }
            answers.push(price);
        }
        Ok(match answers[..] {
            [Some(ec2), Some(emr)] => Some(ListPrice { ec2, emr }),
            _ => None,
        })
    }
}

/// The on-demand USD price per hour of `instance_type` in Price List
/// entries (each a JSON document in a string): the `OnDemand` terms'
/// dimensions in `Hrs`, of products of that type (and, for EC2, of the
/// plain `RunInstances` operation where the entry names one). Several left:
/// the dearest, an upper bound. None, or only zero prices: `None`, never a
/// price of zero.
pub fn on_demand_hourly(entries: &[String], instance_type: &str) -> Option<f64> {
    let mut prices = Vec::new();
    for entry in entries {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(entry) else {
            tracing::warn!("a Price List entry that is not JSON, skipped");
            continue;
        };
        let attributes = &doc["product"]["attributes"];
        if attributes["instanceType"].as_str() != Some(instance_type) {
            continue;
        }
        if attributes["operation"]
            .as_str()
            .is_some_and(|op| op != "RunInstances")
            && doc["serviceCode"].as_str() == Some(EC2_SERVICE)
        {
            continue;
        }
        let Some(terms) = doc["terms"]["OnDemand"].as_object() else {
            continue;
        };
        for term in terms.values() {
            let Some(dimensions) = term["priceDimensions"].as_object() else {
                continue;
            };
            for dimension in dimensions.values() {
                if dimension["unit"].as_str() != Some("Hrs") {
                    continue;
                }
                if let Some(usd) = dimension["pricePerUnit"]["USD"]
                    .as_str()
                    .and_then(|p| p.parse::<f64>().ok())
                    .filter(|p| p.is_finite() && *p > 0.0)
                {
                    prices.push(usd);
                }
            }
        }
    }
    prices.into_iter().reduce(f64::max)
}

#[cfg(test)]
#[path = "pricing_tests.rs"]
mod tests;
