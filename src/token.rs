//! Signed tokens that name a delivery (campaign + contact) and what may be done with them.
//!
//! Tokens travel in e-mail local parts (`antwort+<token>@reply.example.org`) and in URLs. MTAs and
//! mail clients may change the case of a local part, so the alphabet is lowercase base32 (RFC 4648,
//! no padding) and decoding ignores case. Layout of the decoded bytes:
//!
//! ```text
//! header (1 byte: bits 0-2 purpose, bit 3 has-expiry, bits 4-7 format version = 0)
//! varint campaign_id, varint contact_id, varint extra, [varint expires_at]
//! MAC: HMAC-SHA256(secret, DOMAIN || payload), first 10 bytes
//! ```
//!
//! Ids are written as LEB128 varints of their `u64` bit pattern, so ids below 2^28 take 4 bytes:
//! a Reply/Bounce token for ids below 10^7 without expiry is 20 bytes = 32 characters, with an
//! expiry 25 bytes = 40 characters. The 80-bit MAC is far beyond online guessing; it is compared in
//! constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Separates these MACs from any other use of the same secret.
const DOMAIN: &[u8] = b"netzpost-token-v0\0";
/// Separates the MACs in our Message-IDs from the tokens' (a token MAC is never a valid
/// Message-ID MAC and the other way round).
const MESSAGE_ID_DOMAIN: &[u8] = b"netzpost-message-id-v1\0";
const MAC_LEN: usize = 10;
const VERSION: u8 = 0;
const HAS_EXPIRY: u8 = 0b1000;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// What a token allows; checked on verification so a reply token cannot unsubscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    Reply,
    Bounce,
    Unsubscribe,
    Preferences,
    Rsvp,
    Confirm,
    /// The check-in list of one occasion, for helpers at the door (`extra` = the occasion).
    CheckIn,
}

impl Purpose {
    fn code(self) -> u8 {
        match self {
            Purpose::Reply => 0,
            Purpose::Bounce => 1,
            Purpose::Unsubscribe => 2,
            Purpose::Preferences => 3,
            Purpose::Rsvp => 4,
            Purpose::Confirm => 5,
            Purpose::CheckIn => 6,
        }
    }

    fn from_code(code: u8) -> Option<Purpose> {
        Some(match code {
            0 => Purpose::Reply,
            1 => Purpose::Bounce,
            2 => Purpose::Unsubscribe,
            3 => Purpose::Preferences,
            4 => Purpose::Rsvp,
            5 => Purpose::Confirm,
            6 => Purpose::CheckIn,
            _ => return None,
        })
    }
}

/// The signed content of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub purpose: Purpose,
    pub campaign_id: i64,
    pub contact_id: i64,
    /// Occasion or topic id, 0 if none.
    pub extra: i64,
    /// Unix seconds; `None` = never expires.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signature does not match")]
    BadSignature,
    #[error("token is for {actual:?}, expected {expected:?}")]
    WrongPurpose { expected: Purpose, actual: Purpose },
    #[error("token expired at {expired_at}")]
    Expired { expired_at: i64 },
}

