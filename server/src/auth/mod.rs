//! Authentication and permissions: who is calling (session cookie or bearer token) and what they may do.
pub mod credentials;
pub mod password;
mod routes;
pub mod secret;
pub mod throttle;

pub use routes::{login, logout};

use crate::{config::Settings, error::ApiError};
use axum::response::{IntoResponse, Response};
use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts, HeaderMap},
};
use sqlx::PgPool;
use std::{fmt, marker::PhantomData, str::FromStr, sync::Arc};

pub const SESSION_COOKIE: &str = "lookout_session";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    VmRead,
    MetricsWrite,
    AlertsWrite,
    Admin,
    /// Exchange for a per-host token (`POST /api/v1/agents/enrol`), nothing else.
    AgentsEnrol,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::VmRead => "vm:read",
            Scope::MetricsWrite => "metrics:write",
            Scope::AlertsWrite => "alerts:write",
            Scope::Admin => "admin",
            Scope::AgentsEnrol => "agents:enrol",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vm:read" => Ok(Scope::VmRead),
            "metrics:write" => Ok(Scope::MetricsWrite),
            "alerts:write" => Ok(Scope::AlertsWrite),
            "admin" => Ok(Scope::Admin),
            "agents:enrol" => Ok(Scope::AgentsEnrol),
            other => Err(format!("unknown scope `{other}` (expected vm:read, metrics:write, alerts:write, admin or agents:enrol)")),
        }
    }
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    /// User name, or the token's name.
    pub name: String,
    pub user_id: Option<i32>,
    pub token_id: Option<i32>,
    pub scopes: Vec<Scope>,
    pub via_session: bool,
    /// A per-host token's host (row id, vmId): it may write that host's samples only.
    pub host: Option<(i32, String)>,
}

