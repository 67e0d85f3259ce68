//! Kamailio (Debian package `kamailio`) as the SIP front of a cluster, with the repo's
//! own configuration (deploy/kamailio/kamailio.cfg) and a dispatcher list of the test's
//! hosts. Phones talk to [`Front::addr`]; the front spreads them over the hosts.

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Server;

/// A running Kamailio front, stopped when dropped.
pub struct Front {
    child: Child,
    /// Where phones send their SIP.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

fn config() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/kamailio/kamailio.cfg"))
}

impl Front {
    /// A front before `hosts`, answering once it relays an OPTIONS to one of them.
    pub fn start(hosts: &[&Server]) -> Front {
        let port = super::free_port_tcp_udp();
        Front::start_on(format!("127.0.0.1:{port}").parse().unwrap(), hosts)
    }

    /// [`Front::start`] listening on `addr` (another loopback address than the hosts' and
    /// the phones' 127.0.0.1 tells what the front relays from what it does not).
    pub fn start_on(addr: SocketAddr, hosts: &[&Server]) -> Front {
        let hosts: Vec<SocketAddr> = hosts.iter().map(|host| host.sip_addr).collect();
        Front::start_over(addr, &hosts)
    }

    /// [`Front::start_on`] over hosts given by their SIP addresses (one may be a sipp
    /// playing a host).
    pub fn start_over(addr: SocketAddr, hosts: &[SocketAddr]) -> Front {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("dispatcher.list");
        let lines: String = hosts.iter().map(|host| format!("1 sip:{host}\n")).collect();
        std::fs::write(&list, lines).unwrap();
        let log = std::fs::File::create(dir.path().join("kamailio.log")).unwrap();
        let child = Command::new("kamailio")
            .args(["-DD", "-E", "-m", "64", "-M", "8", "-f"])
            .arg(config())
            .args(["-l", &format!("udp:{addr}"), "-w"])
            .arg(dir.path())
            .args(["-P"])
            .arg(dir.path().join("kamailio.pid"))
            .arg("-A")
            .arg(format!("DISPATCHER_LIST=\"{}\"", list.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group: Kamailio forks workers (the dispatcher's OPTIONS
            // pinger among them) that outlive a killed main process and would ping
            // ports later tests reuse. Dropping the front kills the whole group.
            .process_group(0)
            .spawn()
            .expect("start kamailio (Debian package kamailio)");
        let mut front = Front { child, addr, dir };
        front.wait_relaying();
        front
    }

    /// Send OPTIONS through the front until a host's answer comes back.
    fn wait_relaying(&mut self) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let local = socket.local_addr().unwrap();
        let started = Instant::now();
        let mut buffer = [0u8; 4096];
        for attempt in 0.. {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("kamailio exited with {status}:\n{}", self.log());
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the front never relayed:\n{}", self.log());
            let options = format!(
                "OPTIONS sip:{addr} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-ready{attempt};rport\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:{addr}>\r\n\
                 Call-ID: ready-{attempt}@{local}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                addr = self.addr
            );
            socket.send_to(options.as_bytes(), self.addr).unwrap();
            if let Ok((n, _)) = socket.recv_from(&mut buffer)
                && buffer[..n].starts_with(b"SIP/2.0 200")
            {
                return;
            }
        }
    }

    /// Kamailio's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        // The group's id is the main process's: every worker goes with it.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- kamailio log ----\n{}\n---- end of kamailio log ----", self.log());
        }
    }
}