/// A fresh secret for [`TokenKey`] (the configuration's `secret`): 32 random bytes as 64 hex
/// digits.
pub fn random_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The signing key. Keeps the keyed HMAC state, so signing does not re-hash the secret.
#[derive(Clone)]
pub struct TokenKey {
    mac: HmacSha256,
    message_id_mac: HmacSha256,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// Any secret length works (HMAC); use at least 32 random bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> TokenKey {
        let mut mac =
            HmacSha256::new_from_slice(secret.as_ref()).expect("HMAC accepts keys of any length");
        let mut message_id_mac = mac.clone();
        mac.update(DOMAIN);
        message_id_mac.update(MESSAGE_ID_DOMAIN);
        TokenKey {
            mac,
            message_id_mac,
        }
    }

    /// The Message-ID of the campaign mail to one contact: `<np.CAMPAIGN.CONTACT.MAC@domain>`,
    /// the MAC (80 bits, base32) over campaign and contact under this installation's secret.
    /// The same delivery always gets the same id (a resend after a crash is recognised as the
    /// same message), and nobody without the secret can make one: a reply that names it proves
    /// that its writer received that mail.
    pub fn message_id(&self, campaign_id: i64, contact_id: i64, domain: &str) -> String {
        let tag = self.message_id_tag(campaign_id, contact_id);
        format!(
            "<np.{campaign_id}.{contact_id}.{}@{domain}>",
            base32_encode(&tag[..MAC_LEN])
        )
    }

    /// The Message-ID of a mail that answers or follows up (an acknowledgement, a confirmation
    /// request, an occasion's update): `<np.PARTS.INSTALLATION@domain>`. `parts` names the mail
    /// (dots and ASCII alphanumerics); INSTALLATION is derived from the secret, so two
    /// installations with the same domain, or one whose database was reset with a new secret,
    /// never send the same id.
    pub fn local_message_id(&self, parts: &str, domain: &str) -> String {
        let mut m = self.message_id_mac.clone();
        m.update(b"installation");
        let tag: [u8; 32] = m.finalize().into_bytes().into();
        format!("<np.{parts}.{}@{domain}>", base32_encode(&tag[..5]))
    }

    /// Whether `mac` (the base32 part of [`TokenKey::message_id`], any case) is the MAC of this
    /// campaign and contact. Compared in constant time.
    pub fn verify_message_id(&self, campaign_id: i64, contact_id: i64, mac: &str) -> bool {
        let Some(tag) = base32_decode(mac) else {
            return false;
        };
        if tag.len() != MAC_LEN {
            return false;
        }
        let mut m = self.message_id_mac.clone();
        m.update(&message_id_payload(campaign_id, contact_id));
        m.verify_truncated_left(&tag).is_ok()
    }

    fn message_id_tag(&self, campaign_id: i64, contact_id: i64) -> [u8; 32] {
        let mut m = self.message_id_mac.clone();
        m.update(&message_id_payload(campaign_id, contact_id));
        m.finalize().into_bytes().into()
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let mut buf = Vec::with_capacity(48);
        let mut header = (VERSION << 4) | claims.purpose.code();
        if claims.expires_at.is_some() {
            header |= HAS_EXPIRY;
        }
        buf.push(header);
        put_varint(&mut buf, claims.campaign_id as u64);
        put_varint(&mut buf, claims.contact_id as u64);
        put_varint(&mut buf, claims.extra as u64);
        if let Some(exp) = claims.expires_at {
            put_varint(&mut buf, exp as u64);
        }
        let tag = self.tag(&buf);
        buf.extend_from_slice(&tag[..MAC_LEN]);
        base32_encode(&buf)
    }

    /// Checks signature, purpose and expiry (a token is valid while `now_unix < expires_at`).
    pub fn verify(
        &self,
        token: &str,
        expected: Purpose,
        now_unix: i64,
    ) -> Result<Claims, TokenError> {
        let claims = self.verify_any_age(token, expected)?;
        if let Some(exp) = claims.expires_at {
            if now_unix >= exp {
                return Err(TokenError::Expired { expired_at: exp });
            }
        }
        Ok(claims)
    }

    /// Checks signature and purpose but not the expiry, for links whose validity the caller
    /// decides: an unsubscribe link keeps working for as long as the mail exists (RFC 8058), and
    /// an RSVP link lives as long as its occasion.
    pub fn verify_any_age(&self, token: &str, expected: Purpose) -> Result<Claims, TokenError> {
        let bytes = base32_decode(token).ok_or(TokenError::Malformed)?;
        if bytes.len() < 1 + 3 + MAC_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        let mut mac = self.mac.clone();
        mac.update(payload);
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(tag)
            .map_err(|_| TokenError::BadSignature)?;
        let claims = parse_payload(payload).ok_or(TokenError::Malformed)?;
        if claims.purpose != expected {
            return Err(TokenError::WrongPurpose {
                expected,
                actual: claims.purpose,
            });
        }
        Ok(claims)
    }

    fn tag(&self, payload: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }
}

