//! The history API's envelope and errors: `{"code":400,"error":"400-TIME","message":"…"}`, with
//! messages in English, Chinese or Japanese chosen by `Accept-Language` (the seed's table).
use crate::{auth::AuthError, error::BodyProblem};
use axum::{
    extract::{rejection::JsonRejection, Request},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    En,
    Zh,
    Ja,
}

tokio::task_local! {
    static LANGUAGE: Language;
}

/// Picks the first supported language of an `Accept-Language` header (by q-value), English otherwise.
pub fn negotiate(header: Option<&str>) -> Language {
    let Some(header) = header else {
        return Language::En;
    };
    let mut choices: Vec<(f32, Language)> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next()?.trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let language = match tag.split('-').next()? {
                "zh" => Language::Zh,
                "ja" => Language::Ja,
                "en" => Language::En,
                _ => return None,
            };
            Some((q, language))
        })
        .collect();
    // Stable sort keeps header order among equal weights.
    choices.sort_by(|a, b| b.0.total_cmp(&a.0));
    choices.first().map(|c| c.1).unwrap_or(Language::En)
}

/// Middleware for history routes: makes the caller's language available to responses.
pub async fn with_language(request: Request, next: Next) -> Response {
    let language = negotiate(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    LANGUAGE.scope(language, next.run(request)).await
}

fn language() -> Language {
    LANGUAGE.try_with(|l| *l).unwrap_or(Language::En)
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidTime(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    ExportNotFound(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("too many requests; retry in {0} s")]
    RateLimited(u64),
    #[error("history storage is unavailable")]
    StorageUnavailable,
    #[error("the request took longer than the server's limit (LOOKOUT_REQUEST_TIMEOUT)")]
    Timeout,
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    /// No item of an ingest batch could be stored: every item's reasons (400).
    #[error("none of the {total} items was stored; `rejected` gives each one's reasons")]
    Rejected {
        total: usize,
        rejected: Vec<app::models::IngestRejection>,
    },
    /// Ingest is at capacity: retry after this many seconds (503 with `Retry-After`).
    #[error("the server is busy storing other batches; retry in {0} s")]
    Busy(u64),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl HistoryError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            HistoryError::BadRequest(_) | HistoryError::Rejected { .. } => {
                (StatusCode::BAD_REQUEST, "400")
            }
            HistoryError::InvalidTime(_) => (StatusCode::BAD_REQUEST, "400-TIME"),
            HistoryError::Unauthorized => (StatusCode::UNAUTHORIZED, "401"),
            HistoryError::Forbidden(_) => (StatusCode::FORBIDDEN, "403"),
            HistoryError::NotFound(_) => (StatusCode::NOT_FOUND, "404"),
            HistoryError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "413"),
            HistoryError::ExportNotFound(_) => (StatusCode::NOT_FOUND, "404-EXPORT"),
            HistoryError::LimitExceeded(_) => (StatusCode::BAD_REQUEST, "400-LIMIT"),
            HistoryError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "429"),
            HistoryError::Timeout => (StatusCode::REQUEST_TIMEOUT, "408"),
            HistoryError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "405"),
            HistoryError::StorageUnavailable | HistoryError::Busy(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "503")
            }
            HistoryError::Conflict(_) => (StatusCode::CONFLICT, "409"),
            HistoryError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "500"),
        }
    }
}

