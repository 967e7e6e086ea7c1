//! `sparkhub report --html`: one self-contained page. Inline CSS and inline
//! SVG only — no script, font, image or link to fetch, and a Content Security
//! Policy (`default-src 'none'; style-src 'unsafe-inline'`) that forbids any
//! request the page might make anyway. Every text from AWS or a profile is
//! escaped.
//!
//! The SVG is written by hand: three simple charts (a timeline with a time
//! axis, horizontal bars, columns per day) do not justify a charting
//! dependency, and a library would bring script or fonts the page must not
//! load. What they show is computed in [`super::chart`]; tooltips are SVG
//! `<title>` elements, which browsers show without script. Every time is
//! UTC, and the page says so.

use std::fmt::Write;

use jiff::Timestamp;

use super::chart::{cost_per_day, ticks};
use super::{COST_NOTES, ClusterLine, Ending, Report};

/// The page's Content Security Policy.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The colour of an ending, on the timeline and in the legend.
pub fn colour(ending: Ending) -> &'static str {
    match ending {
        Ending::Running => "#4c78a8",
        Ending::SparkhubIdle => "#54a24b",
        Ending::SparkhubMaxLifetime => "#eeca3b",
        Ending::AutoTermination => "#72b7b2",
        Ending::SparkhubStop => "#ff9da6",
        Ending::Person => "#b279a2",
        Ending::Failure => "#e45756",
        Ending::PipelineDone => "#9d755d",
        Ending::Unknown => "#bab0ac",
    }
}

fn time(t: Option<Timestamp>) -> String {
    t.map(|t| {
        t.to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%Y-%m-%d %H:%M UTC")
            .to_string()
    })
    .unwrap_or_else(|| "-".into())
}

const WIDTH: f64 = 900.0;
const LABEL: f64 = 170.0;
const ROW: f64 = 22.0;

/// The page.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <title>sparkhub report</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em; color: #222; }}\n\
         table {{ border-collapse: collapse; margin: 1em 0; }}\n\
         th, td {{ border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }}\n\
         th:first-child, td:first-child {{ text-align: left; }}\n\
         .legend span {{ display: inline-block; margin-right: 1.2em; }}\n\
         .swatch {{ display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; vertical-align: middle; }}\n\
         svg text {{ font-size: 11px; }}\n\
         </style>\n</head>\n<body>\n"
    );
    let _ = writeln!(
        out,
        "<h1>sparkhub report</h1>\n<p>{} to {}, region {}. All times are UTC.</p>",
        escape(&time(Some(r.since))),
        escape(&time(Some(r.until))),
        escape(&r.region)
    );

    // Totals per profile.
    let _ = writeln!(
        out,
        "<h2>Profiles</h2>\n<table>\n<tr><th>profile</th><th>clusters</th><th>hours</th>\
         <th>normalized instance hours</th><th>cost</th><th>hours saved</th><th>cost saved</th></tr>"
    );
    for p in &r.profiles {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
            escape(&p.profile),
            p.clusters,
            p.running_hours,
            p.normalized_instance_hours,
            escape(&p.cost.to_string()),
            p.hours_saved,
            escape(&p.cost_saved.to_string())
        );
    }
    let _ = writeln!(
        out,
        "<tr><th>total</th><th>{}</th><th></th><th></th><th>{}</th><th>{:.1}</th><th>{}</th></tr>\n</table>",
        r.clusters.len(),
        escape(&r.total_cost.to_string()),
        r.total_hours_saved,
        escape(&r.total_cost_saved.to_string())
    );

    let _ = writeln!(out, "<h2>Timeline</h2>");
    legend(&mut out);
    timeline(&mut out, r);
    let _ = writeln!(out, "<h2>Cost per profile</h2>");
    cost_bars(&mut out, r);
    let _ = writeln!(out, "<h2>Cost per day (UTC)</h2>");
    days_chart(&mut out, r);

    let _ = writeln!(
        out,
        "<h2>Clusters</h2>\n<table>\n<tr><th>cluster</th><th>name</th><th>profile</th><th>created</th>\
         <th>ready</th><th>last active</th><th>ended</th><th>how</th><th>hours</th>\
         <th>normalized instance hours</th><th>cost</th><th>hours saved</th></tr>"
    );
    for c in &r.clusters {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            escape(&c.cluster_id),
            escape(&c.name),
            escape(&c.profile),
            time(c.created_at),
            time(c.ready_at),
            time(c.last_active_at),
            time(c.ended_at),
            escape(c.ended.label()),
            if c.warned { " (warned first)" } else { "" },
            c.running_hours,
            c.normalized_instance_hours
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            escape(&c.cost.to_string()),
            c.hours_saved
        );
    }
    let _ = writeln!(out, "</table>");
    prices(&mut out, r);
    out.push_str("</body>\n</html>\n");
    out
}