impl From<&str> for TokenKey {
    fn from(secret: &str) -> TokenKey {
        TokenKey::new(secret.as_bytes())
    }
}

impl From<&[u8]> for TokenKey {
    fn from(secret: &[u8]) -> TokenKey {
        TokenKey::new(secret)
    }
}

/// Extracts the token from `prefix+TOKEN@domain` (also `<...>`-wrapped). The prefix is matched
/// case-insensitively and may be given with or without the trailing `+`.
pub fn token_from_address<'a>(addr: &'a str, prefix: &str) -> Option<&'a str> {
    let addr = addr.trim();
    let addr = addr
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(addr);
    let (local, domain) = addr.rsplit_once('@')?;
    if domain.is_empty() {
        return None;
    }
    let prefix = prefix.strip_suffix('+').unwrap_or(prefix);
    let head = local.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let token = local[prefix.len()..].strip_prefix('+')?;
    (!token.is_empty()).then_some(token)
}

fn parse_payload(payload: &[u8]) -> Option<Claims> {
    let (&header, mut rest) = payload.split_first()?;
    if header >> 4 != VERSION {
        return None;
    }
    let purpose = Purpose::from_code(header & 0b111)?;
    let campaign_id = get_varint(&mut rest)? as i64;
    let contact_id = get_varint(&mut rest)? as i64;
    let extra = get_varint(&mut rest)? as i64;
    let expires_at = if header & HAS_EXPIRY != 0 {
        Some(get_varint(&mut rest)? as i64)
    } else {
        None
    };
    rest.is_empty().then_some(Claims {
        purpose,
        campaign_id,
        contact_id,
        extra,
        expires_at,
    })
}

