//! `Operator`, `BreakGlass`, `LoginPayload`, the `viewer` root and the session
//! mutations: `login`, `logout`, `enterBreakGlass`, `exitBreakGlass`.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use entity::{platform_session, platform_user};

use crate::auth::{self, Elevation, break_glass, login};
use crate::error::{AppError, AppResult};
use crate::graphql::guards::{self, CONSOLE, Needs, SIGNED_IN};
use crate::graphql::ids::NodeKind;
use crate::graphql::scope::Scope;
use crate::graphql::text::Text;
use crate::metrics::LoginOutcome;

/// An operator of this console, seen through one of their sessions.
#[derive(Clone)]
pub(crate) struct Operator {
    // Shared, so that a `Node` (which may hold an operator) stays small.
    user: Arc<platform_user::Model>,
    session: Arc<platform_session::Model>,
    now: DateTime<Utc>,
}

/// An operator of this console (not a person of the tenant plane: see `User`).
#[Object]
impl Operator {
    /// The global id. `node(id:)` answers it to the operator it names and to nobody
    /// else: operators are not a directory of this console.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::Operator.id(self.user.id)
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.user.id
    }

    /// The display name.
    async fn name(&self) -> &str {
        &self.user.name
    }

    /// The e-mail address the operator logs in with.
    async fn email(&self) -> &str {
        &self.user.email
    }

    /// The capabilities granted to the operator: `console.view`, `audit.view`,
    /// `runs.triage`, `sensitive.view`, `break_glass.use`.
    async fn capabilities(&self) -> Vec<&'static str> {
        auth::stored_capabilities(&self.user)
            .into_iter()
            .map(|capability| capability.name())
            .collect()
    }

    /// What this session may do now: the granted capabilities, plus `sensitive.view` and
    /// `audit.view` while break-glass lasts.
    async fn effective_capabilities(&self) -> Vec<&'static str> {
        self.viewer()
            .capabilities()
            .into_iter()
            .map(|capability| capability.name())
            .collect()
    }

    /// This session's break-glass elevation.
    async fn break_glass(&self) -> BreakGlass {
        BreakGlass::of(&self.session, self.now)
    }
}

impl Operator {
    /// The operator of `viewer`'s session.
    pub(crate) fn of_viewer(viewer: &auth::Viewer, now: DateTime<Utc>) -> Self {
        Self {
            user: Arc::new(viewer.user.clone()),
            session: Arc::new(viewer.session.clone()),
            now,
        }
    }

    fn viewer(&self) -> auth::Viewer {
        auth::Viewer {
            user: (*self.user).clone(),
            session: (*self.session).clone(),
            now: self.now,
        }
    }
}

/// A break-glass elevation: for a stated reason, a session reads sensitive fields and
/// the audit trail until the elevation expires or is exited. Entering, exiting and
/// expiring are audited.
#[derive(SimpleObject, Clone)]
pub(crate) struct BreakGlass {
    /// Whether the elevation lasts now.
    pub(crate) active: bool,
    /// When it began; null if the session never entered break-glass.
    pub(crate) started_at: Option<DateTime<Utc>>,
    /// When it ends (or ended).
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// Why it was entered.
    pub(crate) reason: Option<String>,
}

impl BreakGlass {
    fn of(session: &platform_session::Model, now: DateTime<Utc>) -> Self {
        let elevation = Elevation::of(session);
        Self {
            active: elevation.active_at(now),
            started_at: elevation.started_at,
            expires_at: elevation.expires_at,
            reason: elevation.reason,
        }
    }
}

/// A new session.
#[derive(SimpleObject)]
pub(crate) struct LoginPayload {
    /// The bearer token: send it as `Authorization: Bearer <token>`. It is shown once;
    /// the service keeps only its SHA-256.
    pub(crate) token: String,
    /// When the session ends.
    pub(crate) expires_at: DateTime<Utc>,
    /// The operator logged in.
    pub(crate) operator: Operator,
}

