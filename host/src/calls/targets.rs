//! Where a call's legs go: a registered device of an extension, or a number outside
//! through the company's trunk provider (primary, then secondary when the first fails).

use std::net::SocketAddr;

use crate::sip::dialog::uri_in;
use crate::sip::registrar::location::Binding;
use crate::sip::transport::Transport;
use crate::store::records::TrunkProvider;
use crate::trunks::address::{self, AddressError};

/// One leg to start: its Request-URI, To, where to send it, and the credentials to
/// answer a challenge with (a provider asks for them; a device never does).
#[derive(Debug, Clone)]
pub struct RingTarget {
    pub uri: String,
    pub to: String,
    pub dest: SocketAddr,
    pub transport: Transport,
    pub credentials: Option<(String, String)>,
    /// The extension whose device this is; none through a trunk.
    pub extension: Option<String>,
}

impl RingTarget {
    /// A registered device of extension `extension` in SIP domain `domain`.
    pub fn device(binding: &Binding, extension: &str, domain: &str) -> RingTarget {
        RingTarget {
            uri: uri_in(&binding.contact).to_string(),
            to: format!("<sip:{extension}@{domain}>"),
            // Where the REGISTER came from (received/rport): phones behind NAT are reached.
            dest: binding.source,
            transport: binding.transport,
            credentials: None,
            extension: Some(extension.to_string()),
        }
    }

    /// `number` through `trunk`: to its outbound proxy when set, else its domain.
    pub async fn through_trunk(number: &str, trunk: &TrunkProvider) -> Result<RingTarget, AddressError> {
        let dest = address::resolve(address::next_hop(trunk)).await?;
        let domain = trunk.domain.trim().trim_start_matches("sip:");
        Ok(RingTarget {
            uri: format!("sip:{number}@{domain}"),
            to: format!("<sip:{number}@{domain}>"),
            dest,
            // Outgoing TCP connections do not exist yet: providers are reached over UDP.
            transport: Transport::Udp,
            credentials: Some((trunk.username.clone(), trunk.password.clone())),
            extension: None,
        })
    }
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

    #[tokio::test]
    async fn a_trunk_target_goes_to_the_proxy_when_set_and_names_the_providers_domain() {
        let target =
            RingTarget::through_trunk("0034911234567", &trunk("voip.example", Some("192.0.2.5:5080")))
                .await
                .unwrap();
        assert_eq!(target.uri, "sip:0034911234567@voip.example");
        assert_eq!(target.dest, "192.0.2.5:5080".parse::<std::net::SocketAddr>().unwrap());
        assert_eq!(target.credentials, Some(("acme".into(), "pw".into())));
        let direct = RingTarget::through_trunk("600", &trunk("192.0.2.9", None)).await.unwrap();
        assert_eq!(direct.dest, "192.0.2.9:5060".parse::<std::net::SocketAddr>().unwrap());
        let v6 = RingTarget::through_trunk("600", &trunk("[2001:db8::1]:5070", None)).await.unwrap();
        assert_eq!(v6.dest, "[2001:db8::1]:5070".parse::<std::net::SocketAddr>().unwrap());
        assert!(RingTarget::through_trunk("600", &trunk("no-such-host.invalid", None)).await.is_err());
    }
}
