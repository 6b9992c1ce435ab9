//! The performance API's error type and its envelope: `{"status":"error","error":{code,message},"timestamp"}`.
use axum::{
    extract::rejection::{JsonRejection, QueryRejection},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(String),
    #[error("authentication required: send `Authorization: Bearer <token>` or sign in")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    HostNotFound(String),
    #[error("{0}")]
    MetricNotFound(String),
    #[error("{0}")]
    SystemInfoUnavailable(String),
    #[error("{0}")]
    RuleCreationFailed(String),
    #[error("{0}")]
    RuleNotFound(String),
    #[error("{0}")]
    InvalidMetricValue(String),
    #[error("{0}")]
    ReportGenerationFailed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; retry in {0} s")]
    RateLimited(u64),
    #[error("the database is unreachable; try again shortly")]
    StorageUnavailable,
    #[error("the request timed out")]
    Timeout,
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("an internal error occurred")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "VALIDATION_ERROR",
            ApiError::Unauthorized => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::HostNotFound(_) => "HOST_NOT_FOUND",
            ApiError::MetricNotFound(_) => "METRIC_NOT_FOUND",
            ApiError::SystemInfoUnavailable(_) => "SYSTEM_INFO_UNAVAILABLE",
            ApiError::RuleCreationFailed(_) => "RULE_CREATION_FAILED",
            ApiError::RuleNotFound(_) => "RULE_NOT_FOUND",
            ApiError::InvalidMetricValue(_) => "INVALID_METRIC_VALUE",
            ApiError::ReportGenerationFailed(_) => "REPORT_GENERATION_FAILED",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::RateLimited(_) => "RATE_LIMITED",
            ApiError::StorageUnavailable => "STORAGE_UNAVAILABLE",
            ApiError::Timeout => "REQUEST_TIMEOUT",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_)
            | ApiError::RuleCreationFailed(_)
            | ApiError::InvalidMetricValue(_) => StatusCode::BAD_REQUEST,
            ApiError::RuleNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ReportGenerationFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::HostNotFound(_) | ApiError::MetricNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::SystemInfoUnavailable(_) | ApiError::StorageUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if crate::storage::is_unreachable(&error) {
            ApiError::StorageUnavailable
        } else {
            ApiError::Internal(error.into())
        }
    }
}

/// What was wrong with a JSON body, shared by every API's error type.
pub enum BodyProblem {
    TooLarge(String),
    Invalid(String),
}

impl From<&JsonRejection> for BodyProblem {
    fn from(rejection: &JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return BodyProblem::TooLarge(format!(
                "request body too large: {}",
                rejection.body_text()
            ));
        }
        let text = rejection.body_text();
        match serde_unknown_field(&text) {
            Some((field, known)) => BodyProblem::Invalid(unknown_field_message(field, &known)),
            None => BodyProblem::Invalid(format!("invalid JSON body: {text}")),
        }
    }
}

/// The field and the expected ones of serde's `unknown field `x`, expected one of `a`, `b``
/// (or `expected `a``, or `there are no fields`).
fn serde_unknown_field(text: &str) -> Option<(&str, Vec<&str>)> {
    let rest = &text[text.find("unknown field `")? + "unknown field `".len()..];
    let (field, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected").map(|(_, e)| e).unwrap_or("");
    let expected = expected.split(" at line ").next().unwrap_or(expected);
    let known = expected.split('`').skip(1).step_by(2).collect();
    Some((field, known))
}

/// "unknown field `groupby`; did you mean `groupBy`? (known fields: …)": the message every body
/// check gives for a field it does not know, with the closest known name when one is close.
pub fn unknown_field_message(field: &str, known: &[&str]) -> String {
    let list = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    match closest(field, known) {
        Some(near) => {
            format!("unknown field `{field}`; did you mean `{near}`? (known fields: {list})")
        }
        None => format!("unknown field `{field}` (known fields: {list})"),
    }
}

/// The known name closest to `field`: the same letters in another case, else the smallest edit
/// distance when it is at most a third of the name (at least 2), ties to the first.
pub fn closest<'a>(field: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = field.to_lowercase();
    if let Some(same) = known.iter().find(|k| k.to_lowercase() == lower) {
        return Some(same);
    }
    let limit = (field.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match BodyProblem::from(&rejection) {
            BodyProblem::TooLarge(message) => ApiError::PayloadTooLarge(message),
            BodyProblem::Invalid(message) => ApiError::Validation(message),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Validation(format!("invalid query string: {}", rejection.body_text()))
    }
}

/// The success envelope of the performance API.
pub fn success<T: Serialize>(data: T) -> Json<Success<T>> {
    Json(Success {
        status: "success",
        data,
        timestamp: chrono::Utc::now(),
    })
}

/// The performance API's success envelope, `{"status":"success","data":…,"timestamp":…}`: written
/// straight from the typed answer.
#[derive(Debug, Serialize)]
pub struct Success<T> {
    pub status: &'static str,
    pub data: T,
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

/// The performance API's error envelope, `{"status":"error","error":{code,message},"timestamp":…}`.
#[derive(Debug, Serialize)]
pub struct Failure<'a> {
    pub status: &'static str,
    pub error: FailureDetail<'a>,
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize)]
pub struct FailureDetail<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

