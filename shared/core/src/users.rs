//! JupyterHub users: which passwords to generate, which users the profile
//! dropped, and the EMR step that creates the users on the cluster. Pure.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::names::{ProfileName, UserName};
use crate::profile::ActionOnFailure;
use crate::render::{HadoopJarStep, StepConfig};

/// Length of generated passwords (62 symbols: about 143 bits).
pub const PASSWORD_LENGTH: usize = 24;

/// Secrets Manager name of a profile's JupyterHub passwords in plaintext:
/// read by the setup function and by operators (`sparkhub password`), never
/// by a node.
pub fn secret_name(profile: &ProfileName) -> String {
    format!("sparkhub/{profile}/jupyterhub-users")
}

/// Secrets Manager name of the crypt hashes of a profile's passwords: what
/// the users step on the cluster reads (`chpasswd -e`). Every notebook user
/// has the node's credentials, so the nodes may read this secret only.
pub fn hashes_secret_name(profile: &ProfileName) -> String {
    format!("sparkhub/{profile}/jupyterhub-password-hashes")
}

/// Why a secret's value is not a JSON object of user → password. It names
/// the position and the kind of mistake only: serde_json's own message quotes
/// the offending value (`invalid type: integer `123456`...`), which in a
/// secret may be a password, and the message would travel into the Lambda
/// error, CloudWatch and the failed-invocations queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the secret's value is not a JSON object of user names to password strings ({kind} at line {line}, column {column}); fix it in Secrets Manager"
)]
pub struct SecretFormatError {
    pub kind: &'static str,
    pub line: usize,
    pub column: usize,
}

/// Parses a password secret: a JSON object whose values are strings.
pub fn parse_passwords(text: &str) -> Result<BTreeMap<String, String>, SecretFormatError> {
    serde_json::from_str(text).map_err(|e: serde_json::Error| SecretFormatError {
        kind: match e.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "a value that is not a password string",
            serde_json::error::Category::Eof => "cut short",
        },
        line: e.line(),
        column: e.column(),
    })
}

/// What to do with a profile's password secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPlan {
    /// The secret's value afterwards: the profile's users only, every
    /// existing password of theirs kept, one new password for each user that
    /// had none.
    pub passwords: BTreeMap<String, String>,
    /// Users that got a new password.
    pub added: Vec<String>,
    /// Users in the secret that the profile no longer lists: their password
    /// is dropped (from the hashes the nodes read too), so they cannot log in
    /// on any later cluster.
    pub removed: Vec<String>,
}

impl PasswordPlan {
    /// Whether the secret must be written.
    pub fn changes(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }
}

/// Existing passwords of the profile's users are never overwritten (use
/// `sparkhub password --rotate`); users the profile dropped lose theirs.
pub fn plan_passwords(
    users: &[UserName],
    existing: &BTreeMap<String, String>,
    mut generate: impl FnMut() -> String,
) -> PasswordPlan {
    let mut passwords: BTreeMap<String, String> = existing
        .iter()
        .filter(|(k, _)| users.iter().any(|u| u.as_str() == k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut added = Vec::new();
    for user in users {
        if !passwords.contains_key(user.as_str()) {
            passwords.insert(user.to_string(), generate());
            added.push(user.to_string());
        }
    }
    let removed = existing
        .keys()
        .filter(|k| !users.iter().any(|u| u.as_str() == k.as_str()))
        .cloned()
        .collect();
    PasswordPlan {
        passwords,
        added,
        removed,
    }
}

/// The characters of a crypt salt (and of its hash): `./0-9A-Za-z`.
const CRYPT_ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A 16-character crypt salt from the operating system's CSPRNG.
pub fn random_salt() -> String {
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf).expect("the operating system's random source works");
    // 64 symbols: every byte maps evenly.
    buf.iter()
        .map(|b| CRYPT_ALPHABET[(b % 64) as usize] as char)
        .collect()
}

/// `password`'s SHA-512 crypt hash with `salt` (`$6$<salt>$<hash>`, 5,000
/// rounds, as `chpasswd -e` and glibc's crypt read it).
pub fn crypt_sha512(password: &str, salt: &str) -> String {
    let params = sha_crypt::Sha512Params::default();
    let hash = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
        .expect("a salt of at most 16 characters and the default rounds are valid");
    format!("$6${salt}${hash}")
}

/// Whether `hash` (`$6$<salt>$…`) is `password`'s.
pub fn hash_matches(password: &str, hash: &str) -> bool {
    let mut parts = hash.split('$');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(""), Some("6"), Some(salt), Some(_), None)
            if !salt.starts_with("rounds=") && salt.len() <= 16 =>
        {
            crypt_sha512(password, salt) == hash
        }
        _ => false,
    }
}

