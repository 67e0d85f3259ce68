//! `centralita serve` settings: command-line flags, else environment variables, else a
//! TOML file (`--config`), else the embedded defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::mail::MailSettings;
use crate::media::ports::PortRange;
use crate::security::settings::{
    BanSettings, BanSettingsError, DEFAULT_BAN_DURATION_S, DEFAULT_BAN_FAILURES, DEFAULT_BAN_WINDOW_S,
};

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./centralita-data";
/// Default HTTP API address.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";
/// Default SIP address.
pub const DEFAULT_SIP_LISTEN: &str = "0.0.0.0:5060";
/// The fewest threads running calls and the API when `workers` is not set.
pub const MIN_WORKERS: usize = 4;
/// The longest a stopping host waits for its calls (`drain_timeout_s`): a day.
pub const MAX_DRAIN_TIMEOUT_S: u64 = 86_400;

/// Flags of `centralita serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Directory of the database, compiled modules and the operator token.
    #[arg(long, env = "CENTRALITA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The shared store of a cluster: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
    /// Without it the store is the redb file in the data directory.
    #[arg(long, env = "CENTRALITA_STORE")]
    pub store: Option<String>,
    /// Address of the HTTP API.
    #[arg(long, env = "CENTRALITA_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// Address of the SIP listener (UDP).
    #[arg(long, env = "CENTRALITA_SIP_LISTEN")]
    pub sip_listen: Option<SocketAddr>,
    /// Create a demo company with users and a DID on first start.
    #[arg(long, env = "CENTRALITA_DEMO")]
    pub demo: bool,
    /// Disable the pooling instance allocator (it is used when available).
    #[arg(long, env = "CENTRALITA_NO_POOLING")]
    pub no_pooling: bool,
    /// UDP ports for anchored media, "FIRST-LAST" (RTP on even ports, RTCP on the next).
    #[arg(long, env = "CENTRALITA_RTP_PORTS")]
    pub rtp_ports: Option<String>,
    /// The address phones reach this host at, put in SIP Via/Contact and SDP. Defaults to
    /// the SIP listen address, or the machine's primary address when that is a wildcard.
    #[arg(long, env = "CENTRALITA_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,
    /// The SIP front of a cluster (`IP:PORT`, deploy/kamailio): trunk registrations name it
    /// as their Contact, so the providers' calls come through it to any live host, and the
    /// providers' requests it relays are recognised by the address it received them from.
    #[arg(long, env = "CENTRALITA_SIP_FRONT")]
    pub sip_front: Option<SocketAddr>,
    /// Failed authentications from one address within the window that ban it (default 5;
    /// `ban_failures` in the config file, as are the two below).
    #[arg(long, env = "CENTRALITA_BAN_FAILURES")]
    pub ban_failures: Option<u32>,
    /// The window failed authentications are counted in, in seconds (default 60).
    #[arg(long, env = "CENTRALITA_BAN_WINDOW_S")]
    pub ban_window_s: Option<u64>,
    /// How long a ban lasts, in seconds (default 3600; 0 = until an operator lifts it).
    #[arg(long, env = "CENTRALITA_BAN_DURATION_S")]
    pub ban_duration_s: Option<u64>,
    /// Offer SHA-256 digest challenges too, after MD5 (RFC 8760). Off by default: some
    /// phones give up on a challenge naming an algorithm they lack.
    #[arg(long, env = "CENTRALITA_DIGEST_SHA256")]
    pub digest_sha256: bool,
    /// Seconds an extension rings before the call counts as unanswered.
    #[arg(long, env = "CENTRALITA_RING_TIMEOUT_S")]
    pub ring_timeout_s: Option<u64>,
    /// Seconds a stopping host (SIGTERM, SIGINT) lets its calls in progress go on while it
    /// takes nothing new (default 0: the calls end with the host). In a cluster, set it:
    /// the front sends new calls and registrations to the other hosts meanwhile.
    #[arg(long, env = "CENTRALITA_DRAIN_TIMEOUT_S")]
    pub drain_timeout_s: Option<u64>,
    /// Threads that run calls and the API (default: the cores, at least 4). Fewer suit
    /// several hosts sharing one machine.
    #[arg(long, env = "CENTRALITA_WORKERS")]
    pub workers: Option<usize>,
    /// The SMTP server mail is sent through: `smtp://HOST[:PORT]` (plain),
    /// `smtp://USER:PASSWORD@HOST:587?tls=required` (STARTTLS) or
    /// `smtps://USER:PASSWORD@HOST[:PORT]` (TLS). Without it no mail is sent.
    #[arg(long, env = "CENTRALITA_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The From address of every mail, e.g. "Centralita <pbx@example.com>" (required with
    /// --smtp-url).
    #[arg(long, env = "CENTRALITA_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Also serve the HTTP API, the pages and SIP over secure WebSocket (`wss`, which
    /// browsers on an https page require) on this address, with --tls-cert and --tls-key.
    #[arg(long, env = "CENTRALITA_HTTPS_LISTEN")]
    pub https_listen: Option<SocketAddr>,
    /// The HTTPS certificate chain, PEM.
    #[arg(long, env = "CENTRALITA_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The HTTPS certificate's private key, PEM.
    #[arg(long, env = "CENTRALITA_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// A TOML file with any of: data_dir, store, http_listen, sip_listen, demo, no_pooling,
    /// rtp_ports, public_ip, sip_front, ring_timeout_s, drain_timeout_s, workers, digest_sha256,
    /// ban_failures, ban_window_s, ban_duration_s, smtp_url, mail_from, https_listen,
    /// tls_cert, tls_key.
    #[arg(long, env = "CENTRALITA_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    store: Option<String>,
    http_listen: Option<SocketAddr>,
    sip_listen: Option<SocketAddr>,
    demo: Option<bool>,
    no_pooling: Option<bool>,
    ban_failures: Option<u32>,
    ban_window_s: Option<u64>,
    ban_duration_s: Option<u64>,
    rtp_ports: Option<String>,
    public_ip: Option<IpAddr>,
    sip_front: Option<SocketAddr>,
    ring_timeout_s: Option<u64>,
    drain_timeout_s: Option<u64>,
    workers: Option<usize>,
    digest_sha256: Option<bool>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    https_listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

