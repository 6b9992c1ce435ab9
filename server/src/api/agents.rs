//! Agents and tokens: enrolment (`POST /api/v1/agents/enrol`), re-assigning a reinstalled host,
//! and listing, creating and revoking API tokens (admins).
use super::history_error::{history_success, HistoryError, HistoryJson};
use crate::api::history_error::Answer;
use crate::{
    auth::{credentials, AdminOnly, AgentsEnrol, RequireScope, Scope},
    enrolment::{self, EnrolError, Enrolment},
    state::AppState,
};
use app::models::{AgentEnrolled, HostReassigned, TokenCreated, TokenRevoked};
use axum::{
    extract::{Path, State},
    Json,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrolRequest {
    vm_id: String,
    name: Option<String>,
    group_id: Option<String>,
    cluster_id: Option<String>,
    machine_key: String,
}

impl From<EnrolError> for HistoryError {
    fn from(error: EnrolError) -> Self {
        match error {
            EnrolError::Invalid(message) => HistoryError::BadRequest(message),
            EnrolError::Conflict(message) => HistoryError::Conflict(message),
            EnrolError::Exhausted => {
                HistoryError::Forbidden("this enrolment token has no uses left".into())
            }
            EnrolError::Database(error) => error.into(),
            EnrolError::Internal(error) => HistoryError::Internal(error),
        }
    }
}

/// `POST /api/v1/agents/enrol` with an enrolment token → `{token, vmId}` (the token once).
pub async fn enrol(
    RequireScope(principal, _): RequireScope<AgentsEnrol, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<EnrolRequest>,
) -> Result<Json<Answer<AgentEnrolled>>, HistoryError> {
    let token_id = principal.token_id.ok_or_else(|| {
        HistoryError::Forbidden("enrol with an enrolment token, not a session".into())
    })?;
    let e = Enrolment {
        vm_id: request.vm_id,
        name: request.name,
        group_id: request.group_id,
        cluster_id: request.cluster_id,
        machine_key: request.machine_key,
    };
    let token = enrolment::enrol(&state.pool, &state.hub, token_id, &e).await?;
    Ok(history_success(AgentEnrolled {
        token,
        vm_id: e.vm_id,
    }))
}

/// `POST /api/v1/hosts/{vmId}/reassign` (admin): the next enrolment of this vmId binds anew.
pub async fn reassign(
    _: RequireScope<AdminOnly, HistoryError>,
    State(state): State<AppState>,
    Path(vm_id): Path<String>,
) -> Result<Json<Answer<HostReassigned>>, HistoryError> {
    if !enrolment::reassign(&state.pool, &vm_id).await? {
        return Err(HistoryError::NotFound(format!(
            "no host with vmId `{vm_id}`"
        )));
    }
    Ok(history_success(HostReassigned {
        vm_id,
        reassigned: true,
    }))
}

/// `data` of `GET /api/v1/tokens` (the rows are the server's: they never reach the browser).
#[derive(Serialize)]
pub struct TokenList {
    tokens: Vec<credentials::TokenInfo>,
}

/// `GET /api/v1/tokens` (admin): every token without its secret.
pub async fn list_tokens(
    _: RequireScope<AdminOnly, HistoryError>,
    State(state): State<AppState>,
) -> Result<Json<Answer<TokenList>>, HistoryError> {
    Ok(history_success(TokenList {
        tokens: credentials::list_tokens(&state.pool).await?,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTokenRequest {
    name: String,
    scopes: Vec<String>,
    /// `30m`, `24h`, `7d`.
    expires_in: Option<String>,
    uses: Option<i32>,
}

/// `POST /api/v1/tokens` (admin) → the new token's secret, once.
pub async fn create_token(
    _: RequireScope<AdminOnly, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<NewTokenRequest>,
) -> Result<Json<Answer<TokenCreated>>, HistoryError> {
    let scopes = credentials::parse_scopes(&request.scopes)
        .map_err(|e| HistoryError::BadRequest(e.to_string()))?;
    let expires_at = match request.expires_in.as_deref() {
        None => None,
        Some(text) => Some(
            Utc::now()
                + credentials::parse_lifetime(text)
                    .map_err(|e| HistoryError::BadRequest(e.to_string()))?,
        ),
    };
    let enrolling = scopes.contains(&Scope::AgentsEnrol);
    let uses = request.uses.or(enrolling.then_some(1));
    let spec = credentials::NewToken {
        name: &request.name,
        scopes: &scopes,
        expires_at,
        uses,
        ..Default::default()
    };
    let token = credentials::create(&state.pool, &spec)
        .await
        .map_err(|e| HistoryError::BadRequest(e.to_string()))?;
    Ok(history_success(TokenCreated {
        token,
        name: request.name,
        expires_at,
        uses,
    }))
}

/// `DELETE /api/v1/tokens/{id}` (admin).
pub async fn revoke_token(
    _: RequireScope<AdminOnly, HistoryError>,
    State(state): State<AppState>,
    Path(id): Path<i32>,
) -> Result<Json<Answer<TokenRevoked>>, HistoryError> {
    if !credentials::revoke_token(&state.pool, id).await? {
        return Err(HistoryError::NotFound(format!(
            "no live token with id {id}"
        )));
    }
    Ok(history_success(TokenRevoked { id, revoked: true }))
}
