//! The address table: every class the guard refuses, and public addresses it lets through.

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

const REFUSED: &[(&str, &str)] = &[
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "shared (CGNAT)"),
    ("100.127.255.255", "shared (CGNAT)"),
    ("169.254.169.254", "link-local (cloud metadata)"),
    ("192.0.0.8", "IETF protocol assignments"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "discard"),
    ("2001::1", "Teredo"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:10.0.0.1", "IPv4-mapped private"),
    ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
    ("::ffff:0.0.0.0", "IPv4-mapped unspecified"),
    ("::127.0.0.1", "IPv4-compatible loopback"),
    ("::192.168.0.1", "IPv4-compatible private"),
    ("64:ff9b::7f00:1", "NAT64 of loopback"),
    ("2002:7f00:1::", "6to4 of loopback"),
    ("2002:c0a8:101::1", "6to4 of private"),
];

const ALLOWED: &[&str] = &[
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.1",
    "172.15.255.255",
    "172.32.0.1",
    "192.169.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
];

#[test]
fn every_non_public_address_class_is_refused() {
    for (text, class) in REFUSED {
        assert!(!is_public(ip(text)), "{text} ({class}) must be refused");
    }
}

#[test]
fn public_addresses_are_allowed() {
    for text in ALLOWED {
        assert!(is_public(ip(text)), "{text} must be allowed");
    }
}

#[test]
fn ip_literal_urls_are_checked_without_resolving() {
    let guard = AddressGuard::strict();
    for text in [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/",
        "http://[::ffff:7f00:1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://0x7f.1/",
        "http://2130706433/",
    ] {
        let url = Url::parse(text).unwrap();
        assert!(guard.check_literal(&url).is_err(), "{text}");
    }
    let public = Url::parse("https://8.8.8.8/hook").unwrap();
    assert_eq!(guard.check_literal(&public), Ok(true));
    let named = Url::parse("https://hooks.example.com/").unwrap();
    assert_eq!(guard.check_literal(&named), Ok(false));
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_creation() {
    let url = Url::parse("http://localhost:9/hook").unwrap();
    let refused = AddressGuard::strict().check_url(&url).await.unwrap_err();
    assert!(
        matches!(refused, GuardError::NotPublic { ref host, .. } if host == "localhost"),
        "{refused:?}"
    );
    let allowed = AddressGuard {
        allow_private: true,
    };
    assert_eq!(allowed.check_url(&url).await, Ok(()));
}

#[tokio::test]
async fn the_delivery_resolver_refuses_a_name_with_a_non_public_answer() {
    let name: Name = "localhost".parse().unwrap();
    let error = match PublicOnlyResolver.resolve(name).await {
        Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
        Err(error) => error,
    };
    assert!(error.downcast_ref::<GuardError>().is_some(), "{error}");
}
