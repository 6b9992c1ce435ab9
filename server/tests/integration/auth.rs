use crate::common::{spawn_app, TestApp, ADMIN_PASSWORD};
use lookout::auth::{credentials, Scope};
use reqwest::header;
use serde_json::Value;

const PROTECTED: &[&str] = &[
    "/api/v1/performance/stats",
    "/api/v1/performance/system",
    "/api/v1/performance/history",
    "/ws/performance",
];

async fn status_and_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON envelope");
    assert_eq!(body["status"], "error");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

async fn login(app: &TestApp, password: &str, origin: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/auth/login", app.address))
        .header(header::ORIGIN, origin)
        .form(&[("username", "admin"), ("password", password)])
        .send()
        .await
        .expect("sent")
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix("lookout_session=")
                .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
        })
}

#[tokio::test]
async fn requests_without_valid_credentials_get_401_and_missing_scopes_403() {
    let app = spawn_app().await;
    for path in PROTECTED {
        let anonymous = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(
            status_and_code(anonymous).await,
            (401, "UNAUTHORIZED".into()),
            "{path}"
        );
        let forged = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth("lk_forged")
            .send()
            .await
            .expect("sent");
        assert_eq!(
            status_and_code(forged).await,
            (401, "UNAUTHORIZED".into()),
            "{path}"
        );
    }
    let writer = credentials::create_token(&app.pool, "agent", &[Scope::MetricsWrite], None)
        .await
        .expect("token");
    for path in PROTECTED {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth(&writer)
            .send()
            .await
            .expect("sent");
        assert_eq!(
            status_and_code(response).await,
            (403, "FORBIDDEN".into()),
            "{path}"
        );
    }
    // Tokens are stored as digests only.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_tokens WHERE position(convert_to($1, 'UTF8') in token_hash) > 0",
    )
    .bind(&writer)
    .fetch_one(&app.pool)
    .await
    .expect("query");
    assert_eq!(stored, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_cli_creates_a_working_read_token() {
    let app = spawn_app().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["token", "create", "--name", "ci", "--scopes", "vm:read"])
        .env(
            "DATABASE_URL",
            app.database_url.as_deref().expect("external database"),
        )
        .output()
        .expect("lookout runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    assert!(token.starts_with("lk_") && token.len() > 30, "{token}");
    let response = app
        .client
        .get(format!("{}/api/v1/performance/system", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["token", "create", "--name", "x", "--scopes", "vm:write"])
        .env(
            "DATABASE_URL",
            app.database_url.as_deref().expect("external database"),
        )
        .output()
        .expect("lookout runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scope"));
    app.stop().await;
}

#[tokio::test]
async fn browser_sign_in_session_csrf_and_sign_out() {
    let app = spawn_app().await;
    let origin = app.address.clone();

    let page = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()[header::LOCATION], "/login");

    let wrong = login(&app, "not-the-password", &origin).await;
    assert_eq!(wrong.status(), 303);
    assert_eq!(wrong.headers()[header::LOCATION], "/login?error=1");
    assert!(session_cookie(&wrong).is_none());

    let cross_site = login(&app, ADMIN_PASSWORD, "https://evil.example").await;
    assert_eq!(cross_site.status(), 403);

    let signed_in = login(&app, ADMIN_PASSWORD, &origin).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()[header::LOCATION], "/");
    let set_cookie = signed_in.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let session = session_cookie(&signed_in).expect("session cookie");
    let cookie = format!("lookout_session={session}");

    let stats = app
        .client
        .get(format!("{}/api/v1/performance/system", app.address))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(stats.status(), 200);
    let page = app
        .client
        .get(format!("{}/", app.address))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("sent");
    assert_ne!(page.status(), 303, "a signed-in user sees the page");

    // A cookie-authenticated WebSocket handshake from another site is refused (CSWSH).
    let hijack = app
        .client
        .get(format!("{}/ws/performance", app.address))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .expect("sent");
    assert_eq!(hijack.status(), 403);

    let cross_logout = app
        .client
        .post(format!("{}/auth/logout", app.address))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(cross_logout.status(), 403);

    let logout = app
        .client
        .post(format!("{}/auth/logout", app.address))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, &origin)
        .send()
        .await
        .expect("sent");
    assert_eq!(logout.status(), 303);
    assert_eq!(logout.headers()[header::LOCATION], "/login");
    let after = app
        .client
        .get(format!("{}/api/v1/performance/system", app.address))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(after.status(), 401, "the session ended with the sign-out");

    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'admin'")
            .fetch_one(&app.pool)
            .await
            .expect("admin");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    app.stop().await;
}

