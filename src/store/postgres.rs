//! The PostgreSQL backend.

use std::sync::Arc;

use super::{Store, StoreError, StoreResult};

pub async fn open(_url: &str, _max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    Err(StoreError::Invalid(
        "the PostgreSQL backend is not built yet".to_owned(),
    ))
}
