// `sqlx::migrate!` embeds the migrations at compile time but only notices edits to files it
// already embedded; this makes a new migration file rebuild the server too.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
