//! Reports: PDF read back with pdftotext (and its first page kept as a PNG), JSON and CSV, an
//! honest failure, validation.
use crate::common::{ingest, post, sample_with_disk, spawn_app, TestApp};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::path::PathBuf;

async fn wait_finished(app: &TestApp, id: &str) -> Value {
    for _ in 0..300 {
        let (status, body) = app
            .get_json(&format!("/api/v1/performance/reports/{id}"))
            .await;
        assert_eq!(status, 200, "{body}");
        if matches!(
            body["data"]["status"].as_str(),
            Some("completed" | "failed")
        ) {
            return body["data"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("report {id} did not finish");
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir
}

#[tokio::test]
async fn a_pdf_report_has_the_figures_charts_alerts_and_recommendations() {
    let app = spawn_app().await;
    let vm = "report-vm";
    let now = Utc::now();
    // 24 h at 5 min: CPU 50 %, memory 70 %, disk 88 %; the newest sample has CPU 95 % (the
    // default CPU rule fires on it).
    let items: Vec<Value> = (0..288)
        .map(|i| {
            let ts = now - Duration::minutes(1) - Duration::minutes(5 * (287 - i));
            json!({"vmId": vm, "sample": sample_with_disk(ts, if i == 287 { 95.0 } else { 50.0 }, 70.0, 88.0)})
        })
        .collect();
    ingest(&app, items).await;
    for _ in 0..50 {
        let (_, alerts) = app
            .get_json(&format!("/api/v1/performance/alerts?host={vm}"))
            .await;
        if alerts["data"]["alerts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let (status, created) = post(&app, "/api/v1/performance/reports", &json!({"type": "summary", "period": "24h", "format": "pdf",
        "metrics": ["cpu", "memory", "disk"], "include_alerts": true, "include_recommendations": true, "host": vm})).await;
    assert_eq!(status, 200, "{created}");
    let id = created["data"]["report_id"]
        .as_str()
        .expect("report_id")
        .to_owned();
    assert_eq!(
        created["data"]["download_url"],
        format!("/api/v1/performance/reports/{id}/download")
    );
    let ready: chrono::DateTime<Utc> = created["data"]["estimated_ready_time"]
        .as_str()
        .expect("time")
        .parse()
        .expect("RFC 3339");
    assert!(
        ready > now && ready < Utc::now() + Duration::seconds(30),
        "{ready}"
    );
    let report = wait_finished(&app, &id).await;
    assert_eq!(report["status"], "completed", "{report}");

    let response = app
        .get(&format!("/api/v1/performance/reports/{id}/download"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .starts_with("attachment; filename=\"lookout-report-summary-24h-"));
    let bytes = response.bytes().await.expect("body");
    assert!(bytes.starts_with(b"%PDF"));
    let pdf = artifacts().join("report.pdf");
    std::fs::write(&pdf, &bytes).expect("write the PDF");

    let text = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in [
        "Lookout performance report",
        "report-vm",
        "last 24h",
        "CPU usage",
        "Memory usage",
        "Disk usage",
        "Alerts (1)",
        "Recommendations",
        "scale up (disk)",
        "88.0 %",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from the PDF text:\n{text}"
        );
    }
    // CPU: current 95, average (287 × 50 + 95) / 288 = 50.16, max 95, min 50, p95 50.
    let cpu_row = text
        .lines()
        .find(|l| l.contains("CPU usage"))
        .expect("CPU row");
    let figures: Vec<&str> = cpu_row
        .split_whitespace()
        .filter(|w| w.parse::<f64>().is_ok())
        .collect();
    assert_eq!(
        figures,
        ["95.00", "50.16", "95.00", "50.00", "50.00"],
        "{cpu_row}"
    );

    let png = artifacts().join("report-page1");
    let rendered = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "2"])
        .arg(&pdf)
        .arg(&png)
        .output()
        .expect("pdftoppm runs");
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert!(std::fs::read_dir(artifacts())
        .expect("dir")
        .any(|e| e.is_ok_and(
            |e| e.file_name().to_string_lossy().starts_with("report-page1")
                && e.metadata().is_ok_and(|m| m.len() > 1000)
        )));

    for format in ["json", "csv"] {
        let (status, created) = post(
            &app,
            "/api/v1/performance/reports",
            &json!({"type": "detailed", "period": "6h", "format": format, "host": vm}),
        )
        .await;
        assert_eq!(status, 200, "{created}");
        let id = created["data"]["report_id"]
            .as_str()
            .expect("id")
            .to_owned();
        assert_eq!(wait_finished(&app, &id).await["status"], "completed");
        let body = app
            .get(&format!("/api/v1/performance/reports/{id}/download"))
            .await
            .text()
            .await
            .expect("text");
        if format == "json" {
            let data: Value = serde_json::from_str(&body).expect("JSON report");
            assert_eq!(
                data["resources"].as_array().map(Vec::len),
                Some(5),
                "cpu, memory, disk, network in/out"
            );
            assert_eq!(data["resources"][2]["current"], 88.0);
            let units: Vec<(&str, &str)> = data["resources"]
                .as_array()
                .expect("resources")
                .iter()
                .filter_map(|r| Some((r["name"].as_str()?, r["unit"].as_str()?)))
                .collect();
            assert_eq!(
                units,
                [
                    ("cpu", "%"),
                    ("memory", "%"),
                    ("disk", "%"),
                    ("network_in", "B/s"),
                    ("network_out", "B/s")
                ]
            );
            assert!(
                data["series"].as_array().is_some_and(|s| s.len() >= 60),
                "{}",
                data["series"]
            );
        } else {
            assert!(
                body.starts_with("section,resource,unit,current,average,maximum,minimum,p95"),
                "{body}"
            );
            assert!(
                body.contains("resource,disk,%,88.00,88.00,88.00,88.00,88.00"),
                "{body}"
            );
            assert!(body.contains("recommendation,scale_up,disk,"), "{body}");
            assert!(
                body.contains("\nseries,"),
                "detailed reports carry the series"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_report_without_data_fails_with_a_reason_and_bad_requests_are_refused() {
    let app = spawn_app().await;
    ingest(&app, vec![json!({"vmId": "stale-vm", "sample": sample_with_disk(Utc::now() - Duration::days(2), 10.0, 10.0, 10.0)})]).await;
    let (status, created) = post(
        &app,
        "/api/v1/performance/reports",
        &json!({"period": "1h", "format": "pdf", "host": "stale-vm"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["data"]["report_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let report = wait_finished(&app, &id).await;
    assert_eq!(report["status"], "failed");
    assert_eq!(report["error"]["code"], "REPORT_GENERATION_FAILED");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no samples"),
        "{report}"
    );
    let (status, download) = app
        .get_json(&format!("/api/v1/performance/reports/{id}/download"))
        .await;
    assert_eq!(
        (status, download["error"]["code"].as_str()),
        (500, Some("REPORT_GENERATION_FAILED")),
        "{download}"
    );

    for body in [
        json!({"period": "1y"}),
        json!({"format": "docx"}),
        json!({"type": "custom"}),
        json!({"metrics": ["gpu"]}),
        json!({"colour": "red"}),
        // The fields are checked before the host is looked up: a request wrong in both is
        // told what is wrong with its fields.
        json!({"period": "1y", "host": "no-such-vm"}),
    ] {
        let (status, error) = post(&app, "/api/v1/performance/reports", &body).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{body}: {error}"
        );
    }
    let (status, unknown) = post(
        &app,
        "/api/v1/performance/reports",
        &json!({"period": "1h", "host": "no-such-vm"}),
    )
    .await;
    assert_eq!(
        (status, unknown["error"]["code"].as_str()),
        (404, Some("HOST_NOT_FOUND")),
        "{unknown}"
    );
    let (status, missing) = app
        .get_json("/api/v1/performance/reports/report_20260101_nothing")
        .await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    app.stop().await;
}

#[tokio::test]
async fn the_exports_page_asks_for_a_report_lists_it_and_its_file_downloads() {
    let app = spawn_app().await;
    let vm = "page-report-vm";
    let now = Utc::now();
    let items: Vec<Value> = (0..12)
        .map(|i| json!({"vmId": vm, "sample": sample_with_disk(now - Duration::minutes(5 * i + 1), 40.0, 60.0, 70.0)}))
        .collect();
    ingest(&app, items).await;
    let session = crate::common::session(&app).await;
    let cookie = format!("lookout_session={session}");
    let send = |fields: Vec<(&'static str, &'static str)>| {
        let (app, session) = (&app, session.clone());
        async move {
            let (status, location) =
                crate::common::post_form(app, &session, "/reports", &fields).await;
            assert_eq!(status, 303);
            location
        }
    };
    let refused = send(vec![
        ("host", vm),
        ("period", "2d"),
        ("type", "summary"),
        ("format", "csv"),
    ])
    .await;
    assert_eq!(
        refused,
        "/exports?report_error=`period` must be 1h, 6h, 24h or 7d, got `2d`#reports"
    );
    let unknown = send(vec![
        ("host", "no-such-vm"),
        ("period", "1h"),
        ("format", "csv"),
    ])
    .await;
    assert!(
        unknown.contains("no host with id `no-such-vm`"),
        "{unknown}"
    );
    let asked = send(vec![
        ("host", vm),
        ("period", "1h"),
        ("type", "summary"),
        ("format", "csv"),
        ("alerts", "on"),
    ])
    .await;
    assert_eq!(asked, "/exports#reports");

    let page = crate::common::page(&app, &session, "/exports").await;
    let row = page
        .split("data-testid=\"report-row\"")
        .nth(1)
        .expect("the report is listed on the page");
    let id = row
        .split("data-id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("its id")
        .to_string();
    assert_eq!(page.matches("data-testid=\"report-row\"").count(), 1);
    let report = wait_finished(&app, &id).await;
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(report["format"], "csv");
    let file = app
        .client
        .get(format!(
            "{}{}",
            app.address,
            report["download_url"].as_str().expect("url")
        ))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(file.status().as_u16(), 200);
    assert_eq!(
        file.headers()[reqwest::header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    assert!(file.text().await.expect("CSV").contains("cpu"));
    // Listed with its file once done (the page the browser reloads shows the link).
    assert!(crate::common::page(&app, &session, "/exports")
        .await
        .contains("data-testid=\"report-download\""));
    app.stop().await;
}
