//! Which profile an S3 object starts: pure, so the rule has its own table
//! test.

use crate::Profile;
use crate::create::error::CreateError;

/// The one profile among `usable` with a trigger for `s3://bucket/key`;
/// none or several is an error that names the object (and the profiles).
pub fn profile_for_object(
    usable: Vec<Profile>,
    bucket: &str,
    key: &str,
) -> Result<Profile, CreateError> {
    let mut matching: Vec<Profile> = usable
        .into_iter()
        .filter(|p| p.triggers.iter().any(|t| t.matches(bucket, key)))
        .collect();
    match matching.len() {
        0 => Err(CreateError::NoMatchingTrigger {
            bucket: bucket.into(),
            key: key.into(),
        }),
        1 => Ok(matching.remove(0)),
        _ => Err(CreateError::AmbiguousTrigger {
            bucket: bucket.into(),
            key: key.into(),
            profiles: matching
                .iter()
                .map(|p| p.name.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Trigger;

    fn profile(name: &str, triggers: &[(&str, &str, &str)]) -> Profile {
        let mut p = Profile::parse(include_str!("../../../../profiles/retrain.toml")).unwrap();
        p.name = crate::ProfileName::parse(name).unwrap();
        p.triggers = triggers
            .iter()
            .map(|(bucket, prefix, suffix)| Trigger {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
                suffix: suffix.to_string(),
            })
            .collect();
        p
    }

    #[test]
    fn one_matching_profile_starts_none_or_several_are_errors() {
        let fleet = || {
            vec![
                profile("sales", &[("data", "sales/", ".csv")]),
                profile("ads", &[("data", "ads/", ""), ("other", "", ".json")]),
                profile("all-csv", &[("lake", "", ".csv")]),
                profile("lake-raw", &[("lake", "raw/", "")]),
            ]
        };
        // (bucket, key, the profile started or the error's type)
        let cases = [
            ("data", "sales/2026/a.csv", "sales"),
            ("data", "sales/2026/a.parquet", "no match"),
            ("data", "ads/x.bin", "ads"),
            ("other", "deep/x.json", "ads"),
            ("elsewhere", "sales/a.csv", "no match"),
            ("lake", "curated/a.csv", "all-csv"),
            ("lake", "raw/a.csv", "ambiguous: all-csv, lake-raw"),
        ];
        for (bucket, key, want) in cases {
            let got = match profile_for_object(fleet(), bucket, key) {
                Ok(p) => p.name.to_string(),
                Err(CreateError::NoMatchingTrigger { .. }) => "no match".into(),
                Err(CreateError::AmbiguousTrigger { profiles, .. }) => {
                    format!("ambiguous: {profiles}")
                }
                Err(other) => format!("{other}"),
            };
            assert_eq!(got, want, "s3://{bucket}/{key}");
        }
    }
}
