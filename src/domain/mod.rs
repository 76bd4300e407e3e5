//! Pure rules of the product: no database, no clock, no GraphQL. Each takes its inputs
//! (and the request's `now`, where time matters) and is unit-tested beside its code.

pub(crate) mod audit;
pub(crate) mod criteria;
pub(crate) mod failure;
pub(crate) mod health;
pub(crate) mod redact;
pub(crate) mod status;
pub(crate) mod stuck;
pub(crate) mod summary;
pub(crate) mod text;
pub(crate) mod window;
