//! Outbound mail: rendering, composition and calendar parts (pure, no I/O).

pub mod campaign;
pub mod compose;
pub mod dkim;
pub mod greeting;
pub mod ics;
pub mod render;
pub mod sender;
