//! The capacity plan as a PDF: on demand from the capacity page's view, and the monthly reports
//! the background worker makes once per month and scope — read back with pdftotext.
use crate::common::{
    fresh_database, ingest, page, page_status, sample_with_disk, session, settings, spawn_with,
    wait_for_rollups, TestApp,
};
use chrono::{DateTime, Datelike, Duration, DurationRound, NaiveDate, Utc};
use lookout::{capacity::monthly, config::DatabaseArgs, jobs::Queue};
use serde_json::{json, Value};
use std::path::PathBuf;

/// `grp_a`'s host: CPU 20 + 0.5 d % over 100 days (69.5 % on the last day, day 99), memory 30,
/// disk 20; `grp_b`'s: CPU 10, flat; `grp_new`'s: today's samples only. Returns the first day.
async fn seeded(app: &TestApp) -> DateTime<Utc> {
    let first = (Utc::now() - Duration::days(100))
        .duration_trunc(Duration::days(1))
        .expect("aligned");
    let mut items = Vec::new();
    for d in 0..100 {
        for hour in [0, 6, 12, 18] {
            let ts = first + Duration::days(d) + Duration::hours(hour);
            let cpu = 20.0 + 0.5 * d as f64;
            items.push(json!({"vmId": "cr-a1", "groupId": "grp_a", "sample": sample_with_disk(ts, cpu, 30.0, 20.0)}));
            items.push(json!({"vmId": "cr-b1", "groupId": "grp_b", "sample": sample_with_disk(ts, 10.0, 30.0, 20.0)}));
        }
    }
    let now = Utc::now() - Duration::minutes(5);
    items.push(json!({"vmId": "cr-new", "groupId": "grp_new", "sample": sample_with_disk(now, 50.0, 50.0, 50.0)}));
    assert_eq!(ingest(app, items).await["stored"], 801);
    wait_for_rollups(app).await;
    first
}

