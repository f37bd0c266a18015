//! The runkv store server.

pub mod clock;
pub mod store;
