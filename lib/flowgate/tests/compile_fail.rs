//! Misusing `#[flow]` or `#[task]` is a compile error that says what to write instead.

#[test]
fn misuse_is_explained() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}
