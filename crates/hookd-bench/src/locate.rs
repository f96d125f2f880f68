//! Finding the `hookd` binary to start, and building it first when the harness itself was
//! started by `cargo run`.
//!
//! Cargo cannot (on stable) make one binary depend on another package's binary, so
//! `cargo run --release -p hookd-bench` builds only the harness. When run that way (cargo sets
//! `CARGO` in the environment) the harness first runs `cargo build -p hookd -p hookd-bench` for
//! the same profile and target directory: a no-op when hookd is up to date, and what makes one
//! command work on a fresh clone. Naming both packages makes features unify exactly as in the
//! harness's own build, so only hookd's `main.rs` is compiled extra, no shared dependency twice.
//! Started any other way, the harness uses the `hookd` next to its own executable (or
//! `--hookd-bin`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// What `cargo run` sets for the program it runs (besides `CARGO_PKG_*`).
const RUN_VARIABLES: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "OUT_DIR",
];

/// The hookd binary to start.
pub fn hookd_binary(explicit: Option<&Path>, allow_build: bool) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return explicit_binary(path);
    }
    let exe = std::env::current_exe().context("locating the hookd-bench executable")?;
    let binary = exe.with_file_name(format!("hookd{}", std::env::consts::EXE_SUFFIX));
    if allow_build {
        if let Some(cargo) = std::env::var_os("CARGO") {
            build_with_cargo(Path::new(&cargo), &exe)?;
        }
    }
    if !binary.is_file() {
        bail!(
            "{} does not exist: build it with `cargo build --release -p hookd -p hookd-bench`, \
             or pass --hookd-bin",
            binary.display()
        );
    }
    Ok(binary)
}

/// `--hookd-bin`, made absolute: the server is started inside its temporary data directory, where
/// a path relative to the caller's directory would name nothing.
fn explicit_binary(path: &Path) -> anyhow::Result<PathBuf> {
    let absolute =
        std::fs::canonicalize(path).with_context(|| format!("--hookd-bin {}", path.display()))?;
    if !absolute.is_file() {
        bail!("--hookd-bin {} is not a file", path.display());
    }
    Ok(absolute)
}

/// `cargo build -p hookd -p hookd-bench` into the directory this executable was built into.
fn build_with_cargo(cargo: &Path, exe: &Path) -> anyhow::Result<()> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hookd/Cargo.toml");
    let (Some(profile_dir), true) = (exe.parent(), manifest.is_file()) else {
        // Not inside the source tree it was built from: nothing to build.
        return Ok(());
    };
    let Some(target_dir) = profile_dir.parent() else {
        return Ok(());
    };
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("release");
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        // Both packages, so features unify exactly as for the harness itself (a superset of
        // hookd's graph): the shared dependencies are reused, not built a second time.
        .args(["-p", "hookd", "-p", "hookd-bench"])
        .arg("--target-dir")
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    // `cargo run` gave this process the harness's package variables; build scripts (ring's, for
    // one) track some of them, so passing them on would rebuild half the tree, twice per run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if RUN_VARIABLES.contains(&name.as_ref()) || name.starts_with("CARGO_PKG_") {
            command.env_remove(name.as_ref());
        }
    }
    eprintln!("hookd-bench: making sure hookd is built (cargo build -p hookd -p hookd-bench, profile {profile})");
    let status = command
        .status()
        .with_context(|| format!("running {}", cargo.display()))?;
    if !status.success() {
        bail!("building hookd failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_binary_is_made_absolute() {
        // Tests run in the package's directory, where `Cargo.toml` is a relative path.
        let found = hookd_binary(Some(Path::new("Cargo.toml")), false).unwrap();
        assert!(found.is_absolute(), "{}", found.display());
        assert!(
            found.ends_with("hookd-bench/Cargo.toml"),
            "{}",
            found.display()
        );
    }

    #[test]
    fn a_missing_binary_or_a_directory_is_refused() {
        let missing = hookd_binary(Some(Path::new("no/such/hookd")), false).unwrap_err();
        assert!(
            format!("{missing:#}").contains("--hookd-bin no/such/hookd"),
            "{missing:#}"
        );
        let dir = hookd_binary(Some(Path::new("src")), false).unwrap_err();
        assert!(format!("{dir:#}").contains("is not a file"), "{dir:#}");
    }
}
