//! Sightline's domain types and rules: plain data in, plain data out, no I/O.
//!
//! Handlers parse input into these types first ("parse, don't validate"), so everything past
//! the edge can rely on an `Email` being an email and a `Slug` being a slug.

pub mod access;
pub mod email;
pub mod password;
pub mod records;
pub mod slug;

pub use access::{ApiKeyScope, Permission, Role};
pub use email::Email;
pub use password::{check_password, PasswordRejection};
pub use slug::Slug;