/// The PDF's text (`pdftotext -layout`), the file kept in `target/test-artifacts/{name}`.
fn pdf_text(bytes: &[u8], name: &str) -> String {
    assert!(bytes.starts_with(b"%PDF"), "a PDF");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact directory");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the PDF");
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its first page as a PNG beside it, to look at.
    let _ = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "2"])
        .arg(&path)
        .arg(dir.join(name.trim_end_matches(".pdf")))
        .output();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn download(app: &TestApp, cookie: &str, path: &str) -> (u16, String, Vec<u8>) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .header(reqwest::header::COOKIE, format!("lookout_session={cookie}"))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, response.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn the_capacity_plan_downloads_as_a_pdf_and_is_made_monthly_once_per_scope() {
    let url = fresh_database().await;
    let mut with_monthly = settings(DatabaseArgs {
        database_url: Some(url),
        data_dir: PathBuf::from("unused"),
    });
    with_monthly.monthly_reports = true;
    let app = spawn_with(with_monthly).await;
    let first = seeded(&app).await;
    let cookie = session(&app).await;

    // On demand: grp_a's CPU reaches 80 % in (80 − 69.5) / 0.5 = 21 days from its last day.
    let (status, kind, bytes) = download(
        &app,
        &cookie,
        "/capacity.pdf?group=grp_a&history=180&horizon=90&threshold=80",
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    let text = pdf_text(&bytes, "capacity-plan-grp_a.pdf");
    let crossing = (first + Duration::days(99 + 21)).format("%Y-%m-%d");
    for expected in [
        "Lookout - Capacity plan".to_string(),
        "group grp_a".into(),
        format!("CPU runs out first: the average of group grp_a reaches 80 % {crossing} (in 21"),
        "Average use and forecast".into(),
        "Capacity alerts".into(),
        "group grp_a (average)".into(),
        "Right-sizing".into(),
    ] {
        assert!(text.contains(&expected), "`{expected}` missing:\n{text}");
    }
    let cpu_row = text
        .lines()
        .find(|l| l.trim_start().starts_with("CPU ") && l.contains("points"))
        .expect("CPU row");
    assert!(
        cpu_row.contains("69.5 %") && cpu_row.contains("+15.00 points"),
        "{cpu_row}"
    );
    assert!(
        !text.contains("Runway of each group"),
        "a group's plan has no runway table"
    );

    let (status, _, bytes) = download(&app, &cookie, "/capacity.pdf").await;
    assert_eq!(status, 200);
    let fleet = pdf_text(&bytes, "capacity-plan-fleet.pdf");
    assert!(
        fleet.contains("the whole fleet") && fleet.contains("Runway of each group"),
        "{fleet}"
    );
    for group in ["grp_a", "grp_b"] {
        assert!(
            fleet.lines().any(|l| l.trim_start().starts_with(group)),
            "{group}:\n{fleet}"
        );
    }
    assert_eq!(
        download(&app, &cookie, "/capacity.pdf?threshold=abc")
            .await
            .0,
        400
    );
    assert_eq!(
        download(&app, &cookie, "/capacity.pdf?group=nope").await.0,
        404
    );
    // API clients: the same PDF with a token; refusals in the history envelope.
    let response = app.get("/api/v1/history/capacity-plan?group=grp_a").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .contains("lookout-capacity-grp_a-"));
    let api_text = pdf_text(
        &response.bytes().await.expect("body"),
        "capacity-plan-api.pdf",
    );
    assert!(api_text.contains("(in 21 days)"), "{api_text}");
    for (query, status) in [
        ("threshold=65", 400),
        ("group=nope", 404),
        ("history=abc", 400),
    ] {
        let (got, body) = app
            .get_json(&format!("/api/v1/history/capacity-plan?{query}"))
            .await;
        assert_eq!(
            (got, body["code"].as_i64()),
            (status, Some(status as i64)),
            "{query}: {body}"
        );
    }

    // Monthly: the worker makes this month's reports, as of its first instant, for the fleet
    // and each group with history before it — not grp_new, whose host started today.
    let month = NaiveDate::from_ymd_opt(Utc::now().year(), Utc::now().month(), 1).expect("day");
    let mut list = Value::Null;
    for _ in 0..150 {
        let (status, body) = app.get_json("/api/v1/history/capacity-reports").await;
        assert_eq!(status, 200, "{body}");
        if body["data"].as_array().is_some_and(|a| a.len() == 3) {
            list = body["data"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let reports = list.as_array().expect("three reports within 30 s");
    let scopes: Vec<Option<&str>> = reports.iter().map(|r| r["groupId"].as_str()).collect();
    assert_eq!(scopes, [None, Some("grp_a"), Some("grp_b")]);
    let grp_a = &reports[1];
    assert_eq!(grp_a["month"], json!(month));
    assert_eq!(grp_a["asOf"], json!(monthly::start_of(month)));
    assert_eq!(
        (
            grp_a["hosts"].as_i64(),
            grp_a["historyDays"].as_i64(),
            grp_a["threshold"].as_i64()
        ),
        (Some(1), Some(180), Some(80))
    );
    assert!(grp_a["bytes"].as_i64().is_some_and(|b| b > 1000));
    // Made once: again, nothing more.
    assert_eq!(
        monthly::make_due(&app.pool, Utc::now())
            .await
            .expect("made"),
        0
    );

    let url = grp_a["downloadUrl"].as_str().expect("url");
    let response = app.get(url).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .contains(&format!(
            "lookout-capacity-grp_a-{}.pdf",
            month.format("%Y-%m")
        )));
    let text = pdf_text(
        &response.bytes().await.expect("body"),
        "capacity-monthly-grp_a.pdf",
    );
    let as_of = monthly::start_of(month).format("%Y-%m-%d %H:%M UTC");
    for expected in [
        format!("Monthly capacity report, {}", monthly::month_title(month)),
        format!("180 days up to {as_of}"),
        "CPU runs out first".into(),
    ] {
        assert!(text.contains(&expected), "`{expected}` missing:\n{text}");
    }
    let (status, body) = app
        .get_json("/api/v1/history/capacity-reports?groupId=grp_b")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1), "{body}");
    for missing in [
        "/api/v1/history/capacity-reports/999999",
        "/api/v1/history/capacity-reports/x",
    ] {
        let (status, body) = app.get_json(missing).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("404")),
            "{body}"
        );
    }

    // The page lists the view's scope's reports.
    let html = page(&app, &cookie, "/capacity?group=grp_a").await;
    assert!(
        html.contains("data-testid=\"monthly-reports\"") && html.contains(url),
        "grp_a's"
    );
    assert!(
        html.contains("/capacity.pdf?group=grp_a"),
        "the on-demand link"
    );
    let (status, html) = page_status(&app, &cookie, "/capacity?group=grp_new").await;
    assert_eq!(status, 200);
    assert!(html.contains("None yet"), "grp_new has none");

    // Reports older than 24 months go at the daily upkeep; this month's stay.
    let view = app::view_state::CapacityQuery::default();
    let old = lookout::storage::capacity_reports::NewReport {
        month: NaiveDate::from_ymd_opt(2024, 1, 1).expect("day"),
        group: None,
        as_of: first,
        hosts: 1,
        view: &view,
        pdf: b"%PDF old",
        runway: Default::default(),
    };
    assert!(lookout::storage::capacity_reports::insert(&app.pool, &old)
        .await
        .expect("insert"));
    monthly::MonthlyReports {
        pool: app.pool.clone(),
    }
    .upkeep()
    .await
    .expect("upkeep");
    let (_, body) = app.get_json("/api/v1/history/capacity-reports").await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(3), "{body}");
}

