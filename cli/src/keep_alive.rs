//! `sparkhub keep-alive`: what a person asks, checked against the rule the
//! idle sweep applies ([`keep_alive_counts`]), before any tag is written.

use jiff::{SignedDuration, Timestamp};
use sparkhub_core::idle::{KEEP_ALIVE_LIMIT, KeepAliveCount, keep_alive_counts};

/// What the person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// `--for 2h`, as typed.
    For(String),
    /// `--until <RFC 3339>`, as typed.
    Until(String),
    /// `--clear`.
    Clear,
}

/// The keep-alive instant to write (`None`: remove the tag), or why the
/// sweep would not honour it.
pub fn until(ask: &Ask, now: Timestamp) -> Result<Option<Timestamp>, String> {
    let limit_days = KEEP_ALIVE_LIMIT.as_hours() / 24;
    let until = match ask {
        Ask::Clear => return Ok(None),
        Ask::For(text) => {
            let duration = text
                .trim()
                .parse::<jiff::Span>()
                .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
                .map_err(|_| {
                    format!("--for {text:?} is not a duration; write it like 2h, 90m or 1d 6h")
                })?;
            if duration <= SignedDuration::ZERO {
                return Err(format!("--for {text:?} is not ahead; give a positive duration"));
            }
            now.checked_add(duration)
                .map_err(|_| format!("--for {text:?} is too long; at most {limit_days} days"))?
        }
        Ask::Until(text) => text.trim().parse::<Timestamp>().map_err(|_| {
            format!(
                "--until {text:?} is not an RFC 3339 instant; write it like 2026-05-04T18:00:00+02:00"
            )
        })?,
    };
    match keep_alive_counts(until, now) {
        KeepAliveCount::Counts => Ok(Some(until)),
        KeepAliveCount::Past => Err(format!(
            "{until} is not in the future (now is {}); nothing would be kept",
            now.round(jiff::Unit::Second).unwrap_or(now)
        )),
        KeepAliveCount::TooFar => Err(format!(
            "{until} is more than {limit_days} days ahead; the idle sweep would not count it. \
             Keep the cluster at most {limit_days} days and extend it later"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-05-04T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_sweep_rule_decides_what_is_accepted() {
        let at = |s: &str| Some(s.parse::<Timestamp>().unwrap());
        let cases: &[(Ask, Result<Option<Timestamp>, &str>)] = &[
            (Ask::For("2h".into()), Ok(at("2026-05-04T12:00:00Z"))),
            (Ask::For("1d 6h".into()), Ok(at("2026-05-05T16:00:00Z"))),
            (Ask::For("7d".into()), Ok(at("2026-05-11T10:00:00Z"))),
            (Ask::For("7d 1m".into()), Err("more than 7 days ahead")),
            (Ask::For("0h".into()), Err("not ahead")),
            (Ask::For("-2h".into()), Err("not ahead")),
            (Ask::For("soon".into()), Err("not a duration")),
            (
                Ask::Until("2026-05-04T18:00:00+02:00".into()),
                Ok(at("2026-05-04T16:00:00Z")),
            ),
            (
                Ask::Until("2026-05-04T09:59:00Z".into()),
                Err("not in the future"),
            ),
            (
                Ask::Until("9999-01-01T00:00:00Z".into()),
                Err("more than 7 days"),
            ),
            (
                Ask::Until("tomorrow".into()),
                Err("not an RFC 3339 instant"),
            ),
            (Ask::Clear, Ok(None)),
        ];
        for (ask, want) in cases {
            match (until(ask, now()), want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{ask:?}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{ask:?}: {got}"),
                (got, want) => panic!("{ask:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
