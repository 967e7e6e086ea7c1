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

impl AsRef<str> for ProfileName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Accounts that already exist in EMR's `jupyterhub` container or on its
/// nodes, with where each comes from. A profile user with one of these names
/// would collide with an account sparkhub does not own: the users script would
/// leave it as it is (and never give it its generated password), or take over
/// an account EMR relies on.
pub const RESERVED_USER_NAMES: &[(&str, &str)] = &[
    // The `jupyterhub` container is built on jupyter/docker-stacks (Ubuntu):
    // the Ubuntu base image's /etc/passwd ...
    ("root", "the superuser"),
    ("daemon", "Ubuntu's base image"),
    ("bin", "Ubuntu's base image"),
    ("sys", "Ubuntu's base image"),
    ("sync", "Ubuntu's base image"),
    ("games", "Ubuntu's base image"),
    ("man", "Ubuntu's base image"),
    ("lp", "Ubuntu's base image"),
    ("mail", "Ubuntu's base image"),
    ("news", "Ubuntu's base image"),
    ("uucp", "Ubuntu's base image"),
    ("proxy", "Ubuntu's base image"),
    ("www-data", "Ubuntu's base image"),
    ("backup", "Ubuntu's base image"),
    ("list", "Ubuntu's base image"),
    ("irc", "Ubuntu's base image"),
    ("gnats", "Ubuntu's base image"),
    ("nobody", "Ubuntu's and Amazon Linux's base images"),
    ("_apt", "Ubuntu's base image"),
    ("ubuntu", "Ubuntu's base image (24.04 and later)"),
    // ... and the notebook user of jupyter/docker-stacks, EMR's default hub admin.
    (
        "jovyan",
        "EMR's default JupyterHub admin (jupyter/docker-stacks' NB_USER)",
    ),
    // Amazon Linux 2 / 2023 on the nodes (the `setup` package and EC2).
    ("adm", "Amazon Linux's base image"),
    ("halt", "Amazon Linux's base image"),
    ("shutdown", "Amazon Linux's base image"),
    ("operator", "Amazon Linux's base image"),
    ("ftp", "Amazon Linux's base image"),
    ("ec2-user", "the default EC2 login of Amazon Linux"),
    ("ssm-user", "AWS Systems Manager Session Manager"),
    // EMR: steps run as hadoop (with passwordless sudo); EMR's puppet modules
    // create an account per application and `jupyter` for the hub's files;
    // EMR Notebooks / Studio run as emr-notebook.
    ("hadoop", "EMR: steps and SSH logins run as hadoop"),
    ("emr-notebook", "EMR Notebooks and EMR Studio"),
    (
        "jupyter",
        "EMR's JupyterHub application (owner of /etc/jupyter)",
    ),
    ("hdfs", "an EMR application account (HDFS)"),
    ("yarn", "an EMR application account (YARN)"),
    ("mapred", "an EMR application account (MapReduce)"),
    ("hive", "an EMR application account (Hive)"),
    ("hcat", "an EMR application account (HCatalog)"),
    ("hbase", "an EMR application account (HBase)"),
    ("spark", "an EMR application account (Spark)"),
    ("livy", "an EMR application account (Livy)"),
    ("hue", "an EMR application account (Hue)"),
    ("zeppelin", "an EMR application account (Zeppelin)"),
    ("oozie", "an EMR application account (Oozie)"),
    ("presto", "an EMR application account (Presto)"),
    ("trino", "an EMR application account (Trino)"),
    ("zookeeper", "an EMR application account (ZooKeeper)"),
    ("tez", "an EMR application account (Tez)"),
    ("flink", "an EMR application account (Flink)"),
    ("kms", "an EMR application account (Hadoop KMS)"),
    ("httpfs", "an EMR application account (HttpFS)"),
];