/// The hashes secret for `passwords`: an existing hash is kept while it
/// still is its user's password's, every other user gets a new one with
/// `salt()`; users without a password have none. Returns whether it changed.
pub fn plan_hashes(
    passwords: &BTreeMap<String, String>,
    existing: &BTreeMap<String, String>,
    mut salt: impl FnMut() -> String,
) -> (BTreeMap<String, String>, bool) {
    let hashes: BTreeMap<String, String> = passwords
        .iter()
        .map(|(user, password)| {
            let hash = match existing.get(user) {
                Some(h) if hash_matches(password, h) => h.clone(),
                _ => crypt_sha512(password, &salt()),
            };
            (user.clone(), hash)
        })
        .collect();
    let changed = &hashes != existing;
    (hashes, changed)
}

/// The users step's name: it encodes the set of users and their password
/// hashes, so a step for the same users and passwords is recognised on the
/// cluster, and a changed set, a rotated password or a removed user gets a
/// new step (at the cluster's next WAITING).
/// How every users step's name begins: sparkhub's own setup, no one's work
/// (the idle sweep does not count its end as activity).
pub const USERS_STEP_PREFIX: &str = "sparkhub: JupyterHub users ";

pub fn step_name(users: &[UserName], hashes: &BTreeMap<String, String>) -> String {
    let mut sorted: Vec<&str> = users.iter().map(UserName::as_str).collect();
    sorted.sort_unstable();
    let mut text = sorted.join("\n");
    for (user, hash) in hashes {
        text.push_str(&format!("\n{user}:{hash}"));
    }
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{USERS_STEP_PREFIX}{hex}")
}

/// The EMR step that runs the users script through `script-runner.jar` of the
/// cluster's region. Its arguments name the secret, never a password.
pub fn users_step(
    users: &[UserName],
    hashes: &BTreeMap<String, String>,
    script_uri: &str,
    secret: &str,
    region: &str,
) -> StepConfig {
    StepConfig {
        name: step_name(users, hashes),
        action_on_failure: ActionOnFailure::Continue,
        hadoop_jar_step: HadoopJarStep {
            jar: format!("s3://{region}.elasticmapreduce/libs/script-runner/script-runner.jar"),
            args: vec![script_uri.into(), secret.into(), region.into()],
        },
    }
}