fn message_id_payload(campaign_id: i64, contact_id: i64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(20);
    put_varint(&mut buf, campaign_id as u64);
    put_varint(&mut buf, contact_id as u64);
    buf
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn get_varint(input: &mut &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = input.split_first()?;
        *input = rest;
        let bits = u64::from(b & 0x7f);
        if i == 9 && bits > 1 {
            return None; // would overflow 64 bits
        }
        v |= bits << (7 * i);
        if b & 0x80 == 0 {
            // Reject non-minimal encodings (a trailing zero group), so one value has one form.
            if i > 0 && b == 0 {
                return None;
            }
            return Some(v);
        }
    }
    None
}

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Case-insensitive; rejects non-canonical input (leftover bits must be zero, no impossible
/// lengths), so every token has exactly one spelling apart from case.
fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c.to_ascii_lowercase() {
            c @ b'a'..=b'z' => c - b'a',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    // Leftover must be fewer than 5 bits (else the length is impossible) and all zero.
    (bits < 5 && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(b"test secret, 32 bytes or more!!!")
    }

    fn claims(purpose: Purpose) -> Claims {
        Claims {
            purpose,
            campaign_id: 4711,
            contact_id: 9_999_999,
            extra: 0,
            expires_at: None,
        }
    }

    #[test]
    fn round_trip_all_purposes() {
        let k = key();
        for p in [
            Purpose::Reply,
            Purpose::Bounce,
            Purpose::Unsubscribe,
            Purpose::Preferences,
            Purpose::Rsvp,
            Purpose::Confirm,
        ] {
            let c = Claims {
                extra: 12,
                expires_at: Some(1_900_000_000),
                ..claims(p)
            };
            let t = k.sign(&c);
            assert!(t
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
            assert_eq!(k.verify(&t, p, 1_800_000_000), Ok(c));
        }
    }

    #[test]
    fn extreme_values_round_trip() {
        let k = key();
        for v in [0, 1, 127, 128, i64::MAX, i64::MIN, -1] {
            let c = Claims {
                purpose: Purpose::Rsvp,
                campaign_id: v,
                contact_id: v,
                extra: v,
                expires_at: Some(v),
            };
            let t = k.sign(&c);
            let got = k.verify(&t, Purpose::Rsvp, i64::MIN);
            if v == i64::MIN {
                assert_eq!(got, Err(TokenError::Expired { expired_at: v }));
            } else {
                assert_eq!(got, Ok(c));
            }
        }
    }

    #[test]
    fn any_changed_character_is_rejected() {
        let k = key();
        let t = k.sign(&Claims {
            extra: 3,
            ..claims(Purpose::Reply)
        });
        for i in 0..t.len() {
            for &c in ALPHABET.iter() {
                if t.as_bytes()[i] == c {
                    continue;
                }
                let mut bad = t.clone().into_bytes();
                bad[i] = c;
                let bad = String::from_utf8(bad).unwrap();
                let err = k.verify(&bad, Purpose::Reply, 0).unwrap_err();
                assert!(
                    matches!(err, TokenError::BadSignature | TokenError::Malformed),
                    "{bad}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn non_canonical_trailing_bits_are_rejected() {
        // 21 bytes = 168 bits = 34 chars, the last one carries 3 unused bits.
        let k = key();
        let t = k.sign(&Claims {
            campaign_id: 1 << 30,
            ..claims(Purpose::Reply)
        });
        assert_eq!(t.len() % 8, 2);
        let mut bad = t.into_bytes();
        let last = bad.last_mut().unwrap();
        *last = ALPHABET[(ALPHABET.iter().position(|c| c == last).unwrap()) | 1];
        let bad = String::from_utf8(bad).unwrap();
        assert_eq!(
            k.verify(&bad, Purpose::Reply, 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn garbage_and_truncation() {
        let k = key();
        let t = k.sign(&claims(Purpose::Reply));
        for bad in ["", "a", "!!!!", "abc1", &t[..t.len() - 1], &t[..10]] {
            assert!(k.verify(bad, Purpose::Reply, 0).is_err(), "{bad}");
        }
        let mut longer = t.clone();
        longer.push_str("aaaaaaaa");
        assert!(k.verify(&longer, Purpose::Reply, 0).is_err());
    }

    #[test]
    fn other_key_is_bad_signature() {
        let t = key().sign(&claims(Purpose::Reply));
        assert_eq!(
            TokenKey::from("another secret").verify(&t, Purpose::Reply, 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn wrong_purpose() {
        let k = key();
        let t = k.sign(&claims(Purpose::Reply));
        assert_eq!(
            k.verify(&t, Purpose::Unsubscribe, 0),
            Err(TokenError::WrongPurpose {
                expected: Purpose::Unsubscribe,
                actual: Purpose::Reply
            })
        );
    }

    #[test]
    fn expiry() {
        let k = key();
        let c = Claims {
            expires_at: Some(1_000),
            ..claims(Purpose::Confirm)
        };
        let t = k.sign(&c);
        assert_eq!(k.verify(&t, Purpose::Confirm, 999), Ok(c));
        assert_eq!(
            k.verify(&t, Purpose::Confirm, 1_000),
            Err(TokenError::Expired { expired_at: 1_000 })
        );
        let never = k.sign(&claims(Purpose::Confirm));
        assert!(k.verify(&never, Purpose::Confirm, i64::MAX).is_ok());
    }

    /// The MAC check is `Mac::verify_truncated_left` (digest 0.10: `subtle::ConstantTimeEq` over
    /// the first 10 bytes, no early exit). Here: every single flipped bit of the MAC, a MAC cut
    /// short or lengthened, and the payload of another purpose under this MAC are rejected.
    #[test]
    fn flipped_mac_bits_truncation_and_swapped_purpose_are_rejected() {
        let k = key();
        let c = Claims {
            expires_at: Some(2_000_000_000),
            ..claims(Purpose::Unsubscribe)
        };
        let raw = base32_decode(&k.sign(&c)).unwrap();
        let mac_start = raw.len() - MAC_LEN;
        for bit in 0..MAC_LEN * 8 {
            let mut bad = raw.clone();
            bad[mac_start + bit / 8] ^= 1 << (bit % 8);
            let t = base32_encode(&bad);
            assert_eq!(
                k.verify(&t, Purpose::Unsubscribe, 0),
                Err(TokenError::BadSignature),
                "MAC bit {bit}"
            );
            assert_eq!(
                k.verify_any_age(&t, Purpose::Unsubscribe),
                Err(TokenError::BadSignature)
            );
        }
        // Every bit of the payload too (header, ids, expiry): the MAC no longer matches.
        for bit in 0..mac_start * 8 {
            let mut bad = raw.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let err = k
                .verify(&base32_encode(&bad), Purpose::Unsubscribe, 0)
                .unwrap_err();
            assert_eq!(err, TokenError::BadSignature, "payload bit {bit}");
        }
        // MAC shortened by 1..=9 bytes (the check must not accept a prefix) or lengthened.
        for cut in 1..MAC_LEN {
            let t = base32_encode(&raw[..raw.len() - cut]);
            assert!(k.verify(&t, Purpose::Unsubscribe, 0).is_err(), "cut {cut}");
        }
        let mut longer = raw.clone();
        longer.push(0);
        assert!(k
            .verify(&base32_encode(&longer), Purpose::Unsubscribe, 0)
            .is_err());
        // Only the MAC, or nothing.
        assert!(k
            .verify(&base32_encode(&raw[mac_start..]), Purpose::Unsubscribe, 0)
            .is_err());
        // The same ids signed for another purpose do not pass as unsubscribe, and the purpose
        // bits cannot be edited without breaking the MAC.
        for p in [
            Purpose::Reply,
            Purpose::Bounce,
            Purpose::Preferences,
            Purpose::Rsvp,
            Purpose::Confirm,
        ] {
            let t = k.sign(&Claims {
                purpose: p,
                ..c.clone()
            });
            assert!(matches!(
                k.verify(&t, Purpose::Unsubscribe, 0),
                Err(TokenError::WrongPurpose { .. })
            ));
            let mut edited = base32_decode(&t).unwrap();
            edited[0] = (edited[0] & !0b111) | Purpose::Unsubscribe.code();
            assert_eq!(
                k.verify(&base32_encode(&edited), Purpose::Unsubscribe, 0),
                Err(TokenError::BadSignature)
            );
        }
        // The untouched token still verifies.
        assert_eq!(
            k.verify(&base32_encode(&raw), Purpose::Unsubscribe, 0),
            Ok(c)
        );
    }

    #[test]
    fn verify_any_age_skips_only_the_expiry() {
        let k = key();
        let c = Claims {
            expires_at: Some(1_000),
            ..claims(Purpose::Unsubscribe)
        };
        let t = k.sign(&c);
        assert_eq!(
            k.verify(&t, Purpose::Unsubscribe, 5_000),
            Err(TokenError::Expired { expired_at: 1_000 })
        );
        assert_eq!(k.verify_any_age(&t, Purpose::Unsubscribe), Ok(c));
        assert!(matches!(
            k.verify_any_age(&t, Purpose::Preferences),
            Err(TokenError::WrongPurpose { .. })
        ));
        assert_eq!(
            TokenKey::from("another secret").verify_any_age(&t, Purpose::Unsubscribe),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn upper_cased_token_verifies() {
        let k = key();
        let c = claims(Purpose::Bounce);
        let t = k.sign(&c).to_ascii_uppercase();
        assert_eq!(k.verify(&t, Purpose::Bounce, 0), Ok(c));
    }

    #[test]
    fn reply_and_bounce_tokens_fit_40_chars() {
        let k = key();
        for p in [Purpose::Reply, Purpose::Bounce] {
            let c = Claims {
                purpose: p,
                campaign_id: 9_999_999,
                contact_id: 9_999_999,
                extra: 9_999_999,
                expires_at: None,
            };
            let t = k.sign(&c);
            assert!(t.len() <= 40, "{} chars: {t}", t.len());
            // Even with an expiry in this century the bound holds when extra is 0.
            let t = k.sign(&Claims {
                extra: 0,
                expires_at: Some(4_000_000_000),
                ..c
            });
            assert!(t.len() <= 40, "{} chars: {t}", t.len());
        }
        // 1 header + 2 + 4 + 1 varint bytes + 10 MAC bytes = 18 bytes = 29 characters.
        assert_eq!(k.sign(&claims(Purpose::Reply)).len(), 29);
    }

    #[test]
    fn address_extraction() {
        let k = key();
        let t = k.sign(&claims(Purpose::Reply));
        let addr = format!("antwort+{t}@reply.example.org");
        assert_eq!(token_from_address(&addr, "antwort"), Some(t.as_str()));
        assert_eq!(token_from_address(&addr, "antwort+"), Some(t.as_str()));
        let upper = addr.to_ascii_uppercase();
        let got = token_from_address(&upper, "antwort").unwrap();
        assert!(k.verify(got, Purpose::Reply, 0).is_ok());
        assert_eq!(
            token_from_address(&format!(" <{addr}> "), "ANTWORT"),
            Some(t.as_str())
        );
        assert_eq!(token_from_address("antwort@x.org", "antwort"), None);
        assert_eq!(token_from_address("antwort+@x.org", "antwort"), None);
        assert_eq!(token_from_address("antwortx+abc@x.org", "antwort"), None);
        assert_eq!(token_from_address("bounce+abc@x.org", "antwort"), None);
        assert_eq!(token_from_address("antwort+abc", "antwort"), None);
        assert_eq!(token_from_address("an@x.org", "antwort"), None);
        assert_eq!(token_from_address("ä@x.org", "a"), None);
    }

    #[test]
    fn message_ids_are_deterministic_keyed_and_bound_to_campaign_and_contact() {
        let k = key();
        let mid = k.message_id(4711, 42, "netz.example.org");
        assert_eq!(
            mid,
            k.message_id(4711, 42, "netz.example.org"),
            "same delivery, same id"
        );
        let inner = mid.strip_prefix("<np.4711.42.").unwrap();
        let (mac, domain) = inner.strip_suffix('>').unwrap().split_once('@').unwrap();
        assert_eq!(domain, "netz.example.org");
        assert_eq!(mac.len(), 16);
        assert!(k.verify_message_id(4711, 42, mac));
        assert!(k.verify_message_id(4711, 42, &mac.to_ascii_uppercase()));
        assert!(!k.verify_message_id(4711, 43, mac));
        assert!(!k.verify_message_id(4712, 42, mac));
        assert!(!TokenKey::from("another secret").verify_message_id(4711, 42, mac));
        assert_ne!(
            mid,
            TokenKey::from("another secret").message_id(4711, 42, "netz.example.org")
        );
        for bad in ["", "a", &mac[..15], &format!("{mac}a"), "aaaaaaaaaaaaaaaa"] {
            assert!(!k.verify_message_id(4711, 42, bad), "{bad}");
        }
        // A token's MAC for the same ids is no Message-ID MAC.
        let t = k.sign(&Claims {
            purpose: Purpose::Reply,
            campaign_id: 4711,
            contact_id: 42,
            extra: 0,
            expires_at: None,
        });
        let raw = base32_decode(&t).unwrap();
        let token_mac = base32_encode(&raw[raw.len() - MAC_LEN..]);
        assert!(!k.verify_message_id(4711, 42, &token_mac));
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32_encode(raw.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), raw.as_bytes());
        }
    }
}
