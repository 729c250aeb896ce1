//! Settings: members and invitations, API keys, the audit log (SPEC TEN-1, AUTH-3, AUTH-6).

mod pages;
pub mod server_fns;

pub use pages::{ApiKeysPage, AuditLogPage, MembersPage};
pub use server_fns::Flash;
