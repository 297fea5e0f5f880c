//! `--report FILE.html`: a real rolled-back deployment writes a report that headless Chromium renders
//! with the chart and the verdict, and that names the deployment, who started it, albflip's version,
//! the route and target groups (by name, not ARN), both colors' series and request volume, and each
//! step's gates, with no debug-formatted event.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium with `args` then the page; panics (never skips) when it is not installed.
fn chromium(args: &[String], page: &Path) -> std::process::Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the report test needs Debian's Chromium. Install it with \
         `apt-get update && apt-get install -y --no-install-recommends chromium fonts-dejavu-core` (as root)"
    );
    let profile = empty_dir();
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The report's text outside the places ARNs may be: `title` attributes and the resource list.
fn outside_ids(html: &str) -> String {
    let start = html
        .find("<details id=\"resources\">")
        .expect("a resource list");
    let end = start + html[start..].find("</details>").expect("closed");
    let text = format!("{}{}", &html[..start], &html[end..]);
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find(" title=\"") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 8..];
        rest = after.find('"').map_or("", |j| &after[j + 1..]);
    }
    out.push_str(rest);
    out
}

/// The section of `html` from `start` to the next `end`.
fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"));
    let rest = &html[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// What the run put in the header, the steps table, the chart and the samples.
fn header_steps_and_series(s: &Stack, html: &str, id_file: &Path) {
    let id = std::fs::read_to_string(id_file).expect("the deployment id file");
    let id = id.trim();
    assert!(!id.is_empty());
    assert!(
        html.contains(&format!("<span id=\"deployment-id\">{id}</span>")),
        "the deployment's id {id}: {html}"
    );
    assert!(
        html.contains("<dd id=\"started-by\">jenkins-shop-report-7</dd>"),
        "who started it, as the record says (BUILD_TAG): {html}"
    );
    assert!(
        html.contains(&format!(
            "<dd id=\"version\">{}</dd>",
            env!("CARGO_PKG_VERSION")
        )),
        "{html}"
    );
    // Names, not ARNs: the route by listener id and load balancer name, the groups by name.
    let listener_id = s.listener_arn.rsplit('/').next().unwrap();
    let route = section(html, "<dd id=\"route\">", "</dd>");
    assert!(
        route.contains(&format!(
            ">default action of listener {listener_id} on {}</span>",
            s.lb_name()
        )),
        "{route}"
    );
    let group_name = |arn: &str| {
        arn.split("targetgroup/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string()
    };
    let backends = section(html, "<dd id=\"backends\">", "</dd>");
    for tg in [&s.blue_tg, &s.green_tg] {
        assert!(
            backends.contains(&format!(">{}</span>", group_name(tg))),
            "{backends}"
        );
    }
    let resources = section(html, "<details id=\"resources\">", "</details>");
    for arn in [&s.listener_arn, &s.blue_tg, &s.green_tg] {
        assert!(resources.contains(arn.as_str()), "{resources}");
    }
    let rest = outside_ids(html);
    assert!(
        !rest.contains("arn:aws"),
        "an ARN outside the resource list and titles: {rest}"
    );
    // Each step's gates: the failing 5XX rate with its value and threshold.
    let steps = section(html, "<table id=\"steps\">", "</table>");
    assert!(
        steps.contains("<td>5XX rate</td>") && steps.contains("<td class=\"fail\">FAIL</td>"),
        "{steps}"
    );
    // The sequential judge decides the 5XX rate: its evidence, against what it must reach.
    assert!(
        steps.contains("<td>fails at ≥ 1000</td><td class=\"fail\">FAIL</td><td>green ")
            && steps.contains(" failed, blue ")
            && steps.contains("confidence"),
        "{steps}"
    );
    assert!(steps.contains("<td>latency (Average)</td>"), "{steps}");
    // Both colors' series and request volume, in the chart and in the samples.
    for line in [
        "<polyline class=\"series stable error-rate-stable\"",
        "<polyline class=\"series stable latency-stable\"",
        "<polyline class=\"series requests\"",
        "<polyline class=\"series stable requests-stable\"",
    ] {
        assert!(html.contains(line), "no {line} in {html}");
    }
    let samples = section(html, "<table id=\"samples\">", "</table>");
    let rows: Vec<&str> = samples.split("<tr><td>+").skip(1).collect();
    assert!(!rows.is_empty(), "no sample: {samples}");
    // The numeric cells of a row: green requests, 5XX, rate, latency, then blue's.
    let cells = |row: &str| -> Vec<String> {
        row.split("<td class=\"num\">")
            .skip(2)
            .map(|c| c.split('<').next().unwrap_or("").to_string())
            .collect()
    };
    assert!(
        rows.iter().any(|row| {
            let c = cells(row);
            c.len() == 8
                && c[0].parse::<f64>().is_ok_and(|n| n > 0.0)
                && c[4].parse::<f64>().is_ok_and(|n| n > 0.0)
                && c[2].ends_with('%')
                && c[6].ends_with('%')
        }),
        "a poll with both colors' requests and rates: {samples}"
    );
    // Events read as sentences; a gate the judge decided shows its evidence, not a rate.
    let events = section(html, "<table id=\"events\">", "</table>");
    assert!(
        events.contains("started by jenkins-shop-report-7 on the default action of listener")
            && events.contains("5XX rate evidence ")
            && events.contains("rolled back: all traffic on blue"),
        "{events}"
    );
    // No event is debug-formatted.
    for artefact in [
        "Some(",
        "None",
        "Evaluated {",
        "Observed {",
        "SplitView",
        "GateKind",
    ] {
        assert!(!html.contains(artefact), "{artefact} in {html}");
    }
}

#[test]
fn a_rolled_back_deployment_writes_a_report_that_renders_with_the_chart_and_the_verdict() {
    let s = stack(None);
    let _metrics = Publisher::start(
        &s,
        Faults {
            blue: 0.0,
            green: 0.2,
        },
    );
    let dir = empty_dir();
    let report: PathBuf = dir.join("report.html");
    let id_file: PathBuf = dir.join("deployment-id");
    let argv = args(
        &[&s.by_arn()],
        &[
            "deploy",
            "--target",
            "green",
            "--bake",
            "4s",
            "--poll-interval",
            "1s",
            "--metric-lag",
            "0s",
            "--metric-window",
            "5s",
            "--metric-period",
            "1s",
            "--latency-statistic",
            "Average",
            "--report",
            report.to_str().unwrap(),
            "--deployment-id-file",
            id_file.to_str().unwrap(),
        ],
    );
    let mut cmd = albflip();
    cmd.env("BUILD_TAG", "jenkins-shop-report-7");
    let r = run_in(cmd, &argv);
    assert_eq!(r.code, 3, "{r:?}");
    let html = std::fs::read_to_string(&report).expect("the report was written");
    assert!(
        html.contains("<div id=\"verdict\">ROLLED BACK</div>"),
        "{html}"
    );
    header_steps_and_series(&s, &html, &id_file);

    // (1) It renders: a screenshot of a page with a chart is well above a blank page's size.
    let png = dir.join("report.png");
    chromium(
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,1600".into(),
        ],
        &report,
    );
    let size = std::fs::metadata(&png)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()))
        .len();
    assert!(size > 40_000, "screenshot of {size} bytes looks blank");

    // (2) The DOM Chromium built holds the chart with its lines and the verdict.
    let out = chromium(&["--dump-dom".into()], &report);
    let dom = String::from_utf8_lossy(&out.stdout);
    let chart = dom
        .find("<svg id=\"chart\"")
        .map(|i| &dom[i..])
        .unwrap_or_else(|| panic!("no <svg id=\"chart\"> in the DOM: {dom}"));
    let chart = &chart[..chart.find("</svg>").expect("the chart's SVG is closed")];
    for class in ["series share", "series error-rate", "series latency"] {
        assert!(
            chart.contains(&format!("<polyline class=\"{class}\"")),
            "no {class} line in {chart}"
        );
    }
    assert_eq!(
        chart.matches("class=\"threshold\"").count(),
        2,
        "error-rate and latency thresholds: {chart}"
    );
    assert!(
        chart.contains("class=\"poll fail\""),
        "the failing poll is marked: {chart}"
    );
    assert!(
        dom.contains("<div id=\"verdict\">ROLLED BACK</div>"),
        "{dom}"
    );
    assert!(
        dom.contains("<td class=\"fail\">FAIL</td>"),
        "the gate table shows the failing gate: {dom}"
    );
}
