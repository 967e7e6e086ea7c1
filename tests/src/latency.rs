//! A fixed delay before every AWS call, for benchmarks: the local emulator
//! answers in about a millisecond, AWS after a network round trip. The delay
//! wraps the SDK's own HTTP client in an `SdkConfig` made only by the
//! benchmark; the functions see a plain `SdkConfig` and take no other path.

use std::time::Duration;

use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// `config` with every request (each attempt, retries too) sent `delay`
/// late. A zero delay returns the configuration unchanged.
pub fn with_latency(config: &aws_config::SdkConfig, delay: Duration) -> aws_config::SdkConfig {
    if delay.is_zero() {
        return config.clone();
    }
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https();
    config
        .to_builder()
        .http_client(Delayed { inner, delay })
        .build()
}

#[derive(Debug)]
struct Delayed {
    inner: SharedHttpClient,
    delay: Duration,
}

impl HttpClient for Delayed {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(DelayedConnector {
            inner: self.inner.http_connector(settings, components),
            delay: self.delay,
        })
    }
}

#[derive(Debug)]
struct DelayedConnector {
    inner: SharedHttpConnector,
    delay: Duration,
}

impl HttpConnector for DelayedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, delay) = (self.inner.clone(), self.delay);
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(delay).await;
            inner.call(request).await
        })
    }
}

/// The command line of the latency benchmarks: fleet sizes (default 10, 100
/// and 1,000), `--delay-ms=<ms>` per AWS call and `--concurrency=<calls>` in
/// flight (default the functions' own).
pub struct BenchArgs {
    pub sizes: Vec<usize>,
    pub delay: Duration,
    pub concurrency: usize,
}

impl BenchArgs {
    pub fn from_command_line() -> Self {
        let mut parsed = Self {
            sizes: Vec::new(),
            delay: Duration::ZERO,
            concurrency: sparkhub_core::settings::DEFAULT_MAX_CONCURRENCY,
        };
        for arg in std::env::args().skip(1) {
            if let Some(ms) = arg.strip_prefix("--delay-ms=") {
                parsed.delay =
                    Duration::from_millis(ms.parse().expect("--delay-ms=<milliseconds>"));
            } else if let Some(k) = arg.strip_prefix("--concurrency=") {
                parsed.concurrency = k.parse().expect("--concurrency=<calls>");
            } else if let Ok(n) = arg.parse() {
                parsed.sizes.push(n);
            }
        }
        if parsed.sizes.is_empty() {
            parsed.sizes = vec![10, 100, 1000];
        }
        parsed
    }
}
