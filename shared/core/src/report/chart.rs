//! What the HTML report's charts show, computed apart from their drawing:
//! the ticks of the timeline's time axis ([`ticks`]) and the cost of each
//! day ([`cost_per_day`]). Every time is UTC, as the page says.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::{ClusterLine, Cost};

/// One labelled tick of the time axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub at: Timestamp,
    pub label: String,
}

/// At most this many ticks on an axis (the timeline is 900 px wide; a
/// label takes up to ~60 px).
pub const MAX_TICKS: usize = 10;

/// The steps an axis may take, in hours: whole hours that divide a day, then
/// whole days and a week.
const STEPS_HOURS: [i64; 9] = [1, 2, 3, 6, 12, 24, 48, 96, 168];

/// The ticks between `start` and `end`: the smallest step of
/// [`STEPS_HOURS`] that gives at most [`MAX_TICKS`] (a week's step for
/// anything longer: EMR lists 60 days, nine ticks), each tick on a whole
/// multiple of it (UTC: 00:00, 06:00, 12:00, ... or midnights). Hours are
/// labelled `HH:MM`, a midnight and every tick of a step of a day or more
/// by its date (`Nov 25`).
pub fn ticks(start: Timestamp, end: Timestamp) -> Vec<Tick> {
    if end <= start {
        return Vec::new();
    }
    for step in STEPS_HOURS {
        let at = aligned(start, step);
        let count = if at > end {
            0
        } else {
            (end.duration_since(at).as_secs() / (step * 3600)) as usize + 1
        };
        if count <= MAX_TICKS || step == STEPS_HOURS[STEPS_HOURS.len() - 1] {
            return (0..count)
                .map(|i| at + SignedDuration::from_hours(step * i as i64))
                .map(|t| Tick {
                    at: t,
                    label: label(t, step),
                })
                .collect();
        }
    }
    Vec::new()
}

/// The first whole multiple of `step` hours at or after `t` (steps of a day
/// or more: midnights, counted from the Unix epoch's midnight).
fn aligned(t: Timestamp, step: i64) -> Timestamp {
    let seconds = step * 3600;
    let s = t.as_second();
    let first = s.div_euclid(seconds) * seconds
        + if s.rem_euclid(seconds) == 0 && t.subsec_nanosecond() == 0 {
            0
        } else {
            seconds
        };
    Timestamp::from_second(first).expect("a time near the report's")
}

fn label(t: Timestamp, step: i64) -> String {
    let zoned = t.to_zoned(TimeZone::UTC);
    if step >= 24 || (zoned.hour() == 0 && zoned.minute() == 0) {
        zoned.strftime("%b %d").to_string()
    } else {
        zoned.strftime("%H:%M").to_string()
    }
}

/// What the clusters cost on one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayCost {
    pub day: Date,
    /// The known part, USD.
    pub usd: f64,
    /// Some of it is an estimate (`~`) or an upper bound for spot (`≤`).
    pub estimate: bool,
    pub spot: bool,
    /// Clusters that ran that day at an unknown cost (not in `usd`).
    pub unknown: usize,
}

impl DayCost {
    /// The day's cost as the report prints costs.
    pub fn cost(&self) -> Cost {
        Cost::Known {
            usd: self.usd,
            estimate: self.estimate,
            spot: self.spot,
        }
    }
}