#[tokio::test]
async fn the_login_page_is_served_compressed_to_browsers_that_accept_it() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/login", app.address))
        .header(header::ACCEPT_ENCODING, "br, gzip")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok()),
        Some("br")
    );
    app.stop().await;
}

/// A history query in `language`, answered with an error in the history envelope: its status,
/// `code` (the same number), `error` and `message`.
async fn history_query_error(
    app: &TestApp,
    language: &str,
    query: &Value,
) -> (u16, String, String) {
    let response = app
        .client
        .post(format!("{}/api/v1/history/query", app.address))
        .bearer_auth(&app.token)
        .header(header::ACCEPT_LANGUAGE, language)
        .json(query)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["code"].as_u64(), Some(u64::from(status)), "{body}");
    let text = |field: &str| body[field].as_str().unwrap_or_default().to_owned();
    (status, text("error"), text("message"))
}

#[tokio::test]
async fn a_request_over_the_deadline_gets_408_in_its_apis_envelope() {
    let url = crate::common::fresh_database().await;
    let mut settings = crate::common::settings(lookout::config::DatabaseArgs {
        database_url: Some(url),
        data_dir: "unused".into(),
    });
    settings.request_timeout = std::time::Duration::from_millis(300);
    let app = crate::common::spawn_with(settings).await;
    // Both requests below read the host table; while it is locked they wait past the deadline.
    let mut lock = app.pool.begin().await.expect("transaction");
    sqlx::query("LOCK TABLE hosts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("locked");
    let response = app.get("/api/v1/performance/alerts/rules").await;
    assert_eq!(
        status_and_code(response).await,
        (408, "REQUEST_TIMEOUT".to_string())
    );
    let query = serde_json::json!({"vmIds": ["vm-1"], "startTime": "2026-01-01T00:00:00Z",
                                   "endTime": "2026-01-01T01:00:00Z"});
    assert_eq!(
        history_query_error(&app, "ja", &query).await,
        (408, "408".into(), "リクエストがタイムアウトしました".into())
    );
    lock.rollback().await.expect("unlocked");
    let (status, _) = app.get_json("/api/v1/performance/alerts/rules").await;
    assert_eq!(status, 200, "answered again once the table is free");
    // Pages and health checks have no deadline.
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_caller_over_the_rate_limit_gets_429_with_retry_after_in_each_apis_envelope() {
    let url = crate::common::fresh_database().await;
    let mut settings = crate::common::settings(lookout::config::DatabaseArgs {
        database_url: Some(url),
        data_dir: "unused".into(),
    });
    settings.rate_limit = 2; // a burst of 4, then 2 per second
    let app = crate::common::spawn_with(settings).await;
    let mut limited = None;
    for _ in 0..20 {
        let response = app.get("/api/v1/performance/alerts/rules").await;
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let response = limited.expect("a 429 within 20 quick requests");
    let retry: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(
        status_and_code(response).await,
        (429, "RATE_LIMITED".to_string())
    );
    // In the history envelope, and in the caller's language like every history answer.
    assert_eq!(
        history_query_error(&app, "zh-CN", &serde_json::json!({})).await,
        (429, "429".into(), "请求过于频繁".into())
    );
    // Another caller has its own bucket.
    let other = credentials::create_token(&app.pool, "other", &[Scope::VmRead], None)
        .await
        .expect("token");
    let response = app
        .client
        .get(format!("{}/api/v1/performance/alerts/rules", app.address))
        .bearer_auth(other)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn sign_in_attempts_for_one_user_are_throttled() {
    let app = spawn_app().await;
    // All at once: the limit is checked as each attempt arrives, before its slow password
    // check, so how fast this machine hashes does not decide how many get through.
    let attempts = (0..14).map(|_| login(&app, "wrong-password", &app.address));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 429),
        "{statuses:?}"
    );
    // Ten a minute: one more may have been earned if the attempts took seconds to arrive.
    assert!((3..=4).contains(&refused), "{statuses:?}");
    app.stop().await;
}
