//! DKIM signs Content-Type and over-signs From, Subject and To, so that a relay or forwarder
//! cannot change the structure or add a second From without breaking the signature: checked by
//! a verifier written from RFC 6376 here, for Ed25519 (through the real binary) and RSA keys.

use crate::support::{Person, Workspace};

/// A DKIM verifier written from RFC 6376 (relaxed/relaxed), independent of the signer: the
/// public key is what DNS would publish for the selector.
pub(crate) mod verify {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};

    pub enum PublicKey {
        Rsa(rsa::RsaPublicKey),
        Ed25519(ed25519_dalek::VerifyingKey),
    }

    fn fields(head: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                let last = out.last_mut().expect("continuation after a field");
                last.1.push_str("\r\n");
                last.1.push_str(line);
            } else if let Some((k, v)) = line.split_once(':') {
                out.push((k.to_string(), v.to_string()));
            }
        }
        out
    }

    fn wsp_runs(s: &str) -> String {
        let mut out = String::new();
        for (i, part) in s.split([' ', '\t']).filter(|p| !p.is_empty()).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(part);
        }
        out
    }

    fn canon_header(name: &str, value: &str) -> String {
        let unfolded = value.replace("\r\n", "");
        format!(
            "{}:{}",
            name.trim().to_lowercase(),
            wsp_runs(unfolded.trim_matches([' ', '\t']))
        )
    }

    /// Relaxed body: whitespace at line ends removed, runs of it one space (leading ones
    /// too), empty lines at the end removed, each line ended by CRLF.
    fn canon_body(body: &str) -> String {
        let mut lines: Vec<String> = body
            .split("\r\n")
            .map(|l| {
                let lead = if l.starts_with([' ', '\t']) && !l.trim().is_empty() {
                    " "
                } else {
                    ""
                };
                format!("{lead}{}", wsp_runs(l))
            })
            .collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines.iter().map(|l| format!("{l}\r\n")).collect()
    }

    /// The `h=` tag of the first DKIM-Signature, without whitespace.
    pub fn signed_headers(raw: &[u8]) -> String {
        let text = String::from_utf8_lossy(raw);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        fields(head)
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("DKIM-Signature"))
            .and_then(|(_, v)| {
                v.split(';')
                    .filter_map(|t| t.split_once('='))
                    .find(|(k, _)| k.trim() == "h")
                    .map(|(_, v)| v.chars().filter(|c| !c.is_whitespace()).collect())
            })
            .unwrap_or_default()
    }

    /// Checks the first DKIM-Signature of `raw`. Err says what failed.
    pub fn dkim(raw: &[u8], key: &PublicKey) -> Result<(), String> {
        let text = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no body")?;
        let fields = fields(head);
        let (sig_name, sig_value) = fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("DKIM-Signature"))
            .ok_or("no DKIM-Signature")?;
        let tags: Vec<(String, String)> = sig_value
            .split(';')
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| {
                let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
                (k.trim().to_string(), v)
            })
            .collect();
        let tag = |k: &str| {
            tags.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .ok_or(format!("no {k}="))
        };
        if tag("c")? != "relaxed/relaxed" {
            return Err(format!("c={}", tag("c")?));
        }
        let bh = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(canon_body(body)));
        if bh != tag("bh")? {
            return Err("body hash differs".into());
        }
        let mut used = vec![false; fields.len()];
        let mut hashed = String::new();
        for name in tag("h")?.split(':') {
            if let Some(i) = (0..fields.len())
                .rev()
                .find(|&i| !used[i] && fields[i].0.trim().eq_ignore_ascii_case(name))
            {
                used[i] = true;
                hashed.push_str(&canon_header(&fields[i].0, &fields[i].1));
                hashed.push_str("\r\n");
            }
        }
        // The signature header itself with the value of b= removed.
        let start = sig_value
            .match_indices("b=")
            .find(|(i, _)| {
                *i == 0
                    || sig_value[..*i]
                        .trim_end_matches([' ', '\t', '\r', '\n'])
                        .ends_with(';')
            })
            .map(|(i, _)| i + 2)
            .ok_or("no b=")?;
        let end = sig_value[start..]
            .find(';')
            .map_or(sig_value.len(), |e| start + e);
        let without_b = format!("{}{}", &sig_value[..start], &sig_value[end..]);
        hashed.push_str(&canon_header(sig_name, &without_b));
        let hash = Sha256::digest(hashed.as_bytes());
        let b = base64::engine::general_purpose::STANDARD
            .decode(tag("b")?)
            .map_err(|e| e.to_string())?;
        let ok = match key {
            PublicKey::Rsa(k) => {
                tag("a")? == "rsa-sha256"
                    && k.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hash, &b)
                        .is_ok()
            }
            PublicKey::Ed25519(k) => {
                tag("a")? == "ed25519-sha256"
                    && ed25519_dalek::Signature::from_slice(&b)
                        .is_ok_and(|s| k.verify_strict(&hash, &s).is_ok())
            }
        };
        ok.then_some(()).ok_or("signature does not verify".into())
    }
}

