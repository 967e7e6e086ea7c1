//! A function's settings, read from its environment (or, in tests, from any
//! lookup): what is required, what is optional, and the message when a
//! required one is missing.

pub struct Settings<F: Fn(&str) -> Option<String>>(pub F);

/// `SPARKHUB_MAX_CONCURRENCY`: how many AWS calls of one kind a function
/// keeps in flight when it asks the same question about many clusters
/// (the sweep's DescribeCluster, ListSteps and TerminateJobFlows calls,
/// create-cluster's DescribeCluster calls).
pub const MAX_CONCURRENCY: &str = "SPARKHUB_MAX_CONCURRENCY";

/// Ten: EMR's default burst for DescribeCluster, ListSteps and
/// TerminateJobFlows is ten calls each (quotas L-81AF5123, L-7D1BF903,
/// L-2625B75B), within the account-wide burst of 25 calls (L-283CCA2A).
/// A sweep never asks for more than a burst at once; what outlasts a
/// bucket's refill is throttled by EMR and retried with backoff by the
/// SDK (standard retry mode). Burst and refill, and the quota table:
/// <https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-service-limits-what-are.html>,
/// <https://docs.aws.amazon.com/general/latest/gr/emr.html#limits_emr>.
pub const DEFAULT_MAX_CONCURRENCY: usize = 10;

/// The most `SPARKHUB_MAX_CONCURRENCY` may be: an account with raised
/// quotas may go beyond the default, but not without bound.
pub const MAX_MAX_CONCURRENCY: usize = 100;

impl<F: Fn(&str) -> Option<String>> Settings<F> {
    /// The value when it is set and not blank.
    pub fn optional(&self, key: &str) -> Option<String> {
        (self.0)(key).filter(|v| !v.trim().is_empty())
    }

    /// The value, or `"<KEY> is not set"`.
    pub fn required(&self, key: &str) -> Result<String, String> {
        self.optional(key)
            .ok_or_else(|| format!("{key} is not set"))
    }

    /// `SPARKHUB_MAX_CONCURRENCY`, 1 to [`MAX_MAX_CONCURRENCY`]; unset is
    /// [`DEFAULT_MAX_CONCURRENCY`].
    pub fn max_concurrency(&self) -> Result<usize, String> {
        match self.optional(MAX_CONCURRENCY) {
            None => Ok(DEFAULT_MAX_CONCURRENCY),
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MAX_MAX_CONCURRENCY).contains(n))
                .ok_or_else(|| {
                    format!(
                        "{MAX_CONCURRENCY}={v:?} is not a number of calls from 1 to {MAX_MAX_CONCURRENCY}"
                    )
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_missing_required_names_the_key() {
        let env = Settings(|k: &str| match k {
            "A" => Some("x".to_string()),
            "B" => Some("  ".to_string()),
            _ => None,
        });
        assert_eq!(env.optional("A").as_deref(), Some("x"));
        assert_eq!(env.optional("B"), None);
        assert_eq!(env.required("B").unwrap_err(), "B is not set");
        assert_eq!(env.required("C").unwrap_err(), "C is not set");
    }

    #[test]
    fn max_concurrency_defaults_to_emrs_burst_and_rejects_nonsense() {
        let with = |v: &'static str| {
            Settings(move |k: &str| (k == MAX_CONCURRENCY).then(|| v.to_string()))
        };
        assert_eq!(Settings(|_: &str| None).max_concurrency(), Ok(10));
        assert_eq!(with(" 25 ").max_concurrency(), Ok(25));
        assert_eq!(with("1").max_concurrency(), Ok(1));
        for bad in ["0", "101", "-3", "ten"] {
            let message = with(bad).max_concurrency().unwrap_err();
            assert!(
                message.contains("SPARKHUB_MAX_CONCURRENCY") && message.contains("1 to 100"),
                "{message}"
            );
        }
    }
}
