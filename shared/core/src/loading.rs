//! Reading a profile from the profile store: found, parsed, named like its
//! file, valid — or an error that says which and where.

use crate::ports::{AwsError, ProfileStore, StoredProfile};
use crate::profile::{ProfileParseError, RawProfile};
use crate::{Profile, ProfileName, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "profile {name:?} not found at {location}; upload it there (see profiles/ for examples)"
    )]
    NotFound { name: String, location: String },
    #[error("profile at {location} cannot be read: {message}")]
    Unreadable { location: String, message: String },
    #[error("profile at {location} is invalid:\n{errors}")]
    Invalid {
        location: String,
        errors: ValidationErrors,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Reads, parses and validates one profile; `adjust` applies a run's
/// overrides before validation, so they are checked like the profile itself.
pub async fn load_profile(
    store: &(impl ProfileStore + Sync),
    name: &ProfileName,
    adjust: impl FnOnce(&mut RawProfile),
) -> Result<Profile, ProfileError> {
    let location = store.location(name.as_str());
    let text = match store.read_profile(name.as_str()).await? {
        Some(StoredProfile::Text(text)) => text,
        // Refused by its size, as the parser refuses a text that large.
        Some(StoredProfile::TooLarge { size }) => {
            return Err(ProfileError::Unreadable {
                location,
                message: ProfileParseError::TooLarge {
                    size: usize::try_from(size).unwrap_or(usize::MAX),
                }
                .to_string(),
            });
        }
        None => {
            return Err(ProfileError::NotFound {
                name: name.to_string(),
                location,
            });
        }
    };
    // Parsed, adjusted and validated in one go: unknown, missing and bad
    // keys are reported together.
    let profile = Profile::parse_with(&text, adjust).map_err(|e| match e {
        ProfileParseError::Invalid(errors) => ProfileError::Invalid {
            location: location.clone(),
            errors,
        },
        other => ProfileError::Unreadable {
            location: location.clone(),
            message: other.to_string(),
        },
    })?;
    if profile.name != *name {
        return Err(ProfileError::Unreadable {
            location,
            message: format!(
                "it is named {:?}; a profile's name must match its file name",
                profile.name.as_str()
            ),
        });
    }
    Ok(profile)
}

impl std::error::Error for ValidationErrors {}