/// `raw` with `from` replaced once (panics if absent).
fn replaced(raw: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(raw.to_vec()).unwrap();
    assert!(text.contains(from), "{from} not in the message");
    text.replacen(from, to, 1).into_bytes()
}

fn prepended(raw: &[u8], header: &str) -> Vec<u8> {
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(raw);
    out
}

/// What a relay or a forwarder must not be able to change without breaking the signature.
fn assert_tampering_breaks(raw: &[u8], key: &verify::PublicKey) {
    verify::dkim(raw, key).expect("the message as sent verifies");
    let sig = verify::signed_headers(raw);
    for h in ["from:from", "subject:subject", "to:to", "content-type"] {
        assert!(sig.contains(h), "h= lacks {h}: {sig}");
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "multipart/alternative -> mixed",
            replaced(raw, "multipart/alternative", "multipart/mixed"),
        ),
        (
            "a second From above ours",
            prepended(raw, "From: Stadtverwaltung <amt@evil.example>\r\n"),
        ),
        (
            "a second Subject above ours",
            prepended(raw, "Subject: Ihr Konto wird gesperrt\r\n"),
        ),
        (
            "a second To above ours",
            prepended(raw, "To: someone@evil.example\r\n"),
        ),
        (
            "a second Content-Type above ours",
            prepended(raw, "Content-Type: text/plain\r\n"),
        ),
    ];
    for (what, bytes) in cases {
        assert!(verify::dkim(&bytes, key).is_err(), "{what}: still verifies");
    }
}

/// DKIM left `Content-Type` unsigned (a relay could turn multipart/alternative into mixed and
/// the signature held) and signed From once (a second From above ours, which many clients
/// show, kept the signature valid). Through the real binary with an Ed25519 key, an invitation
/// (text, HTML and calendar in multipart/alternative) from the file outbox.
#[test]
fn dkim_signs_content_type_and_over_signs_from_subject_and_to() {
    let ws = Workspace::new();
    let seed = [42u8; 32];
    std::fs::write(
        ws.path().join("config/dkim.key"),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, seed),
    )
    .unwrap();
    ws.append_config(
        "[outbound.dkim]\nselector = \"np2026\"\ndomain = \"nordstadt.example\"\nprivate_key_file = \"config/dkim.key\"\n",
    );
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[Person::new("anna@nachbarn.example", "Anna", "de")],
        "nachbarschaft",
        "confirmed",
    );
    ws.send_cafe_invitation();
    let mails = ws.outbox_messages();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .header("Content-Type")
            .starts_with("multipart/mixed"),
        "{}",
        mails[0].head()
    );
    let key =
        verify::PublicKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key());
    assert_tampering_breaks(&mails[0].raw, &key);
}

