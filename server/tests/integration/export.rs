//! Exports: 100 000-row files in every format read back, the record limit, options, access,
//! resuming after a crash, expiry.
use crate::common::{fresh_database, post, sample, settings, spawn_app, spawn_with, TestApp};
use chrono::{DateTime, Duration, DurationRound, Utc};
use lookout::{config::DatabaseArgs, storage::ingest::NewSample};
use serde_json::{json, Value};

/// Hosts `export-vm-NN` for NN in `hosts`, each with `per_host` raw samples 10 s apart ending an hour ago; CPU of sample `i` is
/// `i % 100 + 0.25`.
async fn fill(app: &TestApp, hosts: std::ops::Range<usize>, per_host: i64) -> DateTime<Utc> {
    let end = (Utc::now() - Duration::hours(1))
        .duration_trunc(Duration::seconds(10))
        .expect("time");
    let start = end - Duration::seconds(10 * (per_host - 1));
    for host in hosts {
        let items: Vec<NewSample> = (0..per_host)
            .map(|i| {
                let stats = serde_json::from_value(sample(
                    start + Duration::seconds(10 * i),
                    (i % 100) as f64 + 0.25,
                    50.0,
                ))
                .expect("sample");
                NewSample {
                    vm_id: format!("export-vm-{host:02}"),
                    name: None,
                    group_id: None,
                    cluster_id: None,
                    sample: stats,
                    processes: None,
                    facts: None,
                    present: Default::default(),
                }
            })
            .collect();
        lookout::storage::ingest::store(&app.pool, &items)
            .await
            .expect("stored");
    }
    start
}

async fn wait_done(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        let (status, body) = app.get_json(&format!("/api/v1/history/export/{id}")).await;
        assert_eq!(status, 200, "{body}");
        match body["data"]["status"].as_str() {
            Some("completed") => return body["data"].clone(),
            Some("failed") => panic!("export failed: {body}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!("export {id} did not finish within a minute");
}

async fn download(app: &TestApp, task: &Value) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let url = task["result"]["fileUrl"].as_str().expect("fileUrl");
    let response = app.get(url).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.bytes().await.expect("body").to_vec())
}

fn vm_ids(n: usize) -> Vec<String> {
    (0..n).map(|h| format!("export-vm-{h:02}")).collect()
}

