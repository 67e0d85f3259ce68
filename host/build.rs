//! Builds the guest crates — the standard modules in `modules/`, the examples and the
//! test modules — as wasm32-wasip2 components, so a plain `cargo build` gives a runnable
//! host with its standard modules embedded. The guests are built by a nested cargo with
//! its own target directory (`target/guests`), as wasmtime's test-programs crate does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

const GUEST_TARGET: &str = "wasm32-wasip2";

fn main() {
    let host_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = host_dir.parent().expect("host/ sits in the workspace root").to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out.
    let target_dir = out_dir.ancestors().nth(4).expect("OUT_DIR lies inside the target directory");
    let guests_target = target_dir.join("guests");

    let standard = crate_dirs(&root.join("modules"));
    let mut all = standard.clone();
    all.extend(crate_dirs(&root.join("examples")));
    all.extend(crate_dirs(&root.join("tests/modules")));

    for watched in ["wit", "guest-sdk", "modules", "examples", "tests/modules", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    build_guests(&root, &guests_target, &all);

    let release = guests_target.join(GUEST_TARGET).join("release");
    let mut source = String::from("/// Standard modules built from `modules/`: (name, component).\n");
    source.push_str("pub const STANDARD_MODULES: &[(&str, &[u8])] = &[\n");
    for name in &standard {
        let wasm = release.join(format!("{}.wasm", name.replace('-', "_")));
        source.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", wasm.display().to_string()));
    }
    source.push_str("];\n");
    fs::write(out_dir.join("standard_modules.rs"), source).expect("write standard_modules.rs");
}

/// Package names of the crates directly under `dir` (each folder is named after its package).
fn crate_dirs(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").exists())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn build_guests(root: &Path, guests_target: &Path, packages: &[String]) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--release", "--target", GUEST_TARGET, "--target-dir"])
        .arg(guests_target);
    for package in packages {
        command.args(["-p", package]);
    }
    // Settings meant for the host build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_LLVM_COV",
    ] {
        command.env_remove(var);
    }
    let output = command.output().expect("run cargo to build the guest modules");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-wasip2") && stderr.contains("target may not be installed") {
            "\n\nThe wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`."
        } else {
            ""
        };
        panic!("building the guest modules failed:\n{stderr}{hint}");
    }
}
