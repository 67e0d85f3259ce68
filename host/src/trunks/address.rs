//! Where a trunk's REGISTERs go: its outbound proxy when set, else its SIP domain, each
//! "host[:port]" (an IP literal, `[v6]:port`, or a name looked up once per attempt).

use std::net::{IpAddr, SocketAddr};

use crate::store::records::TrunkProvider;

/// The SIP port used when an address names none.
pub const DEFAULT_SIP_PORT: u16 = 5060;

/// Why a trunk's address gave no socket address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("cannot resolve the trunk host {host}: {reason}")]
    Lookup { host: String, reason: String },
    #[error("the trunk host {0} has no address")]
    NoAddress(String),
}

/// The "host[:port]" requests to `trunk` are sent to.
pub fn next_hop(trunk: &TrunkProvider) -> &str {
    trunk.outbound_proxy.as_deref().map(str::trim).filter(|proxy| !proxy.is_empty()).unwrap_or(&trunk.domain)
}

/// `host` as a socket address when it is an IP literal (with or without a port).
pub fn literal(host: &str) -> Option<SocketAddr> {
    let host = bare(host);
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return Some(addr);
    }
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    ip.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, DEFAULT_SIP_PORT))
}

/// `host` as a socket address: an IP literal directly, a name through the system resolver.
pub async fn resolve(host: &str) -> Result<SocketAddr, AddressError> {
    if let Some(addr) = literal(host) {
        return Ok(addr);
    }
    let host = bare(host);
    let has_port = host.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok());
    let with_port = if has_port { host.to_string() } else { format!("{host}:{DEFAULT_SIP_PORT}") };
    let mut addresses = tokio::net::lookup_host(&with_port)
        .await
        .map_err(|e| AddressError::Lookup { host: host.to_string(), reason: e.to_string() })?;
    addresses.next().ok_or_else(|| AddressError::NoAddress(host.to_string()))
}

/// The host part without blanks or a `sip:` scheme an admin may have typed.
fn bare(host: &str) -> &str {
    let host = host.trim();
    host.strip_prefix("sip:").unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(domain: &str, proxy: Option<&str>) -> TrunkProvider {
        TrunkProvider {
            username: "acme".into(),
            password: "pw".into(),
            domain: domain.into(),
            outbound_proxy: proxy.map(str::to_string),
            register: true,
        }
    }

    #[test]
    fn requests_go_to_the_outbound_proxy_when_one_is_set() {
        assert_eq!(next_hop(&trunk("voip.example", Some("192.0.2.5:5080"))), "192.0.2.5:5080");
        assert_eq!(next_hop(&trunk("voip.example", None)), "voip.example");
        assert_eq!(next_hop(&trunk("voip.example", Some("  "))), "voip.example");
    }

    #[test]
    fn ip_literals_take_the_default_port_when_they_name_none() {
        assert_eq!(literal("192.0.2.9"), Some("192.0.2.9:5060".parse().unwrap()));
        assert_eq!(literal(" sip:192.0.2.9:5070 "), Some("192.0.2.9:5070".parse().unwrap()));
        assert_eq!(literal("[2001:db8::1]:5070"), Some("[2001:db8::1]:5070".parse().unwrap()));
        assert_eq!(literal("[2001:db8::1]"), Some("[2001:db8::1]:5060".parse().unwrap()));
        assert_eq!(literal("voip.example"), None);
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_an_error_that_names_it() {
        let error = resolve("no-such-host.invalid").await.unwrap_err();
        assert!(error.to_string().contains("no-such-host.invalid"), "{error}");
        assert_eq!(resolve("127.0.0.1:5099").await, Ok("127.0.0.1:5099".parse().unwrap()));
    }
}
