//! `centralita module run`: an integrator runs a module on a recorded case without a
//! server, and gets the decision as JSON (or a failure on stderr and a nonzero exit).

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::{binary, guest_wasm};

fn case(caller: &str, at: &str) -> Value {
    json!({
        "call": {"caller": caller, "at": at, "time_zone": "Europe/Madrid"},
        "did": {
            "number": "34910000000",
            "rules": [
                {"order": 1, "weekday": "[1-5]", "start_time": "09:00", "end_time": "18:00",
                 "destination": {"extension": "101"}, "announcement": "welcome"},
                {"order": 2, "weekday": "[6-7]", "destination": {"extension": "102"}, "prefix": "WE:"}
            ],
            "default_destination": {"extension": "100"},
            "config": {}
        }
    })
}

/// Run `module run` on `wasm` with `case` written to a file, with a generous deadline: a
/// cold process's first decision can pass the default 10 ms on a loaded machine.
fn run(wasm: &Path, case: &Value) -> Output {
    run_with(wasm, case, &["--deadline-ms", "5000"])
}

/// Run `module run` with extra arguments.
fn run_with(wasm: &Path, case: &Value, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("case.json");
    std::fs::write(&input, serde_json::to_vec_pretty(case).unwrap()).expect("write the case");
    Command::new(binary())
        .args(["module", "run"])
        .arg(wasm)
        .args(["--decision", "did-routing", "--input"])
        .arg(&input)
        .args(extra)
        .output()
        .expect("run centralita module run")
}

/// The decision printed on stdout of a successful run.
#[track_caller]
fn decision(output: &Output, why: &str) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{why}: exit {}; stdout {stdout}; stderr {stderr}", output.status);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{why}: stdout is not JSON ({e}): {stdout}"))
}

#[test]
fn module_run_prints_the_decision_of_the_did_router() {
    let wasm = guest_wasm("did_router");
    // Wednesday 11:00 in Madrid.
    let office = decision(&run(&wasm, &case("600123456", "2026-11-18T10:00:00Z")), "office hours");
    assert_eq!(office["destination"], json!({"extension": "101"}), "{office}");
    assert_eq!(office["matched_rule"], 1, "{office}");
    assert_eq!(office["announcement"], "welcome", "{office}");
    assert!(office["caller_id_prefix"].is_null(), "{office}");
    // Wednesday 08:30 UTC is 09:30 in Madrid: the case's time zone is used.
    let early = decision(&run(&wasm, &case("600123456", "2026-11-18T08:30:00Z")), "09:30 in Madrid");
    assert_eq!(early["destination"], json!({"extension": "101"}), "{early}");
    // Saturday.
    let weekend = decision(&run(&wasm, &case("600123456", "2026-11-21T10:00:00Z")), "Saturday");
    assert_eq!(weekend["destination"], json!({"extension": "102"}), "{weekend}");
    assert_eq!(weekend["caller_id_prefix"], "WE:", "{weekend}");
    // Wednesday 23:00 in Madrid: no rule, the default destination.
    let night = decision(&run(&wasm, &case("600123456", "2026-11-18T22:00:00Z")), "night");
    assert_eq!(night["destination"], json!({"extension": "100"}), "{night}");
    assert!(night["matched_rule"].is_null(), "{night}");
}

#[test]
fn module_run_of_a_failing_module_exits_nonzero_with_the_error() {
    let wasm = guest_wasm("mischief");
    // The same module decides normally for an ordinary caller.
    let normal =
        decision(&run(&wasm, &case("600123456", "2026-11-18T10:00:00Z")), "mischief, ordinary caller");
    assert_eq!(normal["destination"], json!({"extension": "100"}), "{normal}");

    for (caller, words, extra) in [
        ("panic", &["panicked", "trap"][..], &["--deadline-ms", "5000"][..]),
        ("error", &["mischief refuses"][..], &["--deadline-ms", "5000"][..]),
        // The default deadline stops an endless loop.
        ("loop", &["deadline"][..], &[][..]),
    ] {
        let output = run_with(&wasm, &case(caller, "2026-11-18T10:00:00Z"), extra);
        let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
        assert!(
            !output.status.success(),
            "caller {caller:?}: exit 0; stdout {}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(
            words.iter().any(|w| stderr.contains(w)),
            "caller {caller:?}: stderr mentions none of {words:?}: {stderr}"
        );
    }
}

#[test]
fn module_run_refuses_what_is_not_a_router() {
    let case = case("600123456", "2026-11-18T10:00:00Z");
    let output = run(&guest_wasm("stranger"), &case);
    assert!(!output.status.success(), "stranger.wasm ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("exports none"), "stderr: {stderr}");

    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"not a component").unwrap();
    let output = run(&garbage, &case);
    assert!(!output.status.success(), "garbage ran");
    assert!(String::from_utf8_lossy(&output.stderr).contains("component"), "stderr: {:?}", output.stderr);

    let output = run(&dir.path().join("missing.wasm"), &case);
    assert!(!output.status.success(), "a missing file ran");
    assert!(!output.stderr.is_empty(), "no error for a missing file");
}
