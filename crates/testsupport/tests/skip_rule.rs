//! The skip rule as the person running the tests meets it: this test binary runs its own
//! ignored `missing_dependency` test as a child process (libtest capturing its output, as in a
//! normal `cargo test`) under each setting of the skip variable and `CI`.

use std::process::Command;

use optrom_testsupport::needs;

/// A test whose dependency is missing; the outcome is the parent's to judge.
#[test]
#[ignore = "run by the tests below as a child process"]
fn missing_dependency() {
    if !needs("TESTSUPPORT_PROBE", false, "the probe's dependency") {
        return;
    }
    unreachable!("needs returned true for a missing dependency");
}

/// Runs `missing_dependency` with the skip variable and `CI` as given (unset when `None`);
/// returns (passed, stdout + stderr).
fn child(skip: Option<&str>, ci: Option<&str>) -> (bool, String, String) {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--ignored", "--exact", "missing_dependency", "--test-threads=1"]);
    c.env_remove("OPTROM_SKIP_TESTSUPPORT_PROBE").env_remove("CI");
    if let Some(v) = skip {
        c.env("OPTROM_SKIP_TESTSUPPORT_PROBE", v);
    }
    if let Some(v) = ci {
        c.env("CI", v);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_fails_without_the_skip_variable() {
    let (passed, out, _) = child(None, None);
    assert!(!passed, "{out}");
    assert!(
        out.contains("the probe's dependency is missing") && out.contains("OPTROM_SKIP_TESTSUPPORT_PROBE=1 skips"),
        "{out}"
    );
}

#[test]
fn only_1_skips() {
    for value in ["0", "true", "yes", ""] {
        let (passed, out, err) = child(Some(value), None);
        assert!(!passed, "OPTROM_SKIP_TESTSUPPORT_PROBE={value:?} must not skip: {out}");
        assert!(!err.contains("SKIPPED"), "{err}");
    }
}

#[test]
fn skip_says_skipped_on_the_real_stderr() {
    let (passed, out, err) = child(Some("1"), None);
    assert!(passed, "{out}{err}");
    // On the process's stderr although libtest captured the test's output.
    assert!(
        err.contains(
            "SKIPPED: missing_dependency: the probe's dependency is missing (OPTROM_SKIP_TESTSUPPORT_PROBE=1)"
        ),
        "{err}"
    );
}

#[test]
fn ci_true_never_skips() {
    let (passed, out, err) = child(Some("1"), Some("true"));
    assert!(!passed, "{out}");
    assert!(out.contains("CI=true: never skipped") && !err.contains("SKIPPED"), "{out}{err}");
    // Any other CI value does not stop the skip.
    let (passed, _, err) = child(Some("1"), Some("false"));
    assert!(passed && err.contains("SKIPPED"), "{err}");
}
