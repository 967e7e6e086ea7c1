//! Validated names. Each check is a few lines over bytes; a regex engine would
//! add a dependency and compile time for patterns this small.

use std::fmt;

/// A profile name: `^[a-z0-9][a-z0-9-]{0,39}$`. It becomes a tag value, part of
/// S3 keys, secret names and execution names, so it is kept narrow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProfileName(String);

impl ProfileName {
    pub fn parse(name: &str) -> Result<Self, String> {
        let ok = (1..=40).contains(&name.len())
            && name.as_bytes()[0] != b'-'
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "{name:?} is not a valid profile name (^[a-z0-9][a-z0-9-]{{0,39}}$)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Linux user name safe to pass to a shell: `^[a-z_][a-z0-9_-]{0,31}$`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserName(String);

impl UserName {
    pub fn parse(name: &str) -> Result<Self, String> {
        let bytes = name.as_bytes();
        let ok = (1..=32).contains(&bytes.len())
            && (bytes[0].is_ascii_lowercase() || bytes[0] == b'_')
            && bytes
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "{name:?} is not a valid Linux user name (^[a-z_][a-z0-9_-]{{0,31}}$)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An `s3://bucket/key` URI with a valid bucket name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Uri {
    bucket: String,
    key: String,
}

impl S3Uri {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let Some(rest) = uri.strip_prefix("s3://") else {
            return Err(format!(
                "{uri:?} is not an s3:// URI (e.g. \"s3://my-bucket/logs/\")"
            ));
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket).map_err(|e| format!("{uri:?}: {e}"))?;
        Ok(Self::new(bucket, key))
    }

    /// Builds a URI from parts already known to be valid.
    pub fn new(bucket: &str, key: &str) -> Self {
        Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// S3 bucket naming rules (general purpose buckets): 3 to 63 characters of
/// lower-case letters, digits, `.` and `-`, starting and ending with a letter
/// or digit.
pub fn check_bucket(bucket: &str) -> Result<(), String> {
    let b = bucket.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (3..=63).contains(&b.len())
        && edge(b[0])
        && edge(b[b.len() - 1])
        && b.iter().all(|&c| edge(c) || c == b'.' || c == b'-')
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{bucket:?} is not a valid S3 bucket name (3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_linux_rule() {
        for ok in [
            "philipp",
            "admin",
            "_svc",
            "a",
            "data-eng_2",
            &"a".repeat(32),
        ] {
            assert!(UserName::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "",
            "Bob",
            "bob;rm",
            "1abc",
            "-x",
            "a b",
            "ümlaut",
            &"a".repeat(33),
            "x$(id)",
        ] {
            let e = UserName::parse(bad).unwrap_err();
            assert!(e.contains("^[a-z_][a-z0-9_-]{0,31}$"), "{e}");
        }
    }

    #[test]
    fn profile_names_are_narrow() {
        assert!(ProfileName::parse("tutorial").is_ok());
        assert!(ProfileName::parse("ml-retrain-2").is_ok());
        for bad in ["", "-x", "Tutorial", "a_b", "a/b", &"a".repeat(41)] {
            assert!(ProfileName::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn s3_uris_need_scheme_and_valid_bucket() {
        let uri = S3Uri::parse("s3://my-bucket/logs/").unwrap();
        assert_eq!((uri.bucket(), uri.key()), ("my-bucket", "logs/"));
        assert_eq!(uri.to_string(), "s3://my-bucket/logs/");
        assert!(S3Uri::parse("s3://bucket").is_ok());
        for bad in [
            "https://x/y",
            "s3://",
            "s3://UPPER/x",
            "s3://ab/x",
            "s3://a..b/x",
            "s3://-ab/x",
        ] {
            assert!(S3Uri::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