/// Query root for the operator.
#[derive(Default)]
pub(crate) struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The operator of this request's session.
    #[graphql(guard = "CONSOLE")]
    async fn viewer(&self, ctx: &Context<'_>) -> AppResult<Operator> {
        let scope = Scope::of(ctx)?;
        Ok(Operator::of_viewer(guards::viewer(ctx)?, scope.now))
    }
}

/// Mutations of the operator's session.
#[derive(Default)]
pub(crate) struct SessionMutation;

/// The name of [`SessionMutation`]'s `login`: with introspection, the only root field a
/// request may use without a session. A unit test of the server ties it to the schema.
pub(crate) const LOGIN_FIELD: &str = "login";

#[Object]
impl SessionMutation {
    /// Opens a session. Every attempt is audited; a failure says only "invalid
    /// credentials" (`UNAUTHENTICATED`), and after 5 failures for one e-mail within 15
    /// minutes further attempts are refused with `RATE_LIMITED`.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The operator's e-mail address (case does not matter).")] email: String,
        #[graphql(desc = "The operator's password.", secret)] password: String,
    ) -> AppResult<LoginPayload> {
        let scope = Scope::of(ctx)?;
        let ttl = Duration::hours(i64::from(
            scope.config.system_console.auth.session_ttl_hours,
        ));
        let attempt =
            login::login(&scope.db, &email, &password, ttl, scope.now, &scope.origin).await;
        let outcome = match &attempt {
            Ok(_) => Some(LoginOutcome::Succeeded),
            Err(AppError::RateLimited(_)) => Some(LoginOutcome::Throttled),
            Err(AppError::Unauthenticated(_) | AppError::BadUserInput(_)) => {
                Some(LoginOutcome::Failed)
            }
            // The database failed, not the credentials: no attempt was judged.
            Err(_) => None,
        };
        if let Some(outcome) = outcome {
            scope.metrics.login(outcome);
        }
        let session = attempt?;
        Ok(LoginPayload {
            token: session.token,
            expires_at: session.session.expires_at,
            operator: Operator {
                user: Arc::new(session.user),
                session: Arc::new(session.session),
                now: scope.now,
            },
        })
    }

    /// Ends this session (audited once). The token stops working at once. Always true:
    /// logging out a session already ended changes nothing.
    #[graphql(guard = "SIGNED_IN")]
    async fn logout(&self, ctx: &Context<'_>) -> AppResult<bool> {
        let scope = Scope::of(ctx)?;
        login::logout(&scope.db, guards::viewer(ctx)?, scope.now).await?;
        Ok(true)
    }

    /// Elevates this session to read sensitive fields and the audit trail, for
    /// `durationMinutes` (at most `settings.breakGlassMaxMinutes`). Audited with the
    /// reason. Needs `break_glass.use`.
    #[graphql(guard = "Needs(&[auth::Capability::ConsoleView, auth::Capability::BreakGlassUse])")]
    async fn enter_break_glass(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Why, kept in the audit trail: at most 500 characters once trimmed, at least 5 of them visible (spaces and invisible marks do not count)."
        )]
        reason: Text,
        #[graphql(desc = "How long, in minutes.", default_with = "Some(30)")]
        duration_minutes: Option<i32>,
    ) -> AppResult<BreakGlass> {
        let scope = Scope::of(ctx)?;
        let max = scope.config.system_console.break_glass.max_minutes;
        let viewer = guards::viewer(ctx)?;
        let minutes = duration_minutes.unwrap_or(30);
        let session =
            break_glass::enter(&scope.db, viewer, &reason, minutes, max, scope.now).await?;
        Ok(BreakGlass::of(&session, scope.now))
    }

    /// Ends this session's break-glass elevation now (audited). Without one, changes
    /// nothing.
    #[graphql(guard = "SIGNED_IN")]
    async fn exit_break_glass(&self, ctx: &Context<'_>) -> AppResult<BreakGlass> {
        let scope = Scope::of(ctx)?;
        let session = break_glass::exit(&scope.db, guards::viewer(ctx)?, scope.now).await?;
        Ok(BreakGlass::of(&session, scope.now))
    }
}