pub fn error_body<'a>(code: &'a str, message: &'a str) -> Failure<'a> {
    Failure {
        status: "error",
        error: FailureDetail { code, message },
        timestamp: chrono::Utc::now(),
    }
}

/// What a panic said (`panic!` with a literal or with format arguments), for the log.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic")
}

/// Marks a response whose failure was logged where it was made, so the request trace does not log
/// it again.
#[derive(Clone, Copy, Debug)]
pub struct Logged;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // An internal error is logged here with its cause chain, which the client does not see;
        // the request trace logs other 5xx.
        let logged = if let ApiError::Internal(error) = &self {
            tracing::error!(
                error = format!("{error:#}"),
                "Request failed with an internal error."
            );
            true
        } else {
            false
        };
        let message = self.to_string();
        let mut response = (self.status(), Json(error_body(self.code(), &message))).into_response();
        match self {
            ApiError::StorageUnavailable => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ApiError::RateLimited(secs) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            _ => {}
        }
        if logged {
            response.extensions_mut().insert(Logged);
        }
        response
    }
}

/// `axum::Json` whose rejections (bad syntax, wrong types, wrong content type) use the API envelope.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Query` whose rejections use the API envelope.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[cfg(test)]
mod field_tests {
    use super::*;

    #[test]
    fn only_failures_logged_where_they_are_made_are_marked_logged() {
        let marked = |error: ApiError| error.into_response().extensions().get::<Logged>().is_some();
        assert!(marked(ApiError::Internal(anyhow::anyhow!("boom"))));
        // Left to the request trace, which logs every unmarked 5xx.
        assert!(!marked(ApiError::StorageUnavailable));
        assert!(!marked(ApiError::ReportGenerationFailed("no disk".into())));
        assert!(!marked(ApiError::Validation("bad".into())));
    }

    #[test]
    fn unknown_fields_are_named_with_the_closest_known_one() {
        let known = [
            "vmIds",
            "groupId",
            "startTime",
            "endTime",
            "groupBy",
            "aggregationFunc",
        ];
        assert_eq!(closest("groupby", &known), Some("groupBy"), "case only");
        assert_eq!(
            closest("aggregationFunction", &known),
            Some("aggregationFunc")
        );
        assert_eq!(closest("aggregationFun", &known), Some("aggregationFunc"));
        assert_eq!(closest("strtTime", &known), Some("startTime"));
        assert_eq!(closest("colour", &known), None);
        let serde = "Failed to deserialize the JSON body into the target type: unknown field `groupby`, expected one of `vmIds`, `groupBy` at line 1 column 10";
        let (field, expected) = serde_unknown_field(serde).expect("parsed");
        assert_eq!((field, expected), ("groupby", vec!["vmIds", "groupBy"]));
        assert_eq!(
            unknown_field_message(field, &["vmIds", "groupBy"]),
            "unknown field `groupby`; did you mean `groupBy`? (known fields: vmIds, groupBy)"
        );
        assert_eq!(
            serde_unknown_field("unknown field `x`, there are no fields at line 1")
                .map(|(f, k)| (f, k.len())),
            Some(("x", 0))
        );
    }
}