/// The prices the costs use, each with its source, and what the marks mean.
fn prices(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "<h2>Prices</h2>\n<table id=\"prices\">\n<tr><th>instance type</th><th>region</th>\
         <th>EC2 per hour</th><th>EMR per hour</th><th>source</th></tr>"
    );
    for p in &r.prices {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>${:.4}</td><td>${:.4}</td><td class=\"price-source\">{}</td></tr>",
            escape(&p.instance_type),
            escape(&p.region),
            p.ec2,
            p.emr,
            escape(&p.source)
        );
    }
    let _ = writeln!(out, "</table>");
    if let Some(note) = &r.price_note {
        let _ = writeln!(out, "<p class=\"price-note\">Note: {}</p>", escape(note));
    }
    let _ = writeln!(out, "<p>{}</p>", escape(COST_NOTES));
}

fn legend(out: &mut String) {
    out.push_str("<p class=\"legend\">");
    for ending in Ending::ALL {
        let _ = write!(
            out,
            "<span><i class=\"swatch\" style=\"background:{}\"></i>{}</span>",
            colour(ending),
            escape(ending.label())
        );
    }
    out.push_str("<span>| ready</span><span>&#9675; last active</span></p>\n");
}

/// One row per cluster, grouped by profile: a bar from creation to its end
/// (or now), a tick when it became ready, a circle when it was last active.
fn timeline(out: &mut String, r: &Report) {
    let start = r
        .clusters
        .iter()
        .filter_map(|c| c.created_at)
        .min()
        .unwrap_or(r.since)
        .max(r.since);
    let end = r.until;
    let span = end.duration_since(start).as_secs_f64().max(1.0);
    let x = |t: Timestamp| {
        let f = (t.duration_since(start).as_secs_f64() / span).clamp(0.0, 1.0);
        LABEL + f * (WIDTH - LABEL - 10.0)
    };
    let mut rows: Vec<(Option<&str>, Option<&ClusterLine>)> = Vec::new();
    let mut profile = None;
    for c in &r.clusters {
        if profile != Some(c.profile.as_str()) {
            profile = Some(c.profile.as_str());
            rows.push((profile, None));
        }
        rows.push((None, Some(c)));
    }
    let height = ROW * rows.len() as f64 + 40.0;
    let _ = writeln!(
        out,
        "<svg id=\"timeline\" width=\"{WIDTH}\" height=\"{height}\" \
         role=\"img\" aria-label=\"Timeline of the clusters per profile\">"
    );
    for (i, row) in rows.iter().enumerate() {
        let y = ROW * i as f64;
        match row {
            (Some(name), None) => {
                let _ = writeln!(
                    out,
                    "<text x=\"0\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
                    y + 15.0,
                    escape(name)
                );
            }
            (_, Some(c)) => {
                let from = c.created_at.unwrap_or(start);
                let to = c.ended_at.unwrap_or(end);
                let (x0, x1) = (x(from), x(to));
                let _ = writeln!(
                    out,
                    "<text x=\"10\" y=\"{:.1}\">{}</text>\n\
                     <rect class=\"cluster-bar\" data-cluster=\"{}\" data-ended=\"{}\" x=\"{x0:.1}\" y=\"{:.1}\" \
                     width=\"{:.1}\" height=\"14\" fill=\"{}\"><title>{}</title></rect>",
                    y + 15.0,
                    escape(&c.cluster_id),
                    escape(&c.cluster_id),
                    escape(c.ended.label()),
                    y + 4.0,
                    (x1 - x0).max(2.0),
                    colour(c.ended),
                    escape(&tooltip(c)),
                );
                if let Some(ready) = c.ready_at {
                    let xr = x(ready);
                    let _ = writeln!(
                        out,
                        "<line class=\"ready\" x1=\"{xr:.1}\" x2=\"{xr:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\"/>",
                        y + 2.0,
                        y + 20.0
                    );
                }
                if let Some(active) = c.last_active_at {
                    let _ = writeln!(
                        out,
                        "<circle class=\"last-active\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"none\" stroke=\"#222\"/>",
                        x(active),
                        y + 11.0
                    );
                }
            }
            _ => {}
        }
    }
    // The time axis: a labelled tick on whole hours or days (UTC).
    let bottom = ROW * rows.len() as f64;
    let _ = writeln!(
        out,
        "<g class=\"axis\"><line x1=\"{LABEL}\" x2=\"{:.1}\" y1=\"{bottom:.1}\" y2=\"{bottom:.1}\" stroke=\"#222\"/>",
        WIDTH - 10.0
    );
    for tick in ticks(start, end) {
        let xt = x(tick.at);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{xt:.1}\" x2=\"{xt:.1}\" y1=\"0\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text class=\"tick\" x=\"{xt:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 4.0,
            bottom + 16.0,
            escape(&tick.label)
        );
    }
    let _ = writeln!(
        out,
        "<text class=\"axis-note\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">UTC, {} to {}</text></g>\n</svg>",
        WIDTH - 10.0,
        bottom + 32.0,
        escape(&time(Some(start))),
        escape(&time(Some(end)))
    );
}

