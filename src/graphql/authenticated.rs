//! Authentication, after the document is validated (so a document refused for its
//! depth, its cost or any rule of validation runs no SQL at all) and before any
//! resolver: the roots are wrapped in [`Authenticated`], whose first field to resolve
//! identifies the operator, once per request. Everything but `login` (and
//! introspection) needs a live session.
//!
//! Not an async-graphql extension: with any extension in the schema, async-graphql
//! resolves every field through its slower per-field path (a registry lookup and a
//! boxed future per field), one of the leads of the tenant board's profile (issue #13).

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_container;
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, ObjectType, OutputType, Positioned, ServerResult,
    Value,
};

use super::scope::Scope;
use crate::auth::request::Credentials;
use crate::error::AppError;

/// A root type whose fields resolve only once the request is authenticated.
#[derive(Default)]
pub struct Authenticated<T>(T);

impl<T: ObjectType> ContainerType for Authenticated<T> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let refusal = match ctx.data::<Scope>() {
            Ok(scope) => scope.authenticated(ctx.data::<Credentials>().ok()).await,
            Err(_) => Some(AppError::internal(anyhow::anyhow!(
                "request scope is missing"
            ))),
        };
        if let Some(refusal) = refusal {
            return Err(async_graphql::Error::from(refusal).into_server_error(ctx.item.pos));
        }
        self.0.resolve_field(ctx).await
    }
}

impl<T: ObjectType> OutputType for Authenticated<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl<T: ObjectType> ObjectType for Authenticated<T> {}
