//! An IPv4 or IPv6 address range in CIDR notation ("10.0.0.0/8", "2001:db8::/32"), as the
//! whitelist keeps them. A bare address is a range of one (/32 or /128). Host bits after
//! the prefix are cleared, so "192.168.1.10/24" is the range 192.168.1.0/24.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why a text is not a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("a CIDR range is required, e.g. \"10.0.0.0/8\" or \"2001:db8::/32\"")]
    Empty,
    #[error("{0:?} is not an IPv4 or IPv6 address")]
    Address(String),
    #[error("{text:?}: the prefix length must be a number from 0 to {max}")]
    Prefix { text: String, max: u8 },
}

/// A range of addresses: a network address with its host bits cleared and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parse "address/prefix" or a bare address; surrounding blanks are ignored.
    pub fn parse(text: &str) -> Result<Cidr, CidrError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CidrError::Empty);
        }
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| CidrError::Address(address.to_string()))?;
        let max = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => max,
            // Digits only: `u8::from_str` would also take "+8".
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(p) if p <= max => p,
                    _ => return Err(CidrError::Prefix { text: text.to_string(), max }),
                }
            }
            Some(_) => return Err(CidrError::Prefix { text: text.to_string(), max }),
        };
        Ok(Cidr { network: mask(address, prefix), prefix })
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in the range. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, as a
    /// dual-stack socket reports IPv4 peers) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let same_family =
            matches!((self.network, ip), (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)));
        same_family && mask(ip, self.prefix) == self.network
    }
}

/// `address` with every bit after the first `prefix` cleared.
fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            // A shift by the full width overflows: a /0 keeps no bit at all.
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & keep))
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & keep))
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Cidr, CidrError> {
        Cidr::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_bare_addresses_into_their_canonical_form() {
        let cases = [
            ("10.0.0.0/8", "10.0.0.0/8"),
            (" 192.168.1.10/24 ", "192.168.1.0/24"),
            ("127.0.0.1", "127.0.0.1/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("203.0.113.7/32", "203.0.113.7/32"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("2001:DB8:ffff::1/48", "2001:db8:ffff::/48"),
            ("::1", "::1/128"),
            ("::/0", "::/0"),
            ("fe80::1/10", "fe80::/10"),
        ];
        for (text, canonical) in cases {
            let cidr = Cidr::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(cidr.to_string(), canonical, "{text:?}");
        }
    }

    #[test]
    fn refuses_bad_ranges_with_a_message_naming_the_problem() {
        let cases = [
            ("", "required"),
            ("   ", "required"),
            ("10.0.0/8", "not an IPv4 or IPv6 address"),
            ("10.0.0.256", "not an IPv4 or IPv6 address"),
            ("example.com/8", "not an IPv4 or IPv6 address"),
            ("/8", "not an IPv4 or IPv6 address"),
            ("10.0.0.0/33", "0 to 32"),
            ("10.0.0.0/", "0 to 32"),
            ("10.0.0.0/+8", "0 to 32"),
            ("10.0.0.0/-1", "0 to 32"),
            ("10.0.0.0/8/8", "0 to 32"),
            ("10.0.0.0/0008", "0 to 32"),
            ("2001:db8::/129", "0 to 128"),
            ("2001:db8::/abc", "0 to 128"),
            ("fe80::1%eth0", "not an IPv4 or IPv6 address"),
        ];
        for (text, expected) in cases {
            let error = Cidr::parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn contains_exactly_the_addresses_under_the_prefix() {
        let private = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(private.contains("10.0.0.0".parse().unwrap()));
        assert!(private.contains("10.255.255.255".parse().unwrap()));
        assert!(!private.contains("11.0.0.0".parse().unwrap()));
        assert!(!private.contains("9.255.255.255".parse().unwrap()));
        assert!(private.contains("::ffff:10.1.2.3".parse().unwrap()), "IPv4-mapped IPv6");
        assert!(!private.contains("::a00:1".parse().unwrap()), "another family");

        let one = Cidr::parse("127.0.0.5").unwrap();
        assert!(one.contains("127.0.0.5".parse().unwrap()));
        assert!(!one.contains("127.0.0.6".parse().unwrap()));

        let everything = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains("203.0.113.1".parse().unwrap()));
        assert!(!everything.contains("2001:db8::1".parse().unwrap()));

        let doc = Cidr::parse("2001:db8::/32").unwrap();
        assert!(doc.contains("2001:db8:1234::99".parse().unwrap()));
        assert!(!doc.contains("2001:db9::1".parse().unwrap()));
        assert!(Cidr::parse("::/0").unwrap().contains("::1".parse().unwrap()));
    }
}
