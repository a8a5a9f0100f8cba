//! The compile-time contract of `#[derive(Job)]`: what compiles, and the error that each
//! misuse gets, one case per file under `ui/pass` and `ui/fail/<category>`.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p zerog-tests --test ui`,
//! then read them: each should show only the intended error, at the right span.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*/*.rs");
}
