//! Flowgate's storage. One [`Store`] trait; [`SqlStore`] implements it on SQLite (the embedded
//! default) and on PostgreSQL (for several server replicas) from one body of SQL, with the
//! differences between the two kept in [`Backend`]. Only the server opens a store.

mod backend;
pub mod model;
mod schema;
pub mod sql;
mod sql_store;
mod store;

pub use backend::Backend;
pub use sql_store::{SqlStore, open};
pub use store::{DynStore, Store, StoreError};
