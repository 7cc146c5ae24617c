//! DKIM signatures (RFC 6376, relaxed/relaxed; rsa-sha256 or ed25519-sha256, RFC 8463) over
//! the finished message bytes.
//!
//! Signing the bytes that go out, not lettre's header map, is what lets the signature cover
//! `Content-Type`: lettre keeps a multipart's `Content-Type` with the MIME part, outside the
//! headers its own signer sees, so a relay could turn `multipart/alternative` into `mixed` (and
//! show the calendar part as an attachment, or hide a part) without breaking the signature.
//!
//! Every signed header is *over-signed*: `h=` names it once more than the message has it. A
//! verifier hashes an extra name as an empty header, so a `From`, `Subject` or `To` (or any other
//! signed header) added above ours later breaks the signature instead of being shown to the
//! reader with our signature still valid (RFC 6376, 8.15). A header we do not have is named once:
//! adding it later breaks the signature too.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Headers covered by the signature (the list headers must be, for RFC 8058 one-click).
const SIGNED: &[&str] = &[
    "From",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("DKIM key: {0}")]
    Key(String),
    /// A PKCS#8 key of another algorithm (RSA is read as PKCS#1 only).
    #[error("DKIM key: PKCS#8 key is not Ed25519; RSA keys must be PKCS#1")]
    NotEd25519,
    #[error("{field}: unusable value '{value}': letters, digits, '-', '_' and '.' only")]
    Name { field: &'static str, value: String },
}

enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// A DKIM key with its selector and signing domain.
pub struct DkimSigner {
    key: Key,
    selector: String,
    domain: String,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("algorithm", &self.algorithm())
            .field("selector", &self.selector)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// `key` is an RSA key in PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), an Ed25519 key in PKCS#8 PEM
    /// (`BEGIN PRIVATE KEY`, as `openssl genpkey -algorithm ed25519` writes it) or a base64
    /// Ed25519 seed. RSA keys in PKCS#8 are refused with the command that converts them.
    pub fn new(key: &str, selector: &str, domain: &str) -> Result<DkimSigner, DkimError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let key = key.trim();
        let key = if key.contains("-----BEGIN RSA PRIVATE KEY-----") {
            Key::Rsa(Box::new(
                rsa::RsaPrivateKey::from_pkcs1_pem(key)
                    .map_err(|e| DkimError::Key(e.to_string()))?,
            ))
        } else if key.contains("-----BEGIN PRIVATE KEY-----") {
            Key::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(
                &ed25519_seed_from_pkcs8(key)?,
            )))
        } else if key.starts_with("-----BEGIN") {
            return Err(DkimError::Key(
                "unsupported PEM type (use PKCS#1 RSA or PKCS#8 Ed25519)".into(),
            ));
        } else {
            let seed = base64::engine::general_purpose::STANDARD
                .decode(key)
                .map_err(|e| DkimError::Key(format!("not base64: {e}")))?;
            let seed: [u8; 32] = seed.try_into().map_err(|_| {
                DkimError::Key("an Ed25519 seed is 32 bytes (base64, 44 characters)".into())
            })?;
            Key::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
        };
        for (field, v) in [("DKIM selector", selector), ("DKIM domain", domain)] {
            if v.is_empty()
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            {
                return Err(DkimError::Name {
                    field,
                    value: v.to_string(),
                });
            }
        }
        Ok(DkimSigner {
            key,
            selector: selector.to_string(),
            domain: domain.to_string(),
        })
    }

    /// Where the public key is published: `SELECTOR._domainkey.DOMAIN`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record to publish at [`DkimSigner::dns_name`] (RFC 6376 section 3.6.1; RFC 8463 for
    /// Ed25519, whose `p=` is the raw 32-byte key).
    pub fn dns_record(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        match &self.key {
            Key::Rsa(k) => {
                use rsa::pkcs8::EncodePublicKey;
                let der = k
                    .to_public_key()
                    .to_public_key_der()
                    .map(|d| b64.encode(d.as_bytes()))
                    .unwrap_or_default();
                format!("v=DKIM1; k=rsa; p={der}")
            }
            Key::Ed25519(k) => format!(
                "v=DKIM1; k=ed25519; p={}",
                b64.encode(k.verifying_key().as_bytes())
            ),
        }
    }

    fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Rsa(_) => "rsa-sha256",
            Key::Ed25519(_) => "ed25519-sha256",
        }
    }

    /// `message` (CRLF line ends, header and body separated by an empty line) with a
    /// `DKIM-Signature` header in front.
    pub fn sign(&self, message: &[u8], unix_time: i64) -> Vec<u8> {
        let (head, body) = split_message(message);
        let fields = header_fields(head);
        let bh =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(relaxed_body(body)));

        // Each signed name once more than it occurs (over-signing), in the order of SIGNED.
        let mut names = Vec::new();
        for name in SIGNED {
            let n = fields
                .iter()
                .filter(|f| f.name.eq_ignore_ascii_case(name))
                .count();
            names.extend(std::iter::repeat_n(name.to_ascii_lowercase(), n + 1));
        }
        let value = format!(
            "v=1; a={}; c=relaxed/relaxed; d={}; s={}; t={unix_time};\r\n\th={};\r\n\tbh={bh};\r\n\tb=",
            self.algorithm(),
            self.domain,
            self.selector,
            names.join(":"),
        );
        let mut hasher = Sha256::new();
        // For each name, the last instance not yet used (RFC 6376 5.4.2); none: nothing.
        let mut used = vec![false; fields.len()];
        for name in &names {
            if let Some(i) = (0..fields.len())
                .rev()
                .find(|&i| !used[i] && fields[i].name.eq_ignore_ascii_case(name))
            {
                used[i] = true;
                hasher.update(relaxed_header(fields[i].name, fields[i].value));
                hasher.update(b"\r\n");
            }
        }
        hasher.update(relaxed_header("DKIM-Signature", value.as_bytes()));
        let hash = hasher.finalize();
        let signature = match &self.key {
            Key::Rsa(k) => k
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &hash)
                .expect("an RSA key of a usable size signs a SHA-256 digest"),
            Key::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(&hash).to_bytes().to_vec()
            }
        };
        let b = base64::engine::general_purpose::STANDARD.encode(signature);
        let mut out = Vec::with_capacity(message.len() + value.len() + b.len() + 64);
        out.extend_from_slice(b"DKIM-Signature: ");
        out.extend_from_slice(value.as_bytes());
        // The signature folded into lines of 72: whitespace inside b= is ignored.
        for (i, chunk) in b.as_bytes().chunks(72).enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n\t");
            }
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(message);
        out
    }
}