impl Principal {
    /// `admin` includes every other scope.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    /// The host a write naming `named` goes to: for a per-host token its own host (also when the
    /// item names none), refused with the token's vmId when the item names another; for any other
    /// principal the named one. The one place the per-host write rule lives (samples and custom
    /// metrics alike).
    pub fn host_for_write<'a>(
        &'a self,
        named: Option<&'a str>,
    ) -> Result<Option<&'a str>, &'a str> {
        match (&self.host, named) {
            (None, named) => Ok(named),
            (Some((_, own)), None) => Ok(Some(own)),
            (Some((_, own)), Some(named)) if named == own => Ok(Some(own)),
            (Some((_, own)), Some(_)) => Err(own),
        }
    }
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether a browser request comes from this site: its `Origin` (or, failing that, `Referer`)
/// names the `Host` it was sent to, or one of the configured trusted origins (a proxy that
/// rewrites `Host`). Requests without either header are refused: every current browser sends
/// `Origin` on cross-site and state-changing requests.
pub fn same_origin(headers: &HeaderMap, trusted: &[String]) -> bool {
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(source) = source else { return false };
    let Some((scheme, rest)) = source.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let origin = format!("{scheme}://{authority}");
    if trusted
        .iter()
        .any(|t| t.trim_end_matches('/').eq_ignore_ascii_case(&origin))
    {
        return true;
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Why a request was not let through; each API turns it into its own envelope.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: send `Authorization: Bearer <token>` or sign in")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("the database is unreachable; try again shortly")]
    StorageUnavailable,
    #[error("credential check failed")]
    Internal(#[source] sqlx::Error),
}

impl From<sqlx::Error> for AuthError {
    fn from(error: sqlx::Error) -> Self {
        if crate::storage::is_unreachable(&error) {
            AuthError::StorageUnavailable
        } else {
            AuthError::Internal(error)
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthorized => ApiError::Unauthorized,
            AuthError::Forbidden(message) => ApiError::Forbidden(message),
            AuthError::StorageUnavailable => ApiError::StorageUnavailable,
            AuthError::Internal(e) => ApiError::Internal(e.into()),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// Any state holding the pool and the settings (the server's `AppState`): auth reads those and
/// does not depend on the state, which holds auth's own throttle.
impl<St> FromRequestParts<St> for Principal
where
    PgPool: FromRef<St>,
    Arc<Settings>: FromRef<St>,
    St: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let pool = PgPool::from_ref(state);
        let principal = if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(AuthError::Unauthorized)?;
            credentials::principal_for_token(&pool, token)
                .await?
                .ok_or(AuthError::Unauthorized)?
        } else if let Some(secret) = session_cookie(&parts.headers) {
            let principal = credentials::principal_for_session(&pool, &secret)
                .await?
                .ok_or(AuthError::Unauthorized)?;
            // Cookies ride along on cross-site requests; tokens do not. So only cookie-authenticated
            // state changes and WebSocket handshakes need the origin check (CSRF / CSWSH).
            let needs_origin = !parts.method.is_safe() || is_websocket_upgrade(&parts.headers);
            let settings = Arc::<Settings>::from_ref(state);
            if needs_origin && !same_origin(&parts.headers, &settings.trusted_origins) {
                return Err(AuthError::Forbidden(
                    "cross-site request refused: the Origin header does not match this site".into(),
                ));
            }
            principal
        } else {
            return Err(AuthError::Unauthorized);
        };
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// Marker types naming the scope a route needs: `RequireScope<VmRead>`.
pub trait ScopeMarker: Send + Sync {
    const SCOPE: Scope;
}
pub struct VmRead;
pub struct MetricsWrite;
pub struct AlertsWrite;
pub struct AdminOnly;
pub struct AgentsEnrol;
impl ScopeMarker for AgentsEnrol {
    const SCOPE: Scope = Scope::AgentsEnrol;
}
impl ScopeMarker for VmRead {
    const SCOPE: Scope = Scope::VmRead;
}
impl ScopeMarker for MetricsWrite {
    const SCOPE: Scope = Scope::MetricsWrite;
}
impl ScopeMarker for AlertsWrite {
    const SCOPE: Scope = Scope::AlertsWrite;
}
impl ScopeMarker for AdminOnly {
    const SCOPE: Scope = Scope::Admin;
}

/// An authenticated caller holding scope `S`: 401 without credentials, 403 without the scope,
/// answered in the envelope of `E` (the performance API's by default).
pub struct RequireScope<S: ScopeMarker, E = ApiError>(
    pub Principal,
    pub PhantomData<fn() -> (S, E)>,
);

impl<S: ScopeMarker, E, St> FromRequestParts<St> for RequireScope<S, E>
where
    E: From<AuthError> + IntoResponse,
    PgPool: FromRef<St>,
    Arc<Settings>: FromRef<St>,
    St: Send + Sync,
{
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state)
            .await
            .map_err(E::from)?;
        if !principal.has(S::SCOPE) {
            return Err(E::from(AuthError::Forbidden(format!(
                "this request needs the `{}` scope",
                S::SCOPE
            ))));
        }
        Ok(RequireScope(principal, PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                name.clone(),
                HeaderValue::from_str(value).expect("valid header"),
            );
        }
        map
    }

    #[test]
    fn scopes_round_trip_and_admin_implies_all() {
        for scope in [
            Scope::VmRead,
            Scope::MetricsWrite,
            Scope::AlertsWrite,
            Scope::Admin,
        ] {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("vm:write".parse::<Scope>().is_err());
        let admin = Principal {
            name: "a".into(),
            user_id: None,
            token_id: None,
            scopes: vec![Scope::Admin],
            via_session: false,
            host: None,
        };
        assert!(admin.has(Scope::MetricsWrite));
        let reader = Principal {
            scopes: vec![Scope::VmRead],
            ..admin
        };
        assert!(!reader.has(Scope::MetricsWrite));
    }

    #[test]
    fn a_per_host_token_writes_its_own_host_only_and_others_write_what_they_name() {
        let agent = Principal {
            name: "agent".into(),
            user_id: None,
            token_id: Some(7),
            scopes: vec![Scope::MetricsWrite],
            via_session: false,
            host: Some((3, "web-01".into())),
        };
        assert_eq!(agent.host_for_write(Some("web-01")), Ok(Some("web-01")));
        assert_eq!(agent.host_for_write(None), Ok(Some("web-01")));
        assert_eq!(agent.host_for_write(Some("db-01")), Err("web-01"));
        let fleet = Principal {
            host: None,
            ..agent
        };
        assert_eq!(fleet.host_for_write(Some("db-01")), Ok(Some("db-01")));
        assert_eq!(fleet.host_for_write(None), Ok(None));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[(header::COOKIE, "theme=dark; lookout_session=abc123 ; x=y")]);
        assert_eq!(session_cookie(&h).as_deref(), Some("abc123"));
        assert_eq!(
            session_cookie(&headers(&[(header::COOKIE, "lookout_session=")])),
            None
        );
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn origin_must_match_host_or_a_trusted_origin() {
        let same = headers(&[
            (header::HOST, "127.0.0.1:3000"),
            (header::ORIGIN, "http://127.0.0.1:3000"),
        ]);
        assert!(same_origin(&same, &[]));
        let cross = headers(&[
            (header::HOST, "127.0.0.1:3000"),
            (header::ORIGIN, "https://evil.example"),
        ]);
        assert!(!same_origin(&cross, &[]));
        assert!(same_origin(&cross, &["https://evil.example/".into()]));
        let referer = headers(&[
            (header::HOST, "mon.local"),
            (header::REFERER, "https://mon.local/login?x=1"),
        ]);
        assert!(same_origin(&referer, &[]));
        assert!(!same_origin(&headers(&[(header::HOST, "mon.local")]), &[]));
    }
}
