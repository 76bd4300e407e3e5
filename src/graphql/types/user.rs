//! `User`: a person of the tenant plane.

use std::sync::Arc;

use async_graphql::{ID, Object};
use entity::user;

use crate::graphql::ids::NodeKind;

#[derive(Clone)]
pub(crate) struct User {
    pub(crate) model: Arc<user::Model>,
}

super::row_object!(User, user);

/// A person of the tenant plane: a member of workspaces who may start runs. (Operators of
/// this console are `Operator`s, not users.)
#[Object]
impl User {
    /// The global id, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::User.id(self.model.id)
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.model.id
    }

    /// The display name.
    async fn name(&self) -> &str {
        &self.model.name
    }

    /// The e-mail address, unique.
    async fn email(&self) -> &str {
        &self.model.email
    }
}
