//! `sqlx::migrate!` embeds `migrations/`; a migration added there must rebuild the
//! server even when no Rust file changed. (The first-party plugins are built by the
//! `sanctuary-plugins` crate's build script.)

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