/// The settings the server runs with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    /// The PostgreSQL URL of a shared store; `None`: redb in `data_dir`.
    pub store: Option<String>,
    pub http_listen: SocketAddr,
    pub sip_listen: SocketAddr,
    pub demo: bool,
    pub pooling: bool,
    /// When failed authentications ban an address, and for how long.
    pub ban: BanSettings,
    pub rtp_ports: PortRange,
    /// What goes into SIP headers and SDP as this host's address.
    pub public_ip: IpAddr,
    /// The cluster's SIP front, if the host runs behind one.
    pub sip_front: Option<SocketAddr>,
    pub ring_timeout: Duration,
    /// How long a stopping host lets its calls in progress go on.
    pub drain_timeout: Duration,
    /// Threads that run calls and the API.
    pub workers: usize,
    /// Offer SHA-256 digest challenges as well as MD5.
    pub digest_sha256: bool,
    /// The SMTP server and From address; none = mail is not sent.
    pub mail: Option<MailSettings>,
    /// Where HTTPS is served, with which certificate; none = plain HTTP only.
    pub https: Option<HttpsSettings>,
}

/// HTTPS (and so `wss` for browsers' SIP) on an address of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsSettings {
    pub listen: SocketAddr,
    /// PEM files: the certificate chain and its private key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(transparent)]
    Ban(#[from] BanSettingsError),
    #[error("{setting}: {message}")]
    Invalid { setting: &'static str, message: String },
}

impl ServeArgs {
    /// Merge flags/environment over the config file over the defaults.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let parse = |text: &str| text.parse::<SocketAddr>().expect("default addresses are valid");
        let rtp_ports = match self.rtp_ports.or(file.rtp_ports) {
            Some(text) => text
                .parse::<PortRange>()
                .map_err(|e| ConfigError::Invalid { setting: "rtp_ports", message: e.to_string() })?,
            None => PortRange::default(),
        };
        let sip_listen = self.sip_listen.or(file.sip_listen).unwrap_or_else(|| parse(DEFAULT_SIP_LISTEN));
        let public_ip = self
            .public_ip
            .or(file.public_ip)
            .unwrap_or_else(|| if sip_listen.ip().is_unspecified() { primary_ip() } else { sip_listen.ip() });
        let ban = BanSettings::new(
            self.ban_failures.or(file.ban_failures).unwrap_or(DEFAULT_BAN_FAILURES),
            self.ban_window_s.or(file.ban_window_s).unwrap_or(DEFAULT_BAN_WINDOW_S),
            self.ban_duration_s.or(file.ban_duration_s).unwrap_or(DEFAULT_BAN_DURATION_S),
        )?;
        let ring_timeout = match self.ring_timeout_s.or(file.ring_timeout_s) {
            Some(0) => {
                return Err(ConfigError::Invalid {
                    setting: "ring_timeout_s",
                    message: "must be at least 1".into(),
                });
            }
            Some(seconds) => Duration::from_secs(seconds),
            None => crate::calls::DEFAULT_RING_TIMEOUT,
        };
        let drain_timeout = match self.drain_timeout_s.or(file.drain_timeout_s) {
            Some(seconds) if seconds > MAX_DRAIN_TIMEOUT_S => {
                return Err(ConfigError::Invalid {
                    setting: "drain_timeout_s",
                    message: format!("at most {MAX_DRAIN_TIMEOUT_S} (a day)"),
                });
            }
            seconds => Duration::from_secs(seconds.unwrap_or(0)),
        };
        let workers = match self.workers.or(file.workers) {
            Some(0) => {
                return Err(ConfigError::Invalid {
                    setting: "workers",
                    message: "must be at least 1".into(),
                });
            }
            Some(workers) => workers,
            // At least MIN_WORKERS even on a 2-core machine: routing decisions and store
            // reads run inside call tasks, and more workers keep one slow call from
            // holding up others.
            None => std::thread::available_parallelism().map_or(MIN_WORKERS, |n| n.get().max(MIN_WORKERS)),
        };
        let mail = mail_settings(self.smtp_url.or(file.smtp_url), self.mail_from.or(file.mail_from))?;
        let https = https_settings(
            self.https_listen.or(file.https_listen),
            self.tls_cert.or(file.tls_cert),
            self.tls_key.or(file.tls_key),
        )?;
        let sip_front = self.sip_front.or(file.sip_front);
        if let Some(front) = sip_front
            && (front.ip().is_unspecified() || front.port() == 0)
        {
            return Err(ConfigError::Invalid {
                setting: "sip_front",
                message: format!("{front} is no address to reach: give the front's IP and port"),
            });
        }
        let store = self.store.or(file.store);
        if let Some(url) = &store
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                setting: "store",
                message: format!("{url:?} is not a postgres:// URL (leave it out for the embedded store)"),
            });
        }
        Ok(ServeConfig {
            store,
            mail,
            https,
            digest_sha256: self.digest_sha256 || file.digest_sha256.unwrap_or(false),
            ring_timeout,
            drain_timeout,
            workers,
            ban,
            rtp_ports,
            public_ip,
            sip_front,
            data_dir: self.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            http_listen: self.http_listen.or(file.http_listen).unwrap_or_else(|| parse(DEFAULT_HTTP_LISTEN)),
            sip_listen,
            demo: self.demo || file.demo.unwrap_or(false),
            pooling: !(self.no_pooling || file.no_pooling.unwrap_or(false)),
        })
    }
}

