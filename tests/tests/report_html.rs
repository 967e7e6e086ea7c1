//! `sparkhub report --html` opened in a real headless Chromium (Debian's
//! `chromium`, which `make test` installs): the page renders, its timeline
//! has one bar per cluster, and no request leaves the page.
//!
//! How "no request leaves the page" is checked: Chromium writes a NetLog
//! (`--log-net-log`), the record of every URL request its network stack
//! starts (`URL_REQUEST_START_JOB`, with the request's URL and initiator).
//! The browser's own background requests (component updates, network time,
//! accounts) carry the initiator "not an origin"; a request the page makes
//! carries the page's origin (`null` for a `file://` page). Every request
//! with an initiator must be the page's own `file://` URL. Host names resolve
//! to nothing (`--host-resolver-rules`), so even a request that slipped
//! through would reach no server. A control page — the same report without
//! its Content Security Policy and with one remote image — must show up in
//! the log, or the check could not fail. (The DevTools protocol's Network
//! events would tell the same, but need a WebSocket client and a running
//! browser; the NetLog is one flag and one JSON file.)
//!
//! "It renders": the screenshot Chromium takes after layout holds the colour
//! of each cluster's ending, where its bar is. What people read in it — the
//! time axis, a bar's tooltip, the cost per day — is looked for in the DOM
//! Chromium built.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use sparkhub_core::emr::ClusterState;
use sparkhub_core::history::Record;
use sparkhub_core::idle::TerminateReason;
use sparkhub_core::ports::ListedCluster;
use sparkhub_core::report::html::{CSP, colour, render};
use sparkhub_core::report::{
    ClusterFacts, Ending, FleetUse, Inputs, PriceTable, ProfileFacts, compute,
};
use sparkhub_tests::browser::chromium;
use sparkhub_tests::unique;

fn at(hhmm: &str) -> Timestamp {
    format!("2026-11-25T{hhmm}:00Z").parse().unwrap()
}

fn cluster(id: &str, profile: &str, created: &str, ended: Option<&str>) -> ClusterFacts {
    ClusterFacts {
        id: id.into(),
        name: format!("sparkhub-{profile}"),
        profile: Some(profile.into()),
        state: if ended.is_some() {
            ClusterState::Terminated
        } else {
            ClusterState::Waiting
        },
        created_at: Some(at(created)),
        ready_at: Some(at(created) + SignedDuration::from_mins(10)),
        ended_at: ended.map(at),
        normalized_instance_hours: Some(16),
        reason_code: ended.map(|_| "USER_REQUEST".into()),
        reason_message: None,
        fleets: Vec::new(),
    }
}

/// Three clusters of two profiles, each ended another way; the first one's
/// name is hostile markup.
fn report_page() -> (String, Vec<(String, Ending)>) {
    let mut idle = cluster("j-1IDLE", "tutorial", "06:00", Some("09:00"));
    idle.name = "<img src=x onerror=alert(1)>".into();
    let person = cluster("j-2PERSON", "tutorial", "10:00", Some("12:00"));
    let running = cluster("j-3RUNNING", "analytics", "14:00", None);
    let swept = Record::termination(
        &ListedCluster {
            id: idle.id.clone(),
            name: idle.name.clone(),
            state: ClusterState::Waiting,
            created_at: idle.created_at,
            ready_at: idle.ready_at,
        },
        "tutorial",
        &TerminateReason::Idle { minutes: 60 },
        at("09:00"),
    );
    let facts = ProfileFacts {
        max_lifetime_hours: 12,
        pipeline: false,
        fleets: vec![FleetUse {
            instance_types: vec!["m5.xlarge".into()],
            on_demand: 3,
            spot: 0,
        }],
    };
    let inputs = Inputs {
        since: at("00:00"),
        // The running cluster runs over midnight: its cost falls on two days.
        now: "2026-11-26T02:00:00Z".parse().unwrap(),
        region: "us-east-1".into(),
        clusters: vec![idle, person, running],
        history: vec![swept],
        startups: vec![],
        budgets: vec![],
        profiles: BTreeMap::from([
            ("tutorial".into(), facts.clone()),
            ("analytics".into(), facts),
        ]),
    };
    let report = compute(&inputs, &PriceTable::shipped());
    let endings = report
        .clusters
        .iter()
        .map(|c| (c.cluster_id.clone(), c.ended))
        .collect();
    (render(&report), endings)
}

struct Browser {
    dir: PathBuf,
}

/// What Chromium made of one page.
struct Visit {
    dom: String,
    urls: Vec<String>,
    screenshot: PathBuf,
}

impl Browser {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("sparkhub-report-html"));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    fn run(&self, page: &Path, name: &str, extra: &[String]) -> std::process::Output {
        let profile = self.dir.join(format!("{name}-profile"));
        chromium(page, &profile, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    fn visit(&self, html: &str, name: &str) -> Visit {
        let page = self.dir.join(format!("{name}.html"));
        std::fs::write(&page, html).unwrap();
        let net_log = self.dir.join(format!("{name}-netlog.json"));
        let screenshot = self.dir.join(format!("{name}.png"));
        let dom = self.run(
            &page,
            name,
            &[
                "--dump-dom".into(),
                format!("--log-net-log={}", net_log.display()),
            ],
        );
        assert!(
            dom.status.success(),
            "chromium --dump-dom: {}",
            String::from_utf8_lossy(&dom.stderr)
        );
        let shot = self.run(
            &page,
            &format!("{name}-shot"),
            &[format!("--screenshot={}", screenshot.display())],
        );
        assert!(
            shot.status.success() && screenshot.exists(),
            "chromium --screenshot: {}",
            String::from_utf8_lossy(&shot.stderr)
        );
        let log: Value = serde_json::from_str(&std::fs::read_to_string(&net_log).unwrap())
            .expect("a complete NetLog");
        let own = format!("file://{}", page.display());
        let urls = page_requests(&log)
            .into_iter()
            .filter(|u| *u != own)
            .collect();
        Visit {
            dom: String::from_utf8_lossy(&dom.stdout).into_owned(),
            urls,
            screenshot,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// The URLs of the requests the page started: `URL_REQUEST_START_JOB`
/// events whose initiator is an origin (the browser's own requests have
/// none: "not an origin").
fn page_requests(log: &Value) -> Vec<String> {
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_i64()
        .expect("the NetLog names its event types");
    log["events"]
        .as_array()
        .expect("NetLog events")
        .iter()
        .filter(|e| e["type"].as_i64() == Some(start_job))
        .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_owned))
        .collect()
}

/// The screenshot's pixels, RGB.
fn pixels(path: &Path) -> Vec<[u8; 3]> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("screenshot colour type {other:?}"),
    };
    buf[..info.buffer_size()]
        .chunks(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect()
}

fn rgb(hex: &str) -> [u8; 3] {
    let n = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(n >> 16) as u8, (n >> 8) as u8, n as u8]
}

