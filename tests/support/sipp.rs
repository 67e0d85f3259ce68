//! sipp (Debian package sip-tester) as the phones and the trunk provider of the black-box
//! call tests: scenario templates in tests/sipp/ whose placeholder is filled with a
//! `.steps` file and values, a registered device (sipp in server mode on the port it
//! registered from), callers and the provider placing calls.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{Server, SippRegister};

pub use super::baresip::DOMAIN;
/// acme's account at its trunk provider.
pub const TRUNK_USER: &str = "acme-trunk";
pub const TRUNK_PASSWORD: &str = "trunk-secret";

pub fn sipp_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/sipp"))
}

/// A scenario file in `dir`: `template` with `placeholder` replaced by the `.steps` file
/// `steps` and then each of `values` (placeholder, text).
pub fn scenario(
    dir: &Path,
    template: &str,
    placeholder: &str,
    steps: &str,
    values: &[(&str, &str)],
) -> PathBuf {
    let read = |name: &str| std::fs::read_to_string(sipp_dir().join(name)).unwrap();
    let mut text = read(template).replace(placeholder, &read(&format!("{steps}.steps")));
    for (name, value) in values {
        text = text.replace(name, value);
    }
    let path = dir.join(format!("{steps}.xml"));
    std::fs::write(&path, text).unwrap();
    path
}