/// The clusters' costs split over the UTC days they ran: each day gets the
/// cluster's hourly cost times its hours on that day (from creation to its
/// end, or `until` while it runs), so a cluster running over midnight
/// counts on both days and the days add up to its cost. Every day from the
/// first cluster's creation to the last one's end is listed, days without a
/// cluster at $0.
pub fn cost_per_day(clusters: &[ClusterLine], until: Timestamp) -> Vec<DayCost> {
    let spans: Vec<(Timestamp, Timestamp, &Cost)> = clusters
        .iter()
        .filter_map(|c| {
            let from = c.created_at?;
            let to = c.ended_at.unwrap_or(until);
            (to > from).then_some((from, to, &c.hourly_cost))
        })
        .collect();
    let (Some(first), Some(last)) = (
        spans.iter().map(|s| s.0).min(),
        spans.iter().map(|s| s.1).max(),
    ) else {
        return Vec::new();
    };
    let day_of = |t: Timestamp| t.to_zoned(TimeZone::UTC).date();
    let mut days = Vec::new();
    let mut day = day_of(first);
    // The last instant is an end, exclusive: a cluster ending at midnight
    // adds no empty day.
    let last_day = day_of(last - SignedDuration::from_nanos(1));
    while day <= last_day {
        let day_start = day
            .to_zoned(TimeZone::UTC)
            .expect("a UTC midnight")
            .timestamp();
        let day_end = day_start + SignedDuration::from_hours(24);
        let mut out = DayCost {
            day,
            usd: 0.0,
            estimate: false,
            spot: false,
            unknown: 0,
        };
        for (from, to, hourly) in &spans {
            let overlap_from = (*from).max(day_start);
            let overlap_to = (*to).min(day_end);
            if overlap_to <= overlap_from {
                continue;
            }
            let hours = overlap_to.duration_since(overlap_from).as_secs_f64() / 3600.0;
            match hourly {
                Cost::Known {
                    usd,
                    estimate,
                    spot,
                } => {
                    out.usd += usd * hours;
                    out.estimate |= *estimate;
                    out.spot |= *spot;
                }
                Cost::Unknown { .. } => out.unknown += 1,
            }
        }
        days.push(out);
        day = day.tomorrow().expect("a day before 9999");
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Ending;

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn labels(ticks: &[Tick]) -> Vec<&str> {
        ticks.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn a_few_hours_get_hour_ticks_on_whole_hours() {
        let got = ticks(t("2026-11-25T06:20:00Z"), t("2026-11-25T12:00:00Z"));
        assert_eq!(
            labels(&got),
            ["07:00", "08:00", "09:00", "10:00", "11:00", "12:00"]
        );
        assert_eq!(got[0].at, t("2026-11-25T07:00:00Z"));
    }

    #[test]
    fn a_day_gets_multi_hour_ticks_and_midnight_is_labelled_with_its_date() {
        let got = ticks(t("2026-11-25T00:00:00Z"), t("2026-11-25T20:00:00Z"));
        assert_eq!(
            labels(&got),
            [
                "Nov 25", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00"
            ]
        );
        let got = ticks(t("2026-11-25T18:00:00Z"), t("2026-11-27T06:00:00Z"));
        assert!(got.len() <= MAX_TICKS, "{got:?}");
        assert!(labels(&got).contains(&"Nov 26"), "{got:?}");
        assert!(labels(&got).contains(&"12:00"), "{got:?}");
    }

    #[test]
    fn weeks_get_day_ticks_at_midnight() {
        let got = ticks(t("2026-11-01T09:00:00Z"), t("2026-11-08T09:00:00Z"));
        assert_eq!(
            labels(&got),
            [
                "Nov 02", "Nov 03", "Nov 04", "Nov 05", "Nov 06", "Nov 07", "Nov 08"
            ]
        );
        // Sixty days (what EMR lists): at most ten ticks, each on a midnight.
        let got = ticks(t("2026-10-01T00:00:00Z"), t("2026-11-30T00:00:00Z"));
        assert!(got.len() <= MAX_TICKS && got.len() >= 5, "{got:?}");
        for tick in &got {
            assert_eq!(tick.at.as_second() % 86_400, 0, "{tick:?}");
        }
    }

    #[test]
    fn no_span_no_ticks() {
        assert!(ticks(t("2026-11-25T06:00:00Z"), t("2026-11-25T06:00:00Z")).is_empty());
    }

    fn line(created: &str, ended: Option<&str>, hourly: Cost) -> ClusterLine {
        ClusterLine {
            cluster_id: "j-1".into(),
            name: "n".into(),
            profile: "p".into(),
            state: "TERMINATED".into(),
            created_at: Some(t(created)),
            ready_at: None,
            last_active_at: None,
            ended_at: ended.map(t),
            ended: Ending::Person,
            running_hours: 0.0,
            normalized_instance_hours: None,
            hourly_cost: hourly,
            cost: Cost::zero(),
            hours_saved: 0.0,
            cost_saved: Cost::zero(),
            warned: false,
        }
    }

    fn per_hour(usd: f64) -> Cost {
        Cost::Known {
            usd,
            estimate: false,
            spot: false,
        }
    }

    #[test]
    fn a_cluster_over_midnight_splits_its_cost_across_both_days() {
        // 22:00 to 04:00 at $1 an hour: $2 on the 25th, $4 on the 26th.
        let days = cost_per_day(
            &[line(
                "2026-11-25T22:00:00Z",
                Some("2026-11-26T04:00:00Z"),
                per_hour(1.0),
            )],
            t("2026-11-27T00:00:00Z"),
        );
        let got: Vec<(String, f64)> = days.iter().map(|d| (d.day.to_string(), d.usd)).collect();
        assert_eq!(
            got,
            [
                ("2026-11-25".to_owned(), 2.0),
                ("2026-11-26".to_owned(), 4.0)
            ]
        );
    }

    #[test]
    fn days_add_up_runs_until_now_and_keep_unknown_costs_apart() {
        let days = cost_per_day(
            &[
                line(
                    "2026-11-25T08:00:00Z",
                    Some("2026-11-25T10:00:00Z"),
                    per_hour(0.75),
                ),
                // Still running at "now", the 27th 12:00: 36 h at $0.5.
                line("2026-11-26T00:00:00Z", None, per_hour(0.5)),
                line(
                    "2026-11-26T08:00:00Z",
                    Some("2026-11-26T09:00:00Z"),
                    Cost::Unknown { missing: vec![] },
                ),
            ],
            t("2026-11-27T12:00:00Z"),
        );
        let usd: Vec<f64> = days.iter().map(|d| d.usd).collect();
        assert_eq!(usd, [1.5, 12.0, 6.0]);
        assert_eq!(days[1].unknown, 1);
        assert_eq!(days[0].unknown + days[2].unknown, 0);
        assert_eq!(days[0].cost().to_string(), "$1.50");
    }

    #[test]
    fn a_cluster_ending_at_midnight_adds_no_empty_day_and_spot_stays_marked() {
        let days = cost_per_day(
            &[line(
                "2026-11-25T20:00:00Z",
                Some("2026-11-26T00:00:00Z"),
                Cost::Known {
                    usd: 1.0,
                    estimate: true,
                    spot: true,
                },
            )],
            t("2026-11-27T00:00:00Z"),
        );
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].cost().to_string(), "≤$4.00");
    }
}
