//! `sparkhub report --html`: one self-contained page. Inline CSS and inline
//! SVG only — no script, font, image or link to fetch, and a Content Security
//! Policy (`default-src 'none'; style-src 'unsafe-inline'`) that forbids any
//! request the page might make anyway. Every text from AWS or a profile is
//! escaped.
//!
//! The SVG is written by hand: two simple charts (a timeline, horizontal
//! bars) do not justify a charting dependency, and a library would bring
//! script or fonts the page must not load.

use std::fmt::Write;

use jiff::Timestamp;

use super::{ClusterLine, Ending, Report};

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
        "<h1>sparkhub report</h1>\n<p>{} to {}, region {}</p>",
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
    let _ = writeln!(
        out,
        "<p>Costs: on-demand EC2 + EMR per instance-hour from sparkhub's price table, taken {} \
         ({}). ~ marks an estimate: spot capacity priced at on-demand, or a fleet with a choice of \
         types priced at the dearest. An instance type the table lacks is shown as unknown. Hours \
         saved: from a sparkhub idle termination to the end of the profile's maximum lifetime.</p>",
        escape(&r.prices_taken),
        r.price_sources
            .iter()
            .map(|s| escape(s))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str("</body>\n</html>\n");
    out
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
    let height = ROW * (rows.len() as f64 + 1.5);
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
                     width=\"{:.1}\" height=\"14\" fill=\"{}\"><title>{} ({}): {} to {}, {}, {}</title></rect>",
                    y + 15.0,
                    escape(&c.cluster_id),
                    escape(&c.cluster_id),
                    escape(c.ended.label()),
                    y + 4.0,
                    (x1 - x0).max(2.0),
                    colour(c.ended),
                    escape(&c.cluster_id),
                    escape(&c.name),
                    time(c.created_at),
                    time(c.ended_at),
                    escape(c.ended.label()),
                    escape(&c.cost.to_string()),
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
    let axis = ROW * rows.len() as f64 + 14.0;
    let _ = writeln!(
        out,
        "<text x=\"{LABEL}\" y=\"{axis:.1}\">{}</text>\n<text x=\"{:.1}\" y=\"{axis:.1}\" text-anchor=\"end\">{}</text>\n</svg>",
        escape(&time(Some(start))),
        WIDTH - 10.0,
        escape(&time(Some(end)))
    );
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
            prices_taken: "2026-11-28".into(),
            price_sources: vec!["https://aws.amazon.com/emr/pricing/".into()],
            profiles: vec![ProfileLine {
                profile: "<script>alert(1)</script>".into(),
                clusters: clusters.len(),
                running_hours: 2.0,
                normalized_instance_hours: 24,
                cost: Cost::Known {
                    usd: 1.5,
                    estimate: false,
                },
                hours_saved: 10.0,
                cost_saved: Cost::Known {
                    usd: 7.5,
                    estimate: false,
                },
                endings: BTreeMap::new(),
            }],
            clusters,
            startups: vec![],
            total_cost: Cost::Known {
                usd: 1.5,
                estimate: false,
            },
            total_cost_saved: Cost::Known {
                usd: 7.5,
                estimate: false,
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
            cost: Cost::Known {
                usd: 1.5,
                estimate: false,
            },
            hours_saved: 10.0,
            cost_saved: Cost::Known {
                usd: 7.5,
                estimate: false,
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
