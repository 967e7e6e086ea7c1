//! Writing a profile's password secrets: one read-plan-write routine for
//! the plaintext secret and the hashes secret, used by the setup function
//! and by `sparkhub password --rotate`.

use std::collections::BTreeMap;

use tracing::info;

use crate::ProfileName;
use crate::ports::{AwsError, SecretStore};
use crate::users::{hashes_secret_name, plan_hashes, random_salt};

type Secret = BTreeMap<String, String>;

/// Reads the secret `name`, lets `plan` say what it should hold (the value,
/// whether that differs, and anything else the caller wants back), and
/// writes it when it differs or is missing (created with `description`).
/// Two attempts: a concurrent writer may create the secret between the read
/// and the create; then it is read and planned again.
pub async fn write_planned<S: SecretStore, T>(
    secrets: &S,
    name: &str,
    description: &str,
    mut plan: impl FnMut(&Secret) -> (Secret, bool, T),
) -> Result<(Secret, T), AwsError> {
    for _ in 0..2 {
        let existing = secrets.read(name).await?;
        let (value, changed, extra) = plan(existing.as_ref().unwrap_or(&Secret::new()));
        match existing {
            Some(_) if !changed => return Ok((value, extra)),
            Some(_) => secrets.update(name, &value).await?,
            None => {
                if !secrets.create(name, description, &value).await? {
                    continue;
                }
            }
        }
        info!(secret = %name, users = ?value.keys().collect::<Vec<_>>(), "secret written");
        return Ok((value, extra));
    }
    Err(AwsError::new(
        "Secrets Manager CreateSecret",
        true,
        Some("ConcurrentModification".into()),
        format!("secret {name} changed twice while sparkhub was writing it"),
    ))
}

/// Makes the profile's hashes secret hold the crypt hash of every password
/// (and nothing else); a hash that still matches its password is kept.
pub async fn write_hashes<S: SecretStore>(
    secrets: &S,
    profile: &ProfileName,
    passwords: &Secret,
) -> Result<Secret, AwsError> {
    let description = format!(
        "sparkhub: SHA-512 crypt hashes of the JupyterHub passwords of profile {profile} (user -> hash), what its nodes read"
    );
    let (hashes, ()) = write_planned(
        secrets,
        &hashes_secret_name(profile),
        &description,
        |existing| {
            let (hashes, changed) = plan_hashes(passwords, existing, random_salt);
            (hashes, changed, ())
        },
    )
    .await?;
    Ok(hashes)
}
