//! Authentication building blocks: password hashing, the opaque secrets handed to clients
//! (refresh tokens, API keys, invitations) and signed access tokens.

pub mod jwt;
pub mod password;
pub mod secrets;
pub mod sign_in;
