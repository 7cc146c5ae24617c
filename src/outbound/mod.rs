//! Outbound mail: rendering, composition, DKIM and calendar parts (pure), and the campaign
//! and sending engine that put them on the wire (`campaign`, `sender`).

pub mod campaign;
pub mod compose;
pub mod dkim;
pub mod greeting;
pub mod ics;
pub mod occasion;
pub mod occasion_mails;
pub mod render;
pub mod request;
pub mod sender;
