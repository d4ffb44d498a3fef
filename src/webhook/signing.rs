//! Signatures of a delivery: `Renvo-Signature` (hex HMAC-SHA256 keyed by the secret string over
//! `{t}.{body}`) and the Standard Webhooks `webhook-signature` (base64 HMAC-SHA256 keyed by the
//! secret's decoded bytes over `{id}.{t}.{body}`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::domain::webhook::WebhookSecret;

/// The three signature headers of one delivery, all for the same timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signatures {
    /// `webhook-timestamp` and the `t=` of `Renvo-Signature`: Unix seconds.
    pub timestamp: i64,
    /// `Renvo-Signature: t=<unix>,v1=<hex>`.
    pub renvo: String,
    /// `webhook-signature: v1,<base64>`.
    pub standard: String,
}

/// Signs `body` for the message `message_id` (the event id) at `timestamp`.
pub fn sign(secret: &WebhookSecret, message_id: &str, timestamp: i64, body: &str) -> Signatures {
    let renvo_mac = hmac_sha256(
        secret.expose().as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body.as_bytes()],
    );
    let standard_mac = hmac_sha256(
        &secret.key_bytes(),
        &[
            message_id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body.as_bytes(),
        ],
    );
    Signatures {
        timestamp,
        renvo: format!("t={timestamp},v1={}", hex::encode(renvo_mac)),
        standard: format!("v1,{}", BASE64.encode(standard_mac)),
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail; an empty MAC would only fail checks.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> WebhookSecret {
        // 32 bytes 0x00..0x1f, base64-encoded.
        WebhookSecret::from_stored("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into())
            .unwrap()
    }

    #[test]
    fn renvo_signature_is_hex_hmac_of_timestamp_dot_body_keyed_by_the_secret_string() {
        let signed = sign(&secret(), "evt_1", 1_700_000_000, r#"{"a":1}"#);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret().expose().as_bytes()).unwrap();
        mac.update(br#"1700000000.{"a":1}"#);
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(signed.renvo, format!("t=1700000000,v1={expected}"));
        assert_eq!(signed.timestamp, 1_700_000_000);
    }

    #[test]
    fn standard_signature_matches_the_reference_library() {
        let body = r#"{"text":"héllo \"quoted\""}"#;
        let signed = sign(&secret(), "evt_1", 1_700_000_000, body);
        let reference = standardwebhooks::Webhook::new(secret().expose()).unwrap();
        let expected = reference
            .sign("evt_1", 1_700_000_000, body.as_bytes())
            .unwrap();
        assert_eq!(signed.standard, expected);
    }
}