/// PKCS#8 Ed25519 keys are a fixed 16-byte DER prefix followed by the 32-byte seed (RFC 8410).
fn ed25519_seed_from_pkcs8(pem: &str) -> Result<[u8; 32], DkimError> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| DkimError::Key(format!("PEM body is not base64: {e}")))?;
    der.strip_prefix(&PREFIX[..])
        .and_then(|seed| <[u8; 32]>::try_from(seed).ok())
        .ok_or(DkimError::NotEd25519)
}

/// Head (without the empty line) and body of a message.
fn split_message(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&message[..i + 2], &message[i + 4..]),
        None => (message, &[]),
    }
}

struct Field<'a> {
    name: &'a str,
    /// Everything after the colon, folds included, without the final CRLF.
    value: &'a [u8],
}

/// The header fields of `head` in order; a line starting with a space or tab continues the
/// field before it.
fn header_fields(head: &[u8]) -> Vec<Field<'_>> {
    let mut fields: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    while pos < head.len() {
        let end = head[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(head.len(), |i| pos + i);
        match (head[pos], fields.last_mut()) {
            (b' ' | b'\t', Some(last)) => last.1 = end,
            _ => fields.push((pos, end)),
        }
        pos = end + 2;
    }
    fields
        .into_iter()
        .filter_map(|(start, end)| {
            let raw = &head[start..end];
            let colon = raw.iter().position(|&b| b == b':')?;
            Some(Field {
                name: std::str::from_utf8(&raw[..colon]).ok()?.trim_end(),
                value: &raw[colon + 1..],
            })
        })
        .collect()
}

/// `name:value` in relaxed form (RFC 6376 3.4.2), without the CRLF: the name lower-cased, folds
/// unfolded, runs of whitespace one space, whitespace at the ends of the value removed.
fn relaxed_header(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = name.trim().to_ascii_lowercase().into_bytes();
    out.push(b':');
    let (mut space, mut started) = (false, false);
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && started {
                    out.push(b' ');
                }
                (space, started) = (false, true);
                out.push(b);
            }
        }
    }
    out
}

/// The body in relaxed form (RFC 6376 3.4.4): whitespace at line ends removed, runs of it one
/// space, empty lines at the end removed, CRLF after the last line.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    if body.ends_with(b"\n") {
        lines.pop();
    }
    let mut pending_empty = 0;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut l = Vec::with_capacity(line.len());
        let mut space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    l.push(b' ');
                }
                space = false;
                l.push(b);
            }
        }
        if l.is_empty() {
            pending_empty += 1;
            continue;
        }
        for _ in 0..pending_empty {
            out.extend_from_slice(b"\r\n");
        }
        pending_empty = 0;
        out.extend_from_slice(&l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_forms_follow_rfc6376_examples() {
        // RFC 6376 3.4.6: "A: X\r\nB : Y\t\r\n\tZ  \r\n" -> "a:X\r\nb:Y Z\r\n".
        let head = b"A: X\r\nB : Y\t\r\n\tZ  \r\n";
        let fields = header_fields(head);
        assert_eq!(fields.len(), 2);
        assert_eq!(relaxed_header(fields[0].name, fields[0].value), b"a:X");
        assert_eq!(relaxed_header(fields[1].name, fields[1].value), b"b:Y Z");
        assert_eq!(
            relaxed_header("Subject", b" Re:  x : y "),
            b"subject:Re: x : y"
        );
        // " C \r\nD \t E\r\n\r\n\r\n" -> " C\r\nD E\r\n".
        assert_eq!(relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(b""), b"");
        assert_eq!(relaxed_body(b"a\r\n\r\nb"), b"a\r\n\r\nb\r\n");
    }
}