#[test]
fn the_report_page_renders_one_bar_per_cluster_and_requests_nothing() {
    let browser = Browser::new();
    let (html, endings) = report_page();
    let visit = browser.visit(&html, "report");

    // One bar per cluster, in the DOM Chromium built.
    assert_eq!(visit.dom.matches("class=\"cluster-bar\"").count(), 3);
    for (id, _) in &endings {
        assert!(
            visit.dom.contains(&format!("data-cluster=\"{id}\"")),
            "{id}"
        );
    }
    // The hostile name stayed text.
    assert!(
        !visit.dom.contains("<img"),
        "markup from a cluster name was parsed"
    );
    assert!(visit.dom.contains("&lt;img src=x"));

    // It rendered: each bar's colour is on screen.
    let shot = pixels(&visit.screenshot);
    for (id, ending) in &endings {
        let want = rgb(colour(*ending));
        let n = shot.iter().filter(|p| **p == want).count();
        assert!(
            n > 100,
            "{id} ({ending}): {n} pixels of {}",
            colour(*ending)
        );
    }

    assert!(
        visit.urls.is_empty(),
        "the page made requests: {:?}",
        visit.urls
    );
}

#[test]
fn the_request_check_sees_a_page_that_fetches() {
    let browser = Browser::new();
    let (html, _) = report_page();
    let fetching = html
        .replace(&format!("content=\"{CSP}\""), "content=\"default-src *\"")
        .replace(
            "<h1>",
            "<img src=\"http://sparkhub-control.invalid/pixel.png\" alt=\"\"><h1>",
        );
    let visit = browser.visit(&fetching, "control");
    assert!(
        visit
            .urls
            .iter()
            .any(|u| u.contains("sparkhub-control.invalid")),
        "the NetLog check missed a remote image: {:?}",
        visit.urls
    );
}

/// The text of the `<title>` inside the element that carries `marker`.
fn title_after<'a>(dom: &'a str, marker: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in the page"));
    let rest = &dom[at..];
    let open = rest.find("<title>").expect("a title") + "<title>".len();
    let close = rest.find("</title>").expect("a closed title");
    &rest[open..close]
}

#[test]
fn people_read_a_utc_time_axis_a_tooltip_per_bar_and_the_cost_per_day() {
    let browser = Browser::new();
    let (html, _) = report_page();
    let visit = browser.visit(&html, "reading");
    let dom = &visit.dom;

    // The axis: 06:00 (the first cluster) to 02:00 the next day, a tick every
    // three hours, midnight labelled with its date; the page says UTC.
    let ticks: Vec<&str> = dom
        .split("class=\"tick\"")
        .skip(1)
        .filter_map(|t| t.split('>').nth(1)?.split('<').next())
        .collect();
    assert_eq!(
        ticks,
        [
            "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "Nov 26"
        ],
        "{dom}"
    );
    assert!(dom.contains("All times are UTC."));

    // A bar's tooltip: the cluster, its profile, its times, cost and ending.
    let tooltip = title_after(dom, "data-cluster=\"j-2PERSON\"");
    for part in [
        "j-2PERSON (sparkhub-tutorial), profile tutorial",
        "created 2026-11-25 10:00 UTC",
        "ready 2026-11-25 10:10 UTC",
        "ended 2026-11-25 12:00 UTC",
        // 2 h of three m5.xlarge at the shipped table's $0.24.
        "2.0 h, cost $1.44",
        "how it ended: a person",
    ] {
        assert!(tooltip.contains(part), "{part:?} not in {tooltip:?}");
    }
    assert!(
        title_after(dom, "data-cluster=\"j-1IDLE\"").contains("&lt;img src=x"),
        "the hostile name stays text in the tooltip"
    );

    // Cost per day: the running cluster (14:00 to 02:00) splits over two
    // days, the 26th getting its two hours after midnight: 2 × $0.72.
    assert_eq!(dom.matches("class=\"day-bar\"").count(), 2, "{dom}");
    assert!(dom.contains(">Nov 25</text>") && dom.contains(">Nov 26</text>"));
    assert!(
        title_after(dom, "data-day=\"2026-11-26\"").contains("2026-11-26 (UTC): $1.44"),
        "{dom}"
    );
    // 06:00-09:00, 10:00-12:00, 14:00-24:00: 15 h at $0.72.
    assert!(
        title_after(dom, "data-day=\"2026-11-25\"").contains("2026-11-25 (UTC): $10.80"),
        "{dom}"
    );
    // The prices and their source.
    assert!(
        dom.contains("offline table shipped with sparkhub, written down"),
        "{dom}"
    );
}