/// A Linux user name safe to pass to a shell, `^[a-z_][a-z0-9_-]{0,31}$`, and
/// none of the [`RESERVED_USER_NAMES`] (nor `systemd-*`).
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
        if !ok {
            return Err(format!(
                "{name:?} is not a valid Linux user name (^[a-z_][a-z0-9_-]{{0,31}}$)"
            ));
        }
        if let Some((_, owner)) = RESERVED_USER_NAMES.iter().find(|(n, _)| *n == name) {
            return Err(format!(
                "{name:?} is an existing system or EMR account ({owner}); choose another user name"
            ));
        }
        if name.starts_with("systemd-") {
            return Err(format!(
                "{name:?} is a systemd account name (systemd-*); choose another user name"
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for UserName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address a profile gives one of its users (`[emails]`): where
/// SNS sends that user the warnings about the profile's clusters.
///
/// A plausible address, not RFC 5322's: at most 254 bytes (SMTP's limit for
/// a path), exactly one `@`, 1 to 64 bytes before it, a domain of dotted
/// non-empty labels after it, and no space, control or bidirectional
/// character, double quote, comma, semicolon, angle bracket or backslash
/// anywhere (an apostrophe, as in `o'neil@example.com`, is fine). A hand
/// check rather than a crate: the address crates (e.g. `email_address`)
/// follow the RFCs, which allow what a person never writes into a profile
/// but a copy-paste does — quoted local parts with spaces and commas
/// (`"a, b"@example.com`), a display name around the address, a domain
/// without a dot — so this check would be needed beside one anyway.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress(String);

/// The longest address [`EmailAddress`] accepts, in bytes (RFC 5321's path
/// limit less its angle brackets).
pub const MAX_EMAIL_ADDRESS_BYTES: usize = 254;

impl EmailAddress {
    pub fn parse(address: &str) -> Result<Self, String> {
        let not = |why: String| {
            Err(format!(
                "{address:?} is not an e-mail address: {why} (write one address, like \"alice@example.com\")"
            ))
        };
        if address.is_empty() {
            return not("it is empty".into());
        }
        if address.len() > MAX_EMAIL_ADDRESS_BYTES {
            return not(format!(
                "it has {} bytes, more than {MAX_EMAIL_ADDRESS_BYTES}",
                address.len()
            ));
        }
        if let Some(c) = address.chars().find(|c| {
            c.is_whitespace()
                || crate::text::acts_on_terminal(*c)
                || matches!(c, '"' | ',' | ';' | '<' | '>' | '\\')
        }) {
            let what = if c == ' ' {
                "a space".to_owned()
            } else if crate::text::acts_on_terminal(c) {
                format!("the control character {c:?}")
            } else if c.is_whitespace() {
                format!("the space character {c:?}")
            } else {
                format!("{c:?}")
            };
            return not(format!("it contains {what}"));
        }
        let ats = address.matches('@').count();
        if ats != 1 {
            return not(format!(
                "it has {ats} @ (exactly one separates the name from the domain)"
            ));
        }
        let (local, domain) = address.split_once('@').expect("one @");
        if local.is_empty() || local.len() > 64 {
            return not(format!(
                "the part before @ has {} bytes (1 to 64)",
                local.len()
            ));
        }
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return not(format!(
                "{domain:?} after @ is not a domain name (labels separated by dots, like example.com)"
            ));
        }
        Ok(Self(address.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
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

    /// A URI a profile names as a location (`log_uri`, `[access]`): an
    /// `s3://` URI whose key uses [`LOCATION_KEY_PUNCTUATION`] besides ASCII
    /// letters and digits, without `.`, `..` or empty path segments (a
    /// trailing `/` is the end of a folder). Such locations end up in IAM
    /// policies, EMR requests and step arguments: no quote, newline or
    /// wildcard can turn one into more than a location.
    pub fn parse_location(uri: &str) -> Result<Self, String> {
        let parsed = Self::parse(uri)?;
        check_location_key(parsed.key()).map_err(|e| format!("{uri:?}: {e}"))?;
        Ok(parsed)
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

/// A location a profile's nodes are granted: `s3://bucket/` or
/// `s3://bucket/prefix/`. The prefix ends in `/` so that `s3://b/data/`
/// cannot also grant `s3://b/data-secret/`, and has no wildcard, which IAM
/// would read as one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Location(S3Uri);

impl S3Location {
    pub fn parse(location: &str) -> Result<Self, String> {
        let uri = S3Uri::parse_location(location)?;
        if !(uri.key().is_empty() || uri.key().ends_with('/')) {
            return Err(format!(
                "{location:?} is not a location: a bucket or a prefix ending in \"/\" (e.g. \"s3://{}/{}/\")",
                uri.bucket(),
                uri.key()
            ));
        }
        if uri.key().contains(['*', '?', '$'])
            || uri.key().starts_with('/')
            || uri.key().contains("//")
        {
            return Err(format!(
                "{location:?}: a prefix has no wildcard (*, ?, $) and no empty path segment"
            ));
        }
        Ok(Self(uri))
    }

    pub fn bucket(&self) -> &str {
        self.0.bucket()
    }

    /// The key prefix: empty (the whole bucket) or ending in `/`.
    pub fn prefix(&self) -> &str {
        self.0.key()
    }

    /// The location as a URI: `s3://bucket/prefix`.
    pub fn as_uri(&self) -> &S3Uri {
        &self.0
    }

    /// Whether `uri` lies inside the location.
    pub fn contains(&self, uri: &S3Uri) -> bool {
        self.bucket() == uri.bucket() && uri.key().starts_with(self.prefix())
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a location's key may use besides ASCII letters and digits: the
/// characters S3 calls safe minus the ones IAM, YAML, shells or Hadoop read
/// specially (`*`, `'`, `(`, `)`, `!`); the same set as the keys of objects
/// that trigger runs (`create::object_key`).
pub const LOCATION_KEY_PUNCTUATION: &str = "/._-=+";

/// A location's key (or a part of one, such as a trigger's prefix or
/// suffix): [`LOCATION_KEY_PUNCTUATION`], letters and digits, no `.`, `..`
/// or empty segment before its end, at most 1024 bytes.
pub fn check_location_key(key: &str) -> Result<(), String> {
    if key.len() > 1024 {
        return Err(format!(
            "the key is {} bytes, more than S3's 1024",
            key.len()
        ));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || LOCATION_KEY_PUNCTUATION.contains(*c)))
    {
        return Err(format!(
            "the key contains {c:?}; a location may use only letters, digits and \"{LOCATION_KEY_PUNCTUATION}\" (no quotes, spaces, wildcards or control characters)"
        ));
    }
    let segments: Vec<&str> = key.split('/').collect();
    let (last, before) = segments.split_last().expect("split yields one part");
    if before
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
        || *last == "."
        || *last == ".."
    {
        return Err(
            "the key has an empty, \".\" or \"..\" path segment (write \"a/b/\", not \"a//b/\" or \"a/../b/\")"
                .into(),
        );
    }
    Ok(())
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
    fn system_and_emr_accounts_are_refused_with_their_owner() {
        for (reserved, owner) in [
            ("hadoop", "steps and SSH logins run as hadoop"),
            ("jovyan", "default JupyterHub admin"),
            ("root", "superuser"),
            ("emr-notebook", "EMR Notebooks"),
            ("hdfs", "HDFS"),
        ] {
            let e = UserName::parse(reserved).unwrap_err();
            assert!(e.contains("existing system or EMR account"), "{e}");
            assert!(e.contains(owner), "{e}");
        }
        assert!(UserName::parse("systemd-network").is_err());
        for (name, _) in RESERVED_USER_NAMES {
            assert!(UserName::parse(name).is_err(), "{name} should be refused");
        }
        assert!(
            UserName::parse("hadoop2").is_ok(),
            "only exact names collide"
        );
    }

    #[test]
    fn an_email_address_is_one_plausible_address() {
        for ok in [
            "philipp@example.com",
            "o'neil@example.com",
            "a.b+sparkhub@mail.example.co.uk",
            "x@b.c",
            "Zoë@bücher.example",
        ] {
            let address = EmailAddress::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(address.as_str(), ok);
        }
        let long_domain = format!("a@{}.example.com", "d".repeat(250));
        let long_local = format!("{}@example.com", "a".repeat(65));
        for (bad, says) in [
            ("", "it is empty"),
            ("philipp", "it has 0 @"),
            ("philipp@@example.com", "it has 2 @"),
            ("a@b@example.com", "it has 2 @"),
            ("philipp at example.com", "a space"),
            (" philipp@example.com", "a space"),
            ("philipp@example.com\n", "control character '\\n'"),
            ("philipp\u{a0}@example.com", "space character"),
            ("phil\u{7}ipp@example.com", "control character"),
            ("abc\u{202e}@example.com", "control character"),
            ("\"a b\"@example.com", "'\"'"),
            ("\"ab\"@example.com", "'\"'"),
            ("a@example.com,b@example.com", "','"),
            ("a@example.com;b@example.com", "';'"),
            ("Alice<a@example.com>", "'<'"),
            ("a\\b@example.com", "'\\\\'"),
            ("@example.com", "before @ has 0 bytes"),
            (long_local.as_str(), "before @ has 65 bytes"),
            ("philipp@", "\"\" after @ is not a domain name"),
            ("philipp@localhost", "not a domain name"),
            ("philipp@example..com", "not a domain name"),
            ("philipp@.example.com", "not a domain name"),
            ("philipp@example.com.", "not a domain name"),
            (long_domain.as_str(), "more than 254"),
        ] {
            let e = EmailAddress::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
            assert!(e.contains("like \"alice@example.com\""), "{e}");
        }
        let longest = format!("a@{}.com", "d".repeat(MAX_EMAIL_ADDRESS_BYTES - 6));
        assert_eq!(longest.len(), MAX_EMAIL_ADDRESS_BYTES);
        assert!(EmailAddress::parse(&longest).is_ok());
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
    fn a_location_is_a_bucket_or_a_folder_and_holds_what_lies_below_it() {
        let folder = S3Location::parse("s3://my-code/jobs/").unwrap();
        assert_eq!((folder.bucket(), folder.prefix()), ("my-code", "jobs/"));
        let bucket = S3Location::parse("s3://my-code/").unwrap();
        for (uri, in_folder, in_bucket) in [
            ("s3://my-code/jobs/train.py", true, true),
            ("s3://my-code/jobs/", true, true),
            ("s3://my-code/jobs-private/x.py", false, true),
            ("s3://my-code/jobs", false, true),
            ("s3://other-code/jobs/train.py", false, false),
        ] {
            let uri = S3Uri::parse(uri).unwrap();
            assert_eq!(folder.contains(&uri), in_folder, "{uri} in {folder}");
            assert_eq!(bucket.contains(&uri), in_bucket, "{uri} in {bucket}");
        }
        for (bad, says) in [
            ("s3://my-code/clean.py", "is not a location"),
            ("s3://my-models/*/", "wildcards"),
            ("s3://my-models//", "empty"),
            ("https://example.com/", "is not an s3:// URI"),
        ] {
            let e = S3Location::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_location_cannot_carry_a_quote_a_newline_or_a_way_up() {
        for ok in ["s3://b-1/", "s3://b-1/logs/", "s3://b-1/a/b=c/d+e_f.g-h/"] {
            assert!(S3Location::parse(ok).is_ok(), "{ok}");
            assert!(S3Uri::parse_location(ok).is_ok(), "{ok}");
        }
        for bad in [
            "s3://b-1/logs\"/",
            "s3://b-1/logs\n  - Effect: Allow/",
            "s3://b-1/a/../profiles/",
            "s3://b-1/./",
            "s3://b-1//",
            "s3://b-1/a b/",
            "s3://b-1/it's/",
            "s3://b-1/x\u{202e}/",
            "s3://b-1/${AWS::AccountId}/",
        ] {
            let e = S3Location::parse(bad).unwrap_err();
            assert!(e.contains("the key"), "{bad}: {e}");
            assert!(S3Uri::parse_location(bad).is_err(), "{bad}");
        }
        assert!(
            S3Uri::parse_location("s3://b-1/logs/a..b").is_ok(),
            "dots inside a name are fine"
        );
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
