//! Webhook delivery: signing, the address guard, the retry schedule, and the dispatcher that
//! claims queued deliveries, sends them and records what happened.

pub mod delivery;
pub mod dispatcher;
pub mod guard;
pub mod recorder;
pub mod schedule;
pub mod signing;

pub use dispatcher::{Dispatcher, DispatcherConfig};