#[tokio::test]
async fn each_monthly_report_says_how_the_runway_moved_since_the_last() {
    use crate::common::spawn_app;
    let app = spawn_app().await;
    let first = seeded(&app).await;
    let month = monthly::month_of(Utc::now());
    let last = month
        .checked_sub_months(chrono::Months::new(1))
        .expect("a month before");
    // Last month's reports (as of its first instant), then this month's.
    let made_then = monthly::make_due(&app.pool, monthly::start_of(last) + Duration::days(3))
        .await
        .expect("made");
    assert_eq!(made_then, 3, "fleet, grp_a, grp_b");
    assert_eq!(
        monthly::make_due(&app.pool, Utc::now())
            .await
            .expect("made"),
        3
    );

    // grp_a's CPU on day k is 20 + 0.5 k: as of a month's first instant its newest complete
    // day is the day before, and 80 % is (80 − (20 + 0.5 k)) / 0.5 = 120 − k days away.
    let newest_before =
        |m: NaiveDate| (monthly::start_of(m) - Duration::days(1) - first).num_days();
    let (was, is) = (120 - newest_before(last), 120 - newest_before(month));
    let (status, body) = app
        .get_json("/api/v1/history/capacity-reports?groupId=grp_a")
        .await;
    assert_eq!(status, 200);
    let reports = body["data"].as_array().expect("list");
    assert_eq!(reports.len(), 2, "{body}");
    assert_eq!(reports[0]["month"], json!(month));
    assert_eq!(reports[0]["runway"]["cpuDays"], json!(is as f64), "{body}");
    assert_eq!(reports[1]["runway"]["cpuDays"], json!(was as f64), "{body}");
    assert!(
        reports[0]["runway"]["memoryDays"].is_null(),
        "flat memory never gets there"
    );

    let url = reports[0]["downloadUrl"].as_str().expect("url");
    let response = app.get(url).await;
    let text = pdf_text(
        &response.bytes().await.expect("body"),
        "capacity-monthly-since.pdf",
    );
    let expected = format!(
        "Since the {} report: CPU {was} days -> {is} days ({:+})",
        monthly::month_title(last),
        is - was
    );
    assert!(text.contains(&expected), "`{expected}` missing:\n{text}");
    // (pdftotext keeps the paragraph's line break: "(no" ends a line.)
    assert!(text.contains("memory not within 2 years (no"), "{text}");
    // Last month's own report has nothing to compare with.
    let older = app
        .get(reports[1]["downloadUrl"].as_str().expect("url"))
        .await;
    let text = pdf_text(
        &older.bytes().await.expect("body"),
        "capacity-monthly-first.pdf",
    );
    assert!(!text.contains("Since the"), "{text}");
    assert!(text.contains(&format!(
        "180 days up to {}",
        monthly::start_of(last).format("%Y-%m-%d %H:%M UTC")
    )));
}