/// A bar's tooltip: the cluster, its profile, its times, its cost and how it
/// ended.
pub fn tooltip(c: &ClusterLine) -> String {
    let mut text = format!(
        "{} ({}), profile {}\ncreated {}\nready {}",
        c.cluster_id,
        c.name,
        c.profile,
        time(c.created_at),
        time(c.ready_at)
    );
    if c.last_active_at.is_some() {
        let _ = write!(text, "\nlast active {}", time(c.last_active_at));
    }
    let _ = write!(
        text,
        "\nended {}\n{:.1} h, cost {}\nhow it ended: {}{}",
        if c.ended == Ending::Running {
            "- (still running)".to_owned()
        } else {
            time(c.ended_at)
        },
        c.running_hours,
        c.cost,
        c.ended.label(),
        if c.warned { " (warned first)" } else { "" }
    );
    text
}

/// One bar per profile, its length the cost; an unknown cost has no bar and
/// says so.
fn cost_bars(out: &mut String, r: &Report) {
    let most = r
        .profiles
        .iter()
        .filter_map(|p| p.cost.usd())
        .fold(0.0, f64::max)
        .max(0.01);
    let height = ROW * (r.profiles.len() as f64 + 0.5);
    let _ = writeln!(
        out,
        "<svg id=\"costs\" width=\"{WIDTH}\" height=\"{height}\" \
         role=\"img\" aria-label=\"Cost per profile\">"
    );
    for (i, p) in r.profiles.iter().enumerate() {
        let y = ROW * i as f64;
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{:.1}\">{}</text>",
            y + 15.0,
            escape(&p.profile)
        );
        let width = p
            .cost
            .usd()
            .map_or(0.0, |usd| usd / most * (WIDTH - LABEL - 120.0));
        let _ = writeln!(
            out,
            "<rect class=\"cost-bar\" x=\"{LABEL}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"14\" fill=\"#4c78a8\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y + 4.0,
            LABEL + width + 6.0,
            y + 15.0,
            escape(&p.cost.to_string())
        );
    }
    out.push_str("</svg>\n");
}

const DAYS_HEIGHT: f64 = 160.0;
const DAY_COLOUR: &str = "#5d8aa8";

