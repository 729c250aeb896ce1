//! One module per page.

mod landing;
mod not_found;
mod sign_in;

pub use landing::Landing;
pub use not_found::NotFound;
pub use sign_in::SignIn;
