//! Sightline's text intelligence (SPEC TXT-1..3) as plain functions: texts in, scores out —
//! no database, HTTP or model runtime. The server's scoring worker and the `sightline text`
//! command call these.

pub mod hutto;
pub mod insights;
pub mod sentiment;
pub mod train;
pub mod vader;
