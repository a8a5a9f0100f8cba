//! The compile-time contract of `#[derive(Job)]`: what compiles, and the error that each
//! misuse gets, one case per file under `ui/pass` and `ui/fail/<category>`; and a
//! user's crate outside the workspace (`outside/`), built on the public API alone.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p zerog-tests --test ui`,
//! then read them: each should show only the intended error, at the right span.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*/*.rs");
}

/// A user's crate outside the workspace (`outside/`), with a path dependency on zerog,
/// builds against the public API alone: nothing a user needs is behind `__private` or
/// in this crate. It is checked from a copy, with the workspace's lock file, offline.
#[test]
fn outside() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace");
    let copy = tempfile::tempdir().expect("a temporary directory");
    let manifest = std::fs::read_to_string(workspace.join("tests/outside/Cargo.toml"))
        .expect("the fixture's manifest");
    let zerog = workspace.join("zerog");
    let manifest = manifest.replace(
        "path = \"../../zerog\"",
        &format!("path = {:?}", zerog.display().to_string()),
    );
    assert!(manifest.contains(&zerog.display().to_string()));
    std::fs::write(copy.path().join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), copy.path().join("Cargo.lock")).unwrap();
    std::fs::create_dir(copy.path().join("src")).unwrap();
    std::fs::copy(
        workspace.join("tests/outside/src/main.rs"),
        copy.path().join("src/main.rs"),
    )
    .unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("outside");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["check", "--offline", "--quiet", "--manifest-path"])
        .arg(copy.path().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "the crate outside the workspace does not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
