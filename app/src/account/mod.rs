//! Signing in and out, registering, invitations and the organization switcher.

mod forms;
mod pages;
pub mod server_fns;

pub use forms::{encode_query_value, feedback, Feedback, FieldAlert, FormAlert};
pub use pages::{
    provide_viewer, viewer_resource, AcceptInvitationPage, AccountNav, Protected, RegisterPage, SignInPage,
    ViewerResource,
};
