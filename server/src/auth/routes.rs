//! Browser sign-in and sign-out (HTML form posts that answer with redirects and the session cookie).
use super::{credentials, same_origin, session_cookie, throttle::Throttle, SESSION_COOKIE};
use crate::{config::Settings, error::ApiError};
use axum::{
    extract::{rejection::FormRejection, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use sqlx::PgPool;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

fn cookie(settings: &Settings, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("lookout_session=; Path=/; Max-Age=0"))
}

fn cross_site(settings: &Settings, headers: &HeaderMap) -> Option<Response> {
    (!same_origin(headers, &settings.trusted_origins)).then(|| {
        ApiError::Forbidden(
            "cross-site request refused: the Origin header does not match this site".into(),
        )
        .into_response()
    })
}

/// `POST /auth/login`: on success a session cookie and a redirect to the live page.
pub async fn login(
    State(pool): State<PgPool>,
    State(settings): State<Arc<Settings>>,
    State(throttle): State<Arc<Throttle>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    if let Some(refused) = cross_site(&settings, &headers) {
        return refused;
    }
    let Ok(Form(form)) = form else {
        return Redirect::to("/login?error=1").into_response();
    };
    if let Err(wait) = throttle.check_login(&form.username) {
        tracing::warn!(user = %form.username, "Sign-in throttled.");
        return ApiError::RateLimited(super::throttle::retry_after_secs(wait)).into_response();
    }
    match credentials::authenticate(&pool, form.username.trim(), &form.password).await {
        Ok(Some(user_id)) => match credentials::create_session(&pool, user_id).await {
            Ok(secret) => {
                tracing::info!(user = %form.username, "Signed in.");
                let max_age = i64::from(credentials::SESSION_DAYS) * 86_400;
                (
                    [(header::SET_COOKIE, cookie(&settings, &secret, max_age))],
                    Redirect::to("/"),
                )
                    .into_response()
            }
            Err(error) => ApiError::from(error).into_response(),
        },
        Ok(None) => {
            tracing::warn!(user = %form.username, "Failed sign-in.");
            Redirect::to("/login?error=1").into_response()
        }
        Err(error) => ApiError::Internal(error).into_response(),
    }
}

/// `POST /auth/logout`: ends the session and clears the cookie.
pub async fn logout(
    State(pool): State<PgPool>,
    State(settings): State<Arc<Settings>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = cross_site(&settings, &headers) {
        return refused;
    }
    if let Some(secret) = session_cookie(&headers) {
        if let Err(error) = credentials::end_session(&pool, &secret).await {
            return ApiError::from(error).into_response();
        }
    }
    (
        [(header::SET_COOKIE, cookie(&settings, "", 0))],
        Redirect::to("/login"),
    )
        .into_response()
}
