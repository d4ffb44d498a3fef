//! The address guard: webhook URLs may reach only public addresses. A URL is checked when it is
//! saved (every address its host resolves to) and again at delivery, where the HTTP client's
//! own resolver drops the connection unless every answer is public, so a name that changes its
//! answer between the check and the connection cannot slip through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// A URL refused because of where it points.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("`{host}` is or resolves to {address}, which is not a public address")]
    NotPublic { host: String, address: IpAddr },
    #[error("`{0}` could not be resolved")]
    Unresolved(String),
}

/// Whether private, loopback and other non-public targets are allowed (local development).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressGuard {
    pub allow_private: bool,
}

impl AddressGuard {
    pub fn strict() -> AddressGuard {
        AddressGuard {
            allow_private: false,
        }
    }

    /// At creation: an IP literal is checked as it is; a name must resolve, and only to
    /// public addresses.
    pub async fn check_url(&self, url: &Url) -> Result<(), GuardError> {
        if self.allow_private {
            return Ok(());
        }
        if self.check_literal(url)? {
            return Ok(());
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| GuardError::Unresolved(host.clone()))?
            .collect();
        if addresses.is_empty() {
            return Err(GuardError::Unresolved(host));
        }
        check_all(&host, addresses.iter().map(SocketAddr::ip))
    }

    /// Checks a URL whose host is an IP literal (the HTTP client connects to those without
    /// resolving); answers whether the host was a literal.
    pub fn check_literal(&self, url: &Url) -> Result<bool, GuardError> {
        let address = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(false),
        };
        if !self.allow_private && !is_public(address) {
            return Err(GuardError::NotPublic {
                host: address.to_string(),
                address,
            });
        }
        Ok(true)
    }
}

fn check_all(host: &str, addresses: impl Iterator<Item = IpAddr>) -> Result<(), GuardError> {
    for address in addresses {
        if !is_public(address) {
            return Err(GuardError::NotPublic {
                host: host.to_owned(),
                address,
            });
        }
    }
    Ok(())
}

/// The HTTP client's resolver at delivery: it answers only when every address is public.
#[derive(Debug, Default)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addresses.is_empty() {
                return Err(GuardError::Unresolved(host).into());
            }
            check_all(&host, addresses.iter().map(SocketAddr::ip))?;
            let addrs: Addrs = Box::new(addresses.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether an address is publicly routable: not loopback, private, link-local, unique-local,
/// multicast, unspecified, documentation, shared (CGNAT), broadcast or otherwise reserved,
/// including IPv6 forms that embed such an IPv4 address.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = a == 0 // "this network", including 0.0.0.0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // deprecated 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved and broadcast
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    // Only global unicast (2000::/3) is public; inside it, carve out the special blocks.
    if segments[0] & 0xe000 != 0x2000 {
        return false;
    }
    let ietf = segments[0] == 0x2001 && (segments[1] < 0x0200 || segments[1] == 0x0db8);
    let special = ietf // IETF assignments, Teredo, documentation
        || (segments[0] == 0x2002 && !is_public_v4(six_to_four_v4(segments)))
        || (segments[0] == 0x3fff && segments[1] < 0x1000); // documentation (3fff::/20)
    !special
}

/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) and NAT64 (`64:ff9b::/96`)
/// forms carry an IPv4 address that decides.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let compatible = s[..6] == [0; 6];
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4];
    if compatible && (s[6] == 0 && s[7] <= 1) {
        return None; // :: and ::1 are themselves, not IPv4 forms
    }
    (mapped || compatible || nat64).then_some(low)
}

fn six_to_four_v4(s: [u16; 8]) -> Ipv4Addr {
    Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8)
}

#[cfg(test)]
mod tests;