/// The mail settings: both the server and the From address, or neither (mail off). The
/// From address is never guessed: a wrong one gets messages rejected as spoofed.
fn mail_settings(
    smtp_url: Option<String>,
    from: Option<String>,
) -> Result<Option<MailSettings>, ConfigError> {
    match (smtp_url, from) {
        (None, None) => Ok(None),
        (None, Some(_)) => {
            Err(ConfigError::Invalid { setting: "mail_from", message: "is set but smtp_url is not".into() })
        }
        (Some(_), None) => Err(ConfigError::Invalid {
            setting: "mail_from",
            message: "is required with smtp_url (the From address of every mail)".into(),
        }),
        (Some(url), Some(from)) => Ok(Some(MailSettings::new(url, from))),
    }
}

/// The HTTPS settings: an address with both PEM files, or nothing at all.
fn https_settings(
    listen: Option<SocketAddr>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<HttpsSettings>, ConfigError> {
    match (listen, cert, key) {
        (None, None, None) => Ok(None),
        (Some(listen), Some(cert), Some(key)) => Ok(Some(HttpsSettings { listen, cert, key })),
        (None, ..) => Err(ConfigError::Invalid {
            setting: "https_listen",
            message: "is required with tls_cert and tls_key (the address HTTPS is served on)".into(),
        }),
        (Some(_), None, _) => Err(ConfigError::Invalid {
            setting: "tls_cert",
            message: "is required with https_listen (the certificate chain, PEM)".into(),
        }),
        (Some(_), Some(_), None) => Err(ConfigError::Invalid {
            setting: "tls_key",
            message: "is required with https_listen (the certificate's private key, PEM)".into(),
        }),
    }
}

/// The address this machine uses towards the rest of the network: the source address the
/// kernel picks for a route to a documentation address (no packet is sent), else loopback.
fn primary_ip() -> IpAddr {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| {
            socket.connect("192.0.2.1:9")?;
            socket.local_addr()
        })
        .map(|local| local.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centralita.toml");
        std::fs::write(&file, "data_dir = \"/srv/pbx\"\nhttp_listen = \"0.0.0.0:9000\"\ndemo = true\n")
            .unwrap();
        let args = ServeArgs {
            http_listen: Some("127.0.0.1:7000".parse().unwrap()),
            config: Some(file),
            ..Default::default()
        };
        let config = args.resolve().unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/pbx"));
        assert_eq!(config.http_listen.to_string(), "127.0.0.1:7000");
        assert_eq!(config.sip_listen.to_string(), DEFAULT_SIP_LISTEN);
        assert!(config.demo && config.pooling);
    }

    #[test]
    fn unknown_file_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "http_lisen = \"0.0.0.0:9000\"\n").unwrap();
        let error = ServeArgs { config: Some(file), ..Default::default() }.resolve().unwrap_err();
        assert!(error.to_string().contains("http_lisen"), "{error}");
    }

    #[test]
    fn ban_settings_come_from_flags_then_the_file_then_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centralita.toml");
        std::fs::write(&file, "ban_failures = 3\nban_duration_s = 0\n").unwrap();
        let args = ServeArgs { ban_failures: Some(10), config: Some(file), ..Default::default() };
        let ban = args.resolve().unwrap().ban;
        assert_eq!(ban.failures(), 10);
        assert_eq!(ban.window().as_secs(), DEFAULT_BAN_WINDOW_S);
        assert_eq!(ban.duration(), None, "0 in the file: until unbanned");
        assert_eq!(ServeArgs::default().resolve().unwrap().ban, BanSettings::default());
    }

    #[test]
    fn mail_settings_come_from_flags_or_the_file_and_need_both_server_and_from() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centralita.toml");
        std::fs::write(&file, "smtp_url = \"smtp://127.0.0.1:2525\"\nmail_from = \"pbx@example.com\"\n")
            .unwrap();
        let args = ServeArgs {
            mail_from: Some("Centralita <pbx@acme.example>".into()),
            config: Some(file),
            ..Default::default()
        };
        let mail = args.resolve().unwrap().mail.unwrap();
        assert_eq!(mail.smtp_url, "smtp://127.0.0.1:2525");
        assert_eq!(mail.from, "Centralita <pbx@acme.example>");
        assert_eq!(ServeArgs::default().resolve().unwrap().mail, None, "no server: mail off");
        let without_from = ServeArgs { smtp_url: Some("smtp://127.0.0.1:2525".into()), ..Default::default() };
        let error = without_from.resolve().unwrap_err();
        assert!(error.to_string().contains("mail_from"), "{error}");
    }

    #[test]
    fn a_ban_setting_out_of_range_is_refused_by_name() {
        let args = ServeArgs { ban_window_s: Some(0), ..Default::default() };
        let error = args.resolve().unwrap_err();
        assert!(error.to_string().contains("ban_window_s"), "{error}");
    }

    #[test]
    fn the_sip_front_is_an_address_to_reach() {
        let front =
            |address: &str| ServeArgs { sip_front: address.parse().ok(), ..Default::default() }.resolve();
        assert_eq!(front("192.0.2.80:5060").unwrap().sip_front, "192.0.2.80:5060".parse().ok());
        for unreachable in ["0.0.0.0:5060", "192.0.2.80:0"] {
            let error = front(unreachable).unwrap_err();
            assert!(error.to_string().contains("sip_front"), "{unreachable}: {error}");
        }
        assert_eq!(ServeArgs::default().resolve().unwrap().sip_front, None);
    }

    #[test]
    fn a_stopping_host_waits_for_its_calls_only_when_given_a_drain_timeout() {
        assert_eq!(ServeArgs::default().resolve().unwrap().drain_timeout, Duration::ZERO);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centralita.toml");
        std::fs::write(&file, "drain_timeout_s = 60\n").unwrap();
        let config = ServeArgs { config: Some(file.clone()), ..Default::default() }.resolve().unwrap();
        assert_eq!(config.drain_timeout, Duration::from_secs(60));
        let flag = ServeArgs { config: Some(file), drain_timeout_s: Some(5), ..Default::default() };
        assert_eq!(flag.resolve().unwrap().drain_timeout, Duration::from_secs(5), "the flag wins");
        let forever = ServeArgs { drain_timeout_s: Some(u64::MAX), ..Default::default() }.resolve();
        assert!(forever.unwrap_err().to_string().contains("drain_timeout_s"));
    }

    #[test]
    fn workers_default_to_the_cores_but_at_least_four_and_zero_is_refused() {
        assert!(ServeArgs::default().resolve().unwrap().workers >= MIN_WORKERS);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("centralita.toml");
        std::fs::write(&file, "workers = 2\n").unwrap();
        let config = ServeArgs { config: Some(file), ..Default::default() }.resolve().unwrap();
        assert_eq!(config.workers, 2, "a cluster host on a shared machine may run fewer");
        let error = ServeArgs { workers: Some(0), ..Default::default() }.resolve().unwrap_err();
        assert!(error.to_string().contains("workers"), "{error}");
    }

    #[test]
    fn https_needs_an_address_a_certificate_and_a_key_together() {
        assert_eq!(ServeArgs::default().resolve().unwrap().https, None, "plain HTTP by default");
        let all = ServeArgs {
            https_listen: Some("127.0.0.1:8443".parse().unwrap()),
            tls_cert: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            ..Default::default()
        };
        let https = all.clone().resolve().unwrap().https.unwrap();
        assert_eq!((https.listen.port(), https.cert, https.key), (8443, "cert.pem".into(), "key.pem".into()));
        for (missing, args) in [
            ("https_listen", ServeArgs { https_listen: None, ..all.clone() }),
            ("tls_cert", ServeArgs { tls_cert: None, ..all.clone() }),
            ("tls_key", ServeArgs { tls_key: None, ..all.clone() }),
        ] {
            let error = args.resolve().unwrap_err();
            assert!(error.to_string().starts_with(missing), "{missing}: {error}");
        }
    }
}
