//! Who a message about a cluster is for, besides the operator: the users of
//! its profile that have an e-mail address (`[emails]`). Every message goes
//! to the one topic; it names its recipients in a message attribute, and
//! each address's subscription (generated into the template from the
//! profiles) lets through only the messages that name its user. The
//! operator's subscription has no filter and gets every message.

use crate::names::{ProfileName, UserName};
use crate::profile::Profile;

/// The SNS message attribute (a `String.Array`) that names a message's
/// recipients, and the key of every user subscription's filter policy.
pub const RECIPIENTS_ATTRIBUTE: &str = "recipients";

/// One user of one profile as a recipient: `<profile>/<user>`. A profile
/// name has no `/`, so no two pairs give the same recipient.
pub fn recipient(profile: &ProfileName, user: &UserName) -> String {
    format!("{profile}/{user}")
}

/// The recipients of a message about a cluster of `profile`: each of its
/// users with an address, in the order of `users`. Empty when none has one:
/// the message is the operator's alone.
pub fn recipients(profile: &Profile) -> Vec<String> {
    profile
        .users
        .iter()
        .filter(|u| profile.emails.contains_key(*u))
        .map(|u| recipient(&profile.name, u))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUTORIAL: &str = include_str!("../../../profiles/tutorial.toml");

    #[test]
    fn the_users_with_an_address_are_a_profiles_recipients() {
        let with = |users: &str, emails: &str| {
            let text = TUTORIAL
                .replacen(
                    "users = [\"philipp\", \"admin\"]",
                    &format!("users = {users}"),
                    1,
                )
                .replacen(
                    "[emails]\nphilipp = \"philipp@example.com\"\n",
                    &format!("[emails]\n{emails}\n"),
                    1,
                )
                .replacen("name = \"tutorial\"", "name = \"team-a\"", 1);
            recipients(&Profile::parse(&text).unwrap_or_else(|e| panic!("{users} {emails}: {e}")))
        };
        let cases: &[(&str, &str, &[&str])] = &[
            ("[\"philipp\", \"admin\"]", "", &[]),
            (
                "[\"philipp\", \"admin\"]",
                "philipp = \"philipp@example.com\"",
                &["team-a/philipp"],
            ),
            (
                "[\"philipp\", \"admin\"]",
                "admin = \"ops@example.com\"\nphilipp = \"philipp@example.com\"",
                &["team-a/philipp", "team-a/admin"],
            ),
            (
                "[\"zoe\", \"data_eng-2\"]",
                "data_eng-2 = \"d@example.com\"",
                &["team-a/data_eng-2"],
            ),
        ];
        for (users, emails, expected) in cases {
            assert_eq!(with(users, emails), *expected, "{users} {emails}");
        }
        let tutorial = Profile::parse(TUTORIAL).unwrap();
        assert_eq!(recipients(&tutorial), ["tutorial/philipp"]);
    }
}