pub fn sipp_output(output: &Output, dir: &Path) -> String {
    let errors = std::fs::read_to_string(dir.join("errors.log")).unwrap_or_default();
    format!(
        "{}\n{}\n{errors}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Register `extension` from 127.0.0.1:`port` (sipp's register scenario, once).
pub fn register(server: &Server, extension: &str, password: &str, contact_user: &str, port: u16) {
    let (ok, log) = SippRegister::new(&[[extension, password, DOMAIN]], 200)
        .source_port(port)
        .contact_user(contact_user)
        .timeout_s(10)
        .run(server);
    assert!(ok, "registering {extension} failed:\n{log}");
}

/// A registered device: sipp in server mode on the port it registered from, handling
/// `calls` calls with `behaviour` (callee_<behaviour>.steps).
pub struct Device {
    child: Child,
    dir: tempfile::TempDir,
}

impl Device {
    pub fn start(server: &Server, extension: &str, password: &str, behaviour: &str, calls: usize) -> Device {
        Device::start_as(server, extension, password, extension, behaviour, calls)
    }

    pub fn start_as(
        server: &Server,
        extension: &str,
        password: &str,
        contact_user: &str,
        behaviour: &str,
        calls: usize,
    ) -> Device {
        Device::start_with(server, extension, password, contact_user, behaviour, calls, &[])
    }

    /// [`Device::start_as`] with `values` replaced in the scenario (e.g. `[media_port]`
    /// by a port the test listens on, to receive the RTP sent to the device).
    pub fn start_with(
        server: &Server,
        extension: &str,
        password: &str,
        contact_user: &str,
        behaviour: &str,
        calls: usize,
        values: &[(&str, &str)],
    ) -> Device {
        let port = super::free_port_tcp_udp();
        register(server, extension, password, contact_user, port);
        let dir = tempfile::tempdir().unwrap();
        let path =
            scenario(dir.path(), "callee.xml", "BEHAVIOUR_STEPS", &format!("callee_{behaviour}"), values);
        Device::spawn(dir, &path, port, calls)
    }

    /// sipp in server mode running `path` for `calls` calls on `port`, with its files in
    /// `dir` (kept as long as the device).
    pub fn spawn(dir: tempfile::TempDir, path: &Path, port: u16, calls: usize) -> Device {
        Device::serve(dir, path, port, &["-m", &calls.to_string(), "-timeout", "60", "-timeout_error"])
    }

    /// sipp in server mode running `path` on `port` with `options` (how many calls, for
    /// how long, which traces), with its files in `dir` (kept as long as the device);
    /// returns once sipp listens.
    pub fn serve(dir: tempfile::TempDir, path: &Path, port: u16, options: &[&str]) -> Device {
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(path)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(options)
            .args(["-mp", &super::free_media_ports().to_string()])
            .args(["-nostdin", "-trace_err", "-error_file"])
            .arg(dir.path().join("errors.log"))
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sipp (package sip-tester; scripts/test.sh installs it)");
        let mut device = Device { child, dir };
        device.wait_bound(port);
        device
    }

    /// Wait until sipp has bound its UDP port (a loaded machine can take seconds to start
    /// it; a call rung before would find nobody): the port shows in /proc/net/udp.
    fn wait_bound(&mut self, port: u16) {
        let listed = format!(":{port:04X} ");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
            if table.lines().any(|line| {
                line.split_whitespace().nth(1).is_some_and(|local| format!("{local} ").ends_with(&listed))
            }) {
                return;
            }
            if self.child.try_wait().unwrap().is_some() {
                return; // Its failure shows when the test finishes the device.
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the device's calls to end; its exit status and log.
    pub fn finish(mut self) -> (bool, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                let output = self.child.wait_with_output().unwrap();
                return (output.status.success(), sipp_output(&output, self.dir.path()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let output = self.child.wait_with_output().unwrap();
        (false, format!("device did not finish:\n{}", sipp_output(&output, self.dir.path())))
    }

    /// The trunk provider on `port` (tests/sipp/provider_uas.xml): it expects `caller_id`
    /// in From and acme's trunk credentials, then answers one call.
    pub fn provider(port: u16, caller_id: &str) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let template = std::fs::read_to_string(sipp_dir().join("provider_uas.xml")).unwrap();
        let path = dir.path().join("provider_uas.xml");
        let text = template
            .replace("CALLER_ID", caller_id)
            .replace("TRUNK_USER", TRUNK_USER)
            .replace("TRUNK_PASSWORD", TRUNK_PASSWORD);
        std::fs::write(&path, text).unwrap();
        Device::spawn(dir, &path, port, 1)
    }

    /// Stop a device that should have had nothing to do: its success (false when it
    /// handled no call) and log.
    pub fn finish_quickly(mut self) -> (bool, String) {
        std::thread::sleep(Duration::from_millis(300));
        if self.child.try_wait().unwrap().is_none() {
            let _ = self.child.kill();
        }
        let output = self.child.wait_with_output().unwrap();
        (output.status.success(), sipp_output(&output, self.dir.path()))
    }

    /// Where sipp writes its files (logs, traces).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The trunk provider's registrar: sipp answering every REGISTER 200 at once
/// (tests/sipp/provider_registrar_open.xml) and logging each one's Contact, until dropped.
pub struct OpenRegistrar {
    /// Taken when the registrar is dropped, to stop sipp.
    sipp: Option<Device>,
    pub port: u16,
}

impl OpenRegistrar {
    pub fn start() -> OpenRegistrar {
        let dir = tempfile::tempdir().unwrap();
        let scenario = sipp_dir().join("provider_registrar_open.xml");
        let port = super::free_port_tcp_udp();
        let sipp = Device::serve(dir, &scenario, port, &["-trace_logs"]);
        OpenRegistrar { sipp: Some(sipp), port }
    }

    /// The host:port of every Contact that registered (an un-REGISTER, Expires 0, removes
    /// its contact again), in the order first seen.
    pub fn registered(&self) -> Vec<String> {
        let mut contacts: Vec<String> = Vec::new();
        let Some(sipp) = &self.sipp else { return contacts };
        for entry in std::fs::read_dir(sipp.dir()).unwrap().flatten() {
            if !entry.file_name().to_string_lossy().ends_with("_logs.log") {
                continue;
            }
            for line in std::fs::read_to_string(entry.path()).unwrap_or_default().lines() {
                let Some(rest) = line.split("REGISTER contact=").nth(1) else { continue };
                let (contact, expires) = rest.split_once(" expires=").unwrap_or((rest, ""));
                contacts.retain(|c| c != contact);
                if expires.split_whitespace().next() != Some("0") {
                    contacts.push(contact.to_string());
                }
            }
        }
        contacts
    }
}

impl Drop for OpenRegistrar {
    fn drop(&mut self) {
        if let Some(sipp) = self.sipp.take() {
            sipp.stop();
        }
    }
}

/// Place `calls` calls from `extension` to `dialled` with the caller `outcome` steps
/// (caller_<steps>.steps) and `values` for its placeholders; sipp's success and log.
pub fn call(
    server: &Server,
    extension: &str,
    password: &str,
    dialled: &str,
    steps: &str,
    values: &[(&str, &str)],
    calls: usize,
) -> (bool, String) {
    call_with(server, extension, password, dialled, steps, values, calls, &[])
}

/// [`call`] with extra sipp arguments (e.g. `-t t1` for TCP).
#[allow(clippy::too_many_arguments)]
pub fn call_with(
    server: &Server,
    extension: &str,
    password: &str,
    dialled: &str,
    steps: &str,
    values: &[(&str, &str)],
    calls: usize,
    extra: &[&str],
) -> (bool, String) {
    let line = format!("{extension};{password};{DOMAIN};{dialled}");
    run_caller(server, "caller.xml", &format!("caller_{steps}"), values, &line, calls, extra)
}

/// Run sipp as a client against the server: the `template` scenario with the `steps`
/// outcome and `values`, one `-inf` line `fields`, `calls` calls at most all at once.
pub fn run_caller(
    server: &Server,
    template: &str,
    steps: &str,
    values: &[(&str, &str)],
    fields: &str,
    calls: usize,
    extra: &[&str],
) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("fields.csv");
    std::fs::write(&csv, format!("SEQUENTIAL\n{fields}\n")).unwrap();
    let path = scenario(dir.path(), template, "OUTCOME_STEPS", steps, values);
    let output = Command::new("sipp")
        .arg(server.sip_addr.to_string())
        .arg("-sf")
        .arg(&path)
        .arg("-inf")
        .arg(&csv)
        .args(["-i", "127.0.0.1", "-p", &super::free_port_tcp_udp().to_string()])
        .args(["-mp", &super::free_media_ports().to_string()])
        .args(["-m", &calls.to_string(), "-l", &calls.to_string(), "-r", "50"])
        .args(extra)
        .args(["-timeout", "60", "-timeout_error", "-nostdin", "-trace_err", "-error_file"])
        .arg(dir.path().join("errors.log"))
        .current_dir(dir.path())
        .output()
        .expect("run sipp");
    (output.status.success(), sipp_output(&output, dir.path()))
}

/// Deliver `calls` calls from the trunk provider (a sipp on 127.0.0.1) to `did`, with
/// the provider_<steps>.steps outcome.
pub fn provider_call(
    server: &Server,
    did: &str,
    steps: &str,
    values: &[(&str, &str)],
    calls: usize,
) -> (bool, String) {
    provider_call_from(server, did, "34600111222", steps, values, calls)
}

/// [`provider_call`] from the outside number `caller`.
pub fn provider_call_from(
    server: &Server,
    did: &str,
    caller: &str,
    steps: &str,
    values: &[(&str, &str)],
    calls: usize,
) -> (bool, String) {
    run_caller(
        server,
        "provider.xml",
        &format!("provider_{steps}"),
        values,
        &format!("{did};{caller}"),
        calls,
        &[],
    )
}