/// One column per UTC day, its height the day's cost (a cluster running
/// over midnight counts on both days); every column has a tooltip, and as
/// many dates and costs are written under and over them as fit.
fn days_chart(out: &mut String, r: &Report) {
    let days = cost_per_day(&r.clusters, r.until);
    if days.is_empty() {
        let _ = writeln!(out, "<p>No cluster ran in the period.</p>");
        return;
    }
    let most = days.iter().map(|d| d.usd).fold(0.0, f64::max).max(0.01);
    let plot = WIDTH - 60.0;
    // A column per day, at most 60 px wide (a day or two would fill the page).
    let slot = (plot / days.len() as f64).min(60.0);
    // A date label needs ~48 px: label every n-th day.
    let every = ((48.0 / slot).ceil() as usize).max(1);
    let top = 16.0;
    let base = top + DAYS_HEIGHT;
    let _ = writeln!(
        out,
        "<svg id=\"cost-per-day\" width=\"{WIDTH}\" height=\"{:.1}\" role=\"img\" \
         aria-label=\"Cost per day, UTC\">\n<line x1=\"40\" x2=\"{:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"#222\"/>",
        base + 24.0,
        40.0 + slot * days.len() as f64
    );
    for (i, d) in days.iter().enumerate() {
        let x0 = 40.0 + slot * i as f64;
        let h = d.usd / most * DAYS_HEIGHT;
        let unknown = if d.unknown > 0 {
            format!(", and {} cluster(s) of unknown cost not counted", d.unknown)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<rect class=\"day-bar\" data-day=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" \
             fill=\"{DAY_COLOUR}\"><title>{} (UTC): {}{}</title></rect>",
            d.day,
            x0 + slot * 0.1,
            base - h,
            (slot * 0.8).max(1.0),
            d.day,
            escape(&d.cost().to_string()),
            escape(&unknown)
        );
        if i % every == 0 {
            let _ = writeln!(
                out,
                "<text class=\"day-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
                 <text class=\"day-cost\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}{}</text>",
                x0 + slot / 2.0,
                base + 14.0,
                d.day.strftime("%b %d"),
                x0 + slot / 2.0,
                (base - h - 4.0).max(top - 4.0),
                escape(&d.cost().to_string()),
                if d.unknown > 0 { " + ?" } else { "" }
            );
        }
    }
    out.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Cost, ProfileLine};
    use std::collections::BTreeMap;

    fn report(clusters: Vec<ClusterLine>) -> Report {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        Report {
            since: t("2026-11-01T00:00:00Z"),
            until: t("2026-11-25T20:00:00Z"),
            region: "eu-central-1".into(),
            prices: vec![],
            price_note: Some("the AWS Price List could not be asked (<b>)".into()),
            profiles: vec![ProfileLine {
                profile: "<script>alert(1)</script>".into(),
                clusters: clusters.len(),
                running_hours: 2.0,
                normalized_instance_hours: 24,
                cost: Cost::Known {
                    usd: 1.5,
                    estimate: false,
                    spot: false,
                },
                hours_saved: 10.0,
                cost_saved: Cost::Known {
                    usd: 7.5,
                    estimate: false,
                    spot: false,
                },
                endings: BTreeMap::new(),
            }],
            clusters,
            startups: vec![],
            budgets: vec![],
            total_cost: Cost::Known {
                usd: 1.5,
                estimate: false,
                spot: false,
            },
            total_cost_saved: Cost::Known {
                usd: 7.5,
                estimate: false,
                spot: false,
            },
            total_hours_saved: 10.0,
        }
    }

    fn line(id: &str, name: &str) -> ClusterLine {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        ClusterLine {
            cluster_id: id.into(),
            name: name.into(),
            profile: "<script>alert(1)</script>".into(),
            state: "TERMINATED".into(),
            created_at: Some(t("2026-11-25T08:00:00Z")),
            ready_at: Some(t("2026-11-25T08:10:00Z")),
            last_active_at: Some(t("2026-11-25T09:00:00Z")),
            ended_at: Some(t("2026-11-25T10:00:00Z")),
            ended: Ending::SparkhubIdle,
            running_hours: 2.0,
            normalized_instance_hours: Some(24),
            hourly_cost: Cost::Known {
                usd: 0.75,
                estimate: false,
                spot: false,
            },
            cost: Cost::Known {
                usd: 1.5,
                estimate: false,
                spot: false,
            },
            hours_saved: 10.0,
            cost_saved: Cost::Known {
                usd: 7.5,
                estimate: false,
                spot: false,
            },
            warned: true,
        }
    }

    #[test]
    fn one_bar_per_cluster_coloured_by_how_it_ended() {
        let page = render(&report(vec![line("j-A", "a"), line("j-B", "b")]));
        assert_eq!(page.matches("class=\"cluster-bar\"").count(), 2);
        assert_eq!(
            page.matches(&format!("fill=\"{}\"", colour(Ending::SparkhubIdle)))
                .count(),
            2
        );
        assert_eq!(page.matches("class=\"cost-bar\"").count(), 1);
        for ending in Ending::ALL {
            assert!(page.contains(ending.label()), "legend: {ending}");
        }
    }

    #[test]
    fn each_bar_has_a_tooltip_the_axis_has_utc_ticks_and_each_day_a_column() {
        let page = render(&report(vec![line("j-A", "a")]));
        let title = "<title>j-A (a), profile &lt;script&gt;alert(1)&lt;/script&gt;\n\
                     created 2026-11-25 08:00 UTC\nready 2026-11-25 08:10 UTC\n\
                     last active 2026-11-25 09:00 UTC\nended 2026-11-25 10:00 UTC\n\
                     2.0 h, cost $1.50\nhow it ended: sparkhub: idle (warned first)</title>";
        assert!(page.contains(title), "{page}");
        // 08:00 to 20:00: ticks every two hours, on whole hours.
        for label in ["08:00", "10:00", "12:00", "20:00"] {
            assert!(
                page.contains(&format!("text-anchor=\"middle\">{label}</text>")),
                "{label}: {page}"
            );
        }
        assert!(page.contains("All times are UTC."));
        // One day: its column, its date and its cost ($0.75 × 2 h).
        assert_eq!(page.matches("class=\"day-bar\"").count(), 1);
        assert!(page.contains("data-day=\"2026-11-25\""));
        assert!(page.contains(">Nov 25</text>"), "{page}");
        assert!(page.contains("2026-11-25 (UTC): $1.50</title>"), "{page}");
        assert!(page.contains("Note: the AWS Price List could not be asked (&lt;b&gt;)"));
    }

    #[test]
    fn text_from_aws_is_escaped_and_nothing_is_fetched() {
        let page = render(&report(vec![line("j-A", "\"><svg onload=alert(1)>")]));
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<svg onload"), "{page}");
        assert!(!page.contains("\"><svg"), "{page}");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains(CSP));
        for fetch in ["src=", "href=", "url(", "@import", "http://"] {
            assert!(!page.contains(fetch), "{fetch} in {page}");
        }
    }
}