/// The seed's message table (plus 405, 408, 409 and 413, which the seed does not list).
fn message(code: &str, language: Language) -> &'static str {
    match (code, language) {
        ("400", Language::En) => "Bad Request",
        ("400", Language::Zh) => "请求参数错误",
        ("400", Language::Ja) => "リクエストパラメータエラー",
        ("400-TIME", Language::En) => "Invalid Time Range",
        ("400-TIME", Language::Zh) => "时间范围无效",
        ("400-TIME", Language::Ja) => "時間範囲が無効です",
        ("401", Language::En) => "Unauthorized",
        ("401", Language::Zh) => "未认证",
        ("401", Language::Ja) => "未認証",
        ("403", Language::En) => "Forbidden",
        ("403", Language::Zh) => "权限不足",
        ("403", Language::Ja) => "アクセス権がありません",
        ("404", Language::En) => "Not Found",
        ("404", Language::Zh) => "VM不存在",
        ("404", Language::Ja) => "VMが見つかりません",
        ("404-EXPORT", Language::En) => "Export Task Not Found",
        ("404-EXPORT", Language::Zh) => "导出任务不存在",
        ("404-EXPORT", Language::Ja) => "エクスポートタスクが見つかりません",
        ("400-LIMIT", Language::En) => "Record Limit Exceeded",
        ("400-LIMIT", Language::Zh) => "导出记录数超过限制",
        ("400-LIMIT", Language::Ja) => "エクスポート記録数の制限を超えています",
        ("429", Language::En) => "Rate Limit",
        ("429", Language::Zh) => "请求过于频繁",
        ("429", Language::Ja) => "リクエストが多すぎます",
        ("413", Language::En) => "Payload Too Large",
        ("413", Language::Zh) => "请求体过大",
        ("413", Language::Ja) => "リクエストが大きすぎます",
        ("405", Language::En) => "Method Not Allowed",
        ("405", Language::Zh) => "请求方法不允许",
        ("405", Language::Ja) => "許可されていないメソッドです",
        ("408", Language::En) => "Request Timeout",
        ("408", Language::Zh) => "请求超时",
        ("408", Language::Ja) => "リクエストがタイムアウトしました",
        ("409", Language::En) => "Conflict",
        ("409", Language::Zh) => "冲突",
        ("409", Language::Ja) => "競合",
        ("503", Language::En) => "Storage Unavailable",
        ("503", Language::Zh) => "历史数据存储不可用",
        ("503", Language::Ja) => "履歴データストレージが利用できません",
        (_, Language::En) => "Server Error",
        (_, Language::Zh) => "服务器内部错误",
        (_, Language::Ja) => "サーバーエラー",
    }
}

/// The success message of the seed's examples.
pub fn success_message() -> &'static str {
    match language() {
        Language::En => "Query succeeded",
        Language::Zh => "查询成功",
        Language::Ja => "クエリが成功しました",
    }
}

/// The history API's success envelope, `{"code":200,"message":…,"data":…}`: written straight from
/// the typed answer (no JSON tree in between, which for a large query was a second copy).
#[derive(Debug, Serialize)]
pub struct Answer<T> {
    pub code: u16,
    pub message: String,
    pub data: T,
}

/// The history API's error envelope, `{"code":400,"error":"400-TIME","message":…,"detail":…}`,
/// with each item's reasons when no item of an ingest batch was stored.
#[derive(Debug, Serialize)]
struct Refusal<'a> {
    code: u16,
    error: &'static str,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<&'a [app::models::IngestRejection]>,
}

/// `{"code":202,"message":…,"data":…}` for a created export task.
pub fn history_accepted<T: Serialize>(data: T) -> (StatusCode, Json<Answer<T>>) {
    let message = match language() {
        Language::En => "Export task created",
        Language::Zh => "导出任务已创建",
        Language::Ja => "エクスポートタスクが作成されました",
    };
    (
        StatusCode::ACCEPTED,
        Json(Answer {
            code: 202,
            message: message.into(),
            data,
        }),
    )
}

/// `{"code":200,"message":…,"data":…}`
pub fn history_success<T: Serialize>(data: T) -> Json<Answer<T>> {
    history_success_with(success_message(), data)
}

/// The same with a message saying what happened (e.g. "3 accepted, 2 rejected").
pub fn history_success_with<T: Serialize>(message: &str, data: T) -> Json<Answer<T>> {
    Json(Answer {
        code: 200,
        message: message.into(),
        data,
    })
}