/// A password from the operating system's CSPRNG: [`PASSWORD_LENGTH`]
/// letters and digits (no `:` or quotes, which `chpasswd` and shells treat
/// specially). Rejection sampling keeps every symbol equally likely.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(PASSWORD_LENGTH);
    let mut buf = [0u8; 64];
    while out.len() < PASSWORD_LENGTH {
        getrandom::fill(&mut buf).expect("the operating system's random source works");
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would favour the first symbols.
            if b < 248 && out.len() < PASSWORD_LENGTH {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crypt_hashes_are_glibcs_sha512_crypt() {
        // The test vector of the SHA-crypt specification
        // (https://www.akkadia.org/drepper/SHA-crypt.txt), default rounds.
        assert_eq!(
            crypt_sha512("Hello world!", "saltstring"),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        let salt = random_salt();
        assert_eq!(salt.len(), 16);
        assert!(salt.bytes().all(|b| CRYPT_ALPHABET.contains(&b)));
        assert_ne!(random_salt(), salt, "a fresh salt each time");
        let hash = crypt_sha512("pw", &salt);
        assert!(hash_matches("pw", &hash));
        assert!(!hash_matches("other", &hash));
        assert!(!hash_matches("pw", "pw"));
    }

    #[test]
    fn hashes_follow_the_passwords_and_never_carry_them() {
        let passwords = BTreeMap::from([
            ("alice".to_owned(), "A1".to_owned()),
            ("bob".to_owned(), "B2".to_owned()),
        ]);
        let mut n = 0;
        let mut salt = || {
            n += 1;
            format!("salt{n}")
        };
        let (hashes, changed) = plan_hashes(&passwords, &BTreeMap::new(), &mut salt);
        assert!(changed);
        assert_eq!(hashes.keys().collect::<Vec<_>>(), ["alice", "bob"]);
        for (user, hash) in &hashes {
            assert!(hash_matches(&passwords[user], hash));
            assert!(!hash.contains(&passwords[user]));
        }
        // Unchanged passwords keep their hashes; a rotated one and a removed
        // user change the secret.
        let (again, changed) = plan_hashes(&passwords, &hashes, &mut salt);
        assert!(!changed);
        assert_eq!(again, hashes);
        let rotated = BTreeMap::from([("alice".to_owned(), "A3".to_owned())]);
        let (after, changed) = plan_hashes(&rotated, &hashes, &mut salt);
        assert!(changed);
        assert_eq!(after.len(), 1, "bob is gone");
        assert!(hash_matches("A3", &after["alice"]));
    }

    #[test]
    fn a_malformed_secret_is_an_error_that_never_shows_its_content() {
        let password = "8675309123456";
        // serde_json's own message would quote the value.
        let raw =
            serde_json::from_str::<BTreeMap<String, String>>(&format!("{{\"alice\": {password}}}"))
                .unwrap_err()
                .to_string();
        assert!(raw.contains(password), "{raw}");
        for text in [
            format!("{{\"alice\": {password}}}"),
            format!("{{\"alice\": [\"{password}\"]}}"),
            format!("{{\"alice\": {{\"p\": \"{password}\"}}}}"),
            format!("[\"{password}\"]"),
            format!("\"{password}\""),
            format!("{{\"alice\": \"{password}"),
            format!("{{\"{password}\": 1}}"),
            password.to_string(),
        ] {
            let err = parse_passwords(&text).unwrap_err();
            let message = err.to_string();
            assert!(
                !message.contains(password) && !message.contains("8675309"),
                "{text}: {message}"
            );
            assert!(message.contains("line 1"), "{message}");
        }
        assert_eq!(
            parse_passwords(r#"{"alice": "pw"}"#).unwrap(),
            BTreeMap::from([("alice".to_string(), "pw".to_string())])
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, rng_seed: proptest::test_runner::RngSeed::Fixed(14), ..ProptestConfig::default() })]

        #[test]
        fn secret_parsing_never_panics_and_never_echoes(
            token in "[A-Za-z0-9]{12}",
            shape in 0usize..6,
            noise in ".{0,40}",
        ) {
            let text = match shape {
                0 => format!("{{\"u\": {token}}}"),
                1 => format!("{{\"u\": [\"{token}\"]}}"),
                2 => format!("{{\"u\": \"{token}\", \"v\": {{}}}}"),
                3 => format!("{{\"u\": \"{token}{noise}"),
                4 => format!("{noise}{token}"),
                _ => format!("{{\"u\": \"{token}\"}}{noise}"),
            };
            if let Err(e) = parse_passwords(&text) {
                prop_assert!(!e.to_string().contains(&token), "{}", e);
            }
        }

        #[test]
        fn secret_parsing_of_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_passwords(&text);
        }
    }

    fn users(names: &[&str]) -> Vec<UserName> {
        names.iter().map(|n| UserName::parse(n).unwrap()).collect()
    }

    #[test]
    fn existing_passwords_are_kept_new_users_get_one_dropped_users_lose_theirs() {
        let existing = BTreeMap::from([
            ("alice".to_string(), "a-secret".to_string()),
            ("carol".to_string(), "c-secret".to_string()),
        ]);
        let mut n = 0;
        let plan = plan_passwords(&users(&["alice", "bob"]), &existing, || {
            n += 1;
            format!("generated-{n}")
        });
        assert_eq!(plan.passwords["alice"], "a-secret", "never overwritten");
        assert_eq!(plan.passwords["bob"], "generated-1");
        assert!(
            !plan.passwords.contains_key("carol"),
            "a user removed from the profile loses the password"
        );
        assert_eq!(plan.added, ["bob"]);
        assert_eq!(plan.removed, ["carol"]);
        assert!(plan.changes());
    }

    #[test]
    fn nothing_to_add_when_everyone_has_a_password() {
        let existing = BTreeMap::from([("alice".to_string(), "x".to_string())]);
        let plan = plan_passwords(&users(&["alice"]), &existing, || {
            unreachable!("no password needed")
        });
        assert!(plan.added.is_empty() && plan.removed.is_empty());
        assert_eq!(plan.passwords, existing);
    }

    #[test]
    fn step_name_changes_with_a_rotated_or_removed_password() {
        let one = BTreeMap::from([("a".to_owned(), "$6$s$h1".to_owned())]);
        let rotated = BTreeMap::from([("a".to_owned(), "$6$t$h2".to_owned())]);
        let u = users(&["a"]);
        assert_eq!(step_name(&u, &one), step_name(&u, &one.clone()));
        assert_ne!(step_name(&u, &one), step_name(&u, &rotated));
    }

    #[test]
    fn step_name_depends_on_the_set_of_users_not_their_order() {
        assert_eq!(
            step_name(&users(&["a", "b"]), &BTreeMap::new()),
            step_name(&users(&["b", "a"]), &BTreeMap::new())
        );
        assert_ne!(
            step_name(&users(&["a", "b"]), &BTreeMap::new()),
            step_name(&users(&["a", "b", "c"]), &BTreeMap::new())
        );
    }

    #[test]
    fn the_step_uses_the_regions_script_runner_and_names_only_the_secret() {
        let step = users_step(
            &users(&["philipp"]),
            &BTreeMap::new(),
            "s3://b/scripts/x/jupyterhub-users.sh",
            "sparkhub/t/jupyterhub-users",
            "eu-central-1",
        );
        assert_eq!(
            step.hadoop_jar_step.jar,
            "s3://eu-central-1.elasticmapreduce/libs/script-runner/script-runner.jar"
        );
        assert_eq!(
            step.hadoop_jar_step.args,
            [
                "s3://b/scripts/x/jupyterhub-users.sh",
                "sparkhub/t/jupyterhub-users",
                "eu-central-1"
            ]
        );
        assert_eq!(step.action_on_failure, ActionOnFailure::Continue);
    }

    #[test]
    fn random_passwords_are_long_alphanumeric_and_different() {
        let a = random_password();
        let b = random_password();
        assert_eq!(a.len(), PASSWORD_LENGTH);
        assert!(a.len() >= 20);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }
}
