//! Compile-time guarantees: every rejected input has a case in `tests/ui` whose `.stderr` is the
//! message a user reads.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