impl IntoResponse for HistoryError {
    fn into_response(self) -> Response {
        // An internal error is logged here with its cause chain; the request trace logs other 5xx.
        let logged = if let HistoryError::Internal(error) = &self {
            tracing::error!(
                error = format!("{error:#}"),
                "History request failed with an internal error."
            );
            true
        } else {
            false
        };
        let (status, code) = self.status_and_code();
        // `detail` says exactly what was wrong, in English, beside the seed's localized message.
        let detail = match &self {
            HistoryError::Internal(_)
            | HistoryError::StorageUnavailable
            | HistoryError::Unauthorized => None,
            other => Some(other.to_string()),
        };
        let rejected = match &self {
            HistoryError::Rejected { rejected, .. } => Some(rejected.as_slice()),
            _ => None,
        };
        let body = Refusal {
            code: status.as_u16(),
            error: code,
            message: message(code, language()),
            detail: detail.as_deref(),
            rejected,
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let HistoryError::RateLimited(secs) | HistoryError::Busy(secs) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if logged {
            response.extensions_mut().insert(crate::error::Logged);
        }
        response
    }
}

impl From<AuthError> for HistoryError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthorized => HistoryError::Unauthorized,
            AuthError::Forbidden(message) => HistoryError::Forbidden(message),
            AuthError::StorageUnavailable => HistoryError::StorageUnavailable,
            AuthError::Internal(e) => HistoryError::Internal(e.into()),
        }
    }
}

impl From<crate::storage::rollups::ReadError> for HistoryError {
    fn from(error: crate::storage::rollups::ReadError) -> Self {
        crate::history::QueryError::from(error).into()
    }
}

impl From<crate::export::tasks::TaskError> for HistoryError {
    fn from(error: crate::export::tasks::TaskError) -> Self {
        use crate::export::tasks::TaskError;
        match error {
            TaskError::Query(error) => error.into(),
            TaskError::NotFound(message) => HistoryError::ExportNotFound(message),
            TaskError::Forbidden(message) => HistoryError::Forbidden(message),
        }
    }
}

impl From<crate::history::QueryError> for HistoryError {
    fn from(error: crate::history::QueryError) -> Self {
        use crate::history::QueryError;
        match error {
            QueryError::InvalidTime(message) => HistoryError::InvalidTime(message),
            QueryError::BadRequest(message) => HistoryError::BadRequest(message),
            QueryError::NotFound(message) => HistoryError::NotFound(message),
            QueryError::LimitExceeded(message) => HistoryError::LimitExceeded(message),
            QueryError::Database(error) => error.into(),
            QueryError::Internal(error) => HistoryError::Internal(error),
        }
    }
}

impl From<crate::detect::DetectError> for HistoryError {
    fn from(error: crate::detect::DetectError) -> Self {
        match error {
            crate::detect::DetectError::Database(error) => error.into(),
            task @ crate::detect::DetectError::Task(_) => HistoryError::Internal(task.into()),
        }
    }
}

impl From<sqlx::Error> for HistoryError {
    fn from(error: sqlx::Error) -> Self {
        if crate::storage::is_unreachable(&error) {
            HistoryError::StorageUnavailable
        } else {
            HistoryError::Internal(error.into())
        }
    }
}

impl From<JsonRejection> for HistoryError {
    fn from(rejection: JsonRejection) -> Self {
        match BodyProblem::from(&rejection) {
            BodyProblem::TooLarge(message) => HistoryError::PayloadTooLarge(message),
            BodyProblem::Invalid(message) => HistoryError::BadRequest(message),
        }
    }
}

/// `axum::Json` whose rejections use the history envelope.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(HistoryError))]
pub struct HistoryJson<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(negotiate(None), Language::En);
        assert_eq!(negotiate(Some("zh-CN,zh;q=0.9,en;q=0.8")), Language::Zh);
        assert_eq!(negotiate(Some("fr-FR, ja;q=0.5, en;q=0.4")), Language::Ja);
        assert_eq!(negotiate(Some("en;q=0.2, ja;q=0.9")), Language::Ja);
        assert_eq!(negotiate(Some("de")), Language::En);
        assert_eq!(negotiate(Some("")), Language::En);
    }

    #[test]
    fn every_code_has_three_messages() {
        for code in ["400", "400-TIME", "401", "403", "404", "413", "500", "503"] {
            let texts = [Language::En, Language::Zh, Language::Ja].map(|l| message(code, l));
            assert!(texts.iter().all(|t| !t.is_empty()), "{code}");
            assert_ne!(texts[0], texts[1], "{code}");
        }
        assert_eq!(message("400-TIME", Language::En), "Invalid Time Range");
    }
}
