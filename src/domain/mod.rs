//! Pure rules of the product: no database, no clock, no GraphQL. Each takes its inputs
//! (and the request's `now`, where time matters) and is unit-tested beside its code.

pub mod audit;
pub mod criteria;
pub mod failure;
pub mod health;
pub mod redact;
pub mod status;
pub mod stuck;
pub mod summary;
pub mod text;
pub mod window;