/// The same for an RSA key (rsa-sha256), composed in this process.
#[test]
fn dkim_with_rsa_signs_content_type_and_over_signs() {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let private = rsa::RsaPrivateKey::from_pkcs1_pem(RSA_TEST_KEY).unwrap();
    let pem = RSA_TEST_KEY;
    let signer =
        netzpost::outbound::compose::DkimSigner::new(pem, "np2026", "nordstadt.example").unwrap();
    let msg = netzpost::outbound::compose::Outgoing {
        from_name: "Netzwerk Nordstadt".into(),
        from_addr: "netzwerk@nordstadt.example".into(),
        to_name: Some("Anna".into()),
        to_addr: "anna@nachbarn.example".into(),
        reply_to: "antwort+abc@reply.nordstadt.example".into(),
        reply_to_name: None,
        envelope_from: "bounce+abc@reply.nordstadt.example".into(),
        message_id: "<np.1.1.aaaaaaaaaaaaaaaa@nordstadt.example>".into(),
        subject: "Einladung: Café".into(),
        text: "Kommen Sie vorbei!\n\nViele Grüße".into(),
        html: Some("<p>Kommen Sie vorbei!</p>".into()),
        list_unsubscribe_url: Some("https://netz.example.org/u/abc".into()),
        list_unsubscribe_mailto: Some("abmelden+abc@reply.nordstadt.example".into()),
        list_id: None,
        ics: None,
        date: chrono::Utc::now(),
        auto_submitted: None,
        in_reply_to: None,
        references: Vec::new(),
    };
    let (_, raw) = netzpost::outbound::compose::compose(&msg, Some(&signer)).unwrap();
    let key = verify::PublicKey::Rsa(rsa::RsaPublicKey::from(&private));
    assert_tampering_breaks(&raw, &key);
}

/// A 1024-bit test key (generating one in a debug build takes long).
const RSA_TEST_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDLYgB+pEy/HFRniD+HXNceVe7FEK1ez7FFUiXPT8LeHiZ82C5w
8xs1Dt/CoX5Ca6BwMUsig0ecfLte3oAjTT9qZC5vdjjkoI6Vdepe0yLcDTooKr0e
h2+jRf6gZkBMY360QX80+cKizkDIZIlE+xs0IUZ6abXqWPDVo9bjXClLmwIDAQAB
AoGAeF80c7/CPIoD2pLlJrRoDWhGvRO1yJucC68m+Z/3cYbeuJ0qP2di/vAitwrl
s2IHvt8t3OteAtw/+VIu/LXHhZ5Q+se5wezQwP58gpu/qTmDO88/H7GRRsKe1XM9
sN/3g8TCfcXOtFlULb54OnZbmWBw4N0yO7CWIVXnAtulkOECQQDmQtN0vGPU0y7D
vrd1d9MEwRuZSVCAcIIvjUZNC4Ukv6yeXllXd4Aky0FNnWfOn8yXPHuO/EivQ7Dq
K0cpBDZlAkEA4h4GqCU9kI1ZBp0qi52J22D2sVL4ZQbV+wd2HxlZF/0SRkqUWipw
JT6svqdFVKzutN8IxF7PV6qLKCAU4fZZ/wJBAMTXUd9UgV9Z3Xt22WyxL5K75nUG
6Ku0AobWFcgdVgfRV6bW7zdHsCNEIqJQMoK/tu1+xf25DAXQLzgwIRgeQsUCQQCR
l6/FmKT5bGnEPnJkjz1yig6NwtS5iBtDlVxTTej17zdTFzZKkETBVoe4AtA7Y1YY
E/v7JOjwk5kibvXDQPJVAkBPkRdki0i3j8vm/6ExaRlK26Ibc5cR+7eCwAwdRgzY
1bw8rZ6k+yXBC5bb3KtuFIsy3yendvScm39YFyfsghhO
-----END RSA PRIVATE KEY-----";