#[tokio::test]
async fn hundred_thousand_rows_export_to_csv_xlsx_and_json_and_read_back() {
    let app = spawn_app().await;
    let start = fill(&app, 0..10, 10_000).await;
    // An 11th host pushes the same range over the limit.
    fill(&app, 10..11, 1).await;
    let range = json!({"startTime": start - Duration::minutes(1), "endTime": Utc::now(), "aggregation": "raw"});
    let mut over = range.clone();
    over["format"] = json!("csv");
    over["vmIds"] = json!(vm_ids(11));
    let (status, limit) = post(&app, "/api/v1/history/export", &over).await;
    assert_eq!(
        (status, limit["error"].as_str()),
        (400, Some("400-LIMIT")),
        "{limit}"
    );

    for (format, extension, content_type) in [
        ("csv", "csv", "text/csv; charset=utf-8"),
        (
            "excel",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("json", "json", "application/json"),
    ] {
        let mut request = range.clone();
        request["format"] = json!(format);
        request["vmIds"] = json!(vm_ids(10));
        request["metrics"] = json!(["cpu", "memory"]);
        request["filename"] = json!("fleet export/feb");
        let (status, created) = post(&app, "/api/v1/history/export", &request).await;
        assert_eq!(status, 202, "{created}");
        assert_eq!(created["code"], 202);
        assert_eq!(created["data"]["status"], "pending");
        assert_eq!(created["data"]["query"]["vmCount"], 10);
        assert_eq!(
            created["data"]["filename"],
            format!("fleet_export_feb.{extension}")
        );
        let task = wait_done(&app, created["data"]["id"].as_str().expect("id")).await;
        assert_eq!(task["result"]["recordCount"], 100_000, "{task}");
        assert_eq!(task["progress"]["percentage"], 100);
        let (headers, bytes) = download(&app, &task).await;
        assert_eq!(headers["content-type"], content_type);
        assert_eq!(
            headers["content-disposition"].to_str().expect("ascii"),
            format!("attachment; filename=\"fleet_export_feb.{extension}\"")
        );
        assert_eq!(task["result"]["fileSize"], bytes.len());

        match format {
            "csv" => {
                let mut reader = csv::Reader::from_reader(bytes.as_slice());
                let headers = reader.headers().expect("header row").clone();
                assert_eq!(&headers[0], "timestamp");
                assert_eq!(&headers[1], "vmId");
                assert_eq!(&headers[2], "cpu.usagePercent");
                let rows: Vec<csv::StringRecord> =
                    reader.records().map(|r| r.expect("row")).collect();
                assert_eq!(rows.len(), 100_000);
                assert_eq!(&rows[0][0], start.format("%Y-%m-%d %H:%M:%S").to_string());
                assert_eq!(&rows[0][1], "export-vm-00");
                assert_eq!(&rows[0][2], "0.25");
                assert_eq!(&rows[10_001][2], "1.25", "host 01, sample 1");
            }
            "excel" => {
                use calamine::{Data, Reader, Xlsx};
                let mut workbook: Xlsx<_> =
                    calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
                        .expect("a real workbook");
                let sheet = workbook.worksheet_range("history").expect("sheet");
                assert_eq!(sheet.height(), 100_001, "header + rows");
                assert_eq!(
                    sheet.get((0, 2)),
                    Some(&Data::String("cpu.usagePercent".into()))
                );
                assert_eq!(
                    sheet.get((1, 1)),
                    Some(&Data::String("export-vm-00".into()))
                );
                assert_eq!(
                    sheet.get((1, 2)),
                    Some(&Data::Float(0.25)),
                    "numbers are typed cells"
                );
                match sheet.get((1, 0)) {
                    Some(Data::DateTime(dt)) => {
                        // Excel serial days since 1899-12-30, in UTC wall-clock time here.
                        let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                            .expect("date")
                            .and_hms_opt(0, 0, 0)
                            .expect("time");
                        let expected =
                            (start.naive_utc() - epoch).num_milliseconds() as f64 / 86_400_000.0;
                        assert!(
                            (dt.as_f64() - expected).abs() < 1e-8,
                            "{} vs {expected}",
                            dt.as_f64()
                        );
                    }
                    other => panic!("timestamp cell is {other:?}"),
                }
            }
            _ => {
                let rows: Vec<Value> = serde_json::from_slice(&bytes).expect("a JSON array");
                assert_eq!(rows.len(), 100_000);
                assert_eq!(rows[0]["vmId"], "export-vm-00");
                assert_eq!(rows[0]["cpu.usagePercent"], 0.25);
                assert_eq!(rows[99_999]["cpu.usagePercent"], 99.25);
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn options_fields_access_validation_and_expiry() {
    let app = spawn_app().await;
    let start = fill(&app, 0..1, 30).await;
    let request = json!({"vmIds": ["export-vm-00"], "startTime": start, "endTime": Utc::now(), "aggregation": "raw", "format": "csv",
        "fields": ["cpu.usagePercent"], "options": {"includeHeaders": false, "timezone": "Asia/Shanghai", "dateFormat": "DD/MM/YYYY HH:mm", "numberFormat": "0.0"}});
    let (status, created) = post(&app, "/api/v1/history/export", &request).await;
    assert_eq!(status, 202, "{created}");
    let id = created["data"]["id"].as_str().expect("id").to_owned();
    let task = wait_done(&app, &id).await;
    let (_, bytes) = download(&app, &task).await;
    let text = String::from_utf8(bytes).expect("utf-8");
    let first = text.lines().next().expect("a row");
    let shanghai = start.with_timezone(&"Asia/Shanghai".parse::<chrono_tz::Tz>().expect("zone"));
    assert_eq!(
        first,
        format!("{},export-vm-00,0.3", shanghai.format("%d/%m/%Y %H:%M")),
        "no header, local time, one decimal, one field"
    );
    assert_eq!(text.lines().count(), 30);

    for (change, code) in [
        (json!({"format": "pdf"}), "400"),
        (json!({"options": {"timezone": "Mars/Olympus"}}), "400"),
        (json!({"options": {"dateFormat": "YYYY-QQ"}}), "400"),
        (json!({"fields": ["cpu.nope"]}), "400"),
        (
            json!({"startTime": Utc::now(), "endTime": start}),
            "400-TIME",
        ),
        (json!({"vmIds": ["no-such-vm"]}), "404"),
    ] {
        let mut bad = request.clone();
        for (key, value) in change.as_object().expect("object") {
            bad[key] = value.clone();
        }
        let (status, error) = post(&app, "/api/v1/history/export", &bad).await;
        assert_eq!(error["error"], code, "{change}: {error}");
        assert!(status >= 400);
    }
    let (status, unknown) = app
        .get_json("/api/v1/history/export/export_20260101_nothing")
        .await;
    assert_eq!(
        (status, unknown["error"].as_str()),
        (404, Some("404-EXPORT"))
    );

    // Another (non-admin) caller may not read the task.
    let other = crate::common::reader_token(&app).await;
    let response = app
        .client
        .get(format!("{}/api/v1/history/export/{id}", app.address))
        .bearer_auth(other)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 403);

    // Expired: gone from the API at once, and its file is removed by the worker.
    let path: String = sqlx::query_scalar("UPDATE export_jobs SET expires_at = now() - interval '1 second' WHERE id = $1 RETURNING file_path")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .expect("expire");
    assert!(std::path::Path::new(&path).exists());
    let (status, expired) = app.get_json(&format!("/api/v1/history/export/{id}")).await;
    assert_eq!(
        (status, expired["error"].as_str()),
        (404, Some("404-EXPORT"))
    );
    for _ in 0..50 {
        if !std::path::Path::new(&path).exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !std::path::Path::new(&path).exists(),
        "expired file removed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_job_left_by_a_crashed_server_completes_after_a_restart() {
    let url = fresh_database().await;
    let exports =
        std::env::temp_dir().join(format!("lookout-restart-exports-{}", std::process::id()));
    let config = || {
        let mut s = settings(DatabaseArgs {
            database_url: Some(url.clone()),
            data_dir: "unused".into(),
        });
        s.export_dir = exports.clone();
        s
    };
    let app = spawn_with(config()).await;
    let start = fill(&app, 0..2, 100).await;
    let request = json!({"vmIds": vm_ids(2), "startTime": start, "endTime": Utc::now(), "aggregation": "raw", "format": "json"});
    let (status, created) = post(&app, "/api/v1/history/export", &request).await;
    assert_eq!(status, 202, "{created}");
    let id = created["data"]["id"].as_str().expect("id").to_owned();
    wait_done(&app, &id).await;
    app.stop().await;
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");

    // As a server dying mid-job leaves it: processing, half done, its lease still running out.
    sqlx::query(
        "UPDATE export_jobs SET status = 'processing', processed = 100, file_path = NULL, completed_at = NULL, expires_at = NULL,
         lease_until = now() + interval '1 second' WHERE id = $1",
    )
    .bind(&id)
    .execute(&pool)
    .await
    .expect("simulate a crash");
    pool.close().await;
    let app = spawn_with(config()).await;
    let task = wait_done(&app, &id).await;
    assert_eq!(task["result"]["recordCount"], 200);
    let (_, bytes) = download(&app, &task).await;
    assert_eq!(
        serde_json::from_slice::<Vec<Value>>(&bytes)
            .expect("JSON")
            .len(),
        200
    );
    app.stop().await;
    let _ = std::fs::remove_dir_all(exports);
}
