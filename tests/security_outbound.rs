//! Issue 13, outbound and attribution: forged replies that name a guessed Message-ID (item 1),
//! campaign templates without a CPU or output limit (item 12), DKIM that left Content-Type
//! unsigned and From signed once (item 20).
//!
//! Everything goes through the real binary (`netzpost` CLI and `netzpost serve`) in a workspace
//! made by `netzpost init` with the file outbox, and runs in plain `cargo test`.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{Person, Workspace};

// ----- item 1: forged replies -----

/// A workspace where Anna and Bob got an invitation (sent into the file outbox).
fn invited() -> Workspace {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[
            Person::new("anna@nachbarn.example", "Anna", "de"),
            Person::new("bob@nachbarn.example", "Bob", "de"),
        ],
        "nachbarschaft",
        "confirmed",
    );
    send_cafe_invitation(&ws);
    ws
}

/// The Message-ID of the invitation in the outbox addressed to `to`.
fn sent_message_id(ws: &Workspace, to: &str) -> String {
    ws.outbox_messages()
        .into_iter()
        .find(|m| m.envelope_to == [to])
        .unwrap_or_else(|| panic!("no mail to {to} in the outbox"))
        .message_id()
}

/// Ingests a reply from Anna (no token in the recipient address) with `threading` headers.
fn ingest_reply(ws: &Workspace, name: &str, threading: &str, body: &str) {
    let raw = format!(
        "From: Anna <anna@nachbarn.example>\r\nTo: netzwerk@nordstadt.example\r\n\
         Subject: Re: Einladung\r\nMessage-ID: <{name}@mail.example>\r\n\
         Date: Mon, 9 Dec 2030 10:15:00 +0100\r\n{threading}\r\n{body}\r\n"
    );
    let file = ws.path().join(format!("{name}.eml"));
    std::fs::write(&file, raw).unwrap();
    ws.ok(&["inbound", "ingest", &file.to_string_lossy()]);
}

/// Decisions that changed something without a person looking.
fn applied(ws: &Workspace) -> Vec<Vec<String>> {
    ws.sql(
        "SELECT action, reason FROM decisions WHERE status = 'applied'
         AND action NOT IN ('note', 'auto_reply')",
    )
}

/// Anyone who knows Anna's address and our id scheme could write a reply "from" her naming the
/// invitation's Message-ID (`<np.CAMPAIGN.CONTACT@domain>`, ids counted up from 1, so a
/// References header can carry a range of guesses) and have it applied: an unsubscribe, or an
/// encounter with an acknowledgement mail. Our Message-IDs now carry a MAC under the secret:
/// guesses, the old form, a MAC of another delivery or another installation all go to review,
/// and only the id of the mail Anna really received proves the thread.
#[test]
fn a_forged_reply_naming_a_guessed_message_id_goes_to_review() {
    let ws = invited();
    let campaign = ws.sql_i64("SELECT id FROM campaigns WHERE name = 'einladung'");
    let anna = ws.sql_i64("SELECT id FROM contacts WHERE email = 'anna@nachbarn.example'");
    let domain = e2e::SENDER_DOMAIN;
    let real = sent_message_id(&ws, "anna@nachbarn.example");
    let (_, bob_mac) = sent_message_id(&ws, "bob@nachbarn.example")
        .trim_matches(['<', '>'])
        .split_once('@')
        .map(|(local, _)| local.rsplit_once('.').unwrap())
        .map(|(ids, mac)| (ids.to_string(), mac.to_string()))
        .unwrap();
    let other_installation = netzpost::token::TokenKey::new(b"another installation's secret!!!")
        .message_id(campaign, anna, domain);
    assert_ne!(real, format!("<np.{campaign}.{anna}@{domain}>"));

    let guesses: String = (1..=20)
        .flat_map(|c| (1..=5).map(move |k| format!("<np.{c}.{k}@{domain}>")))
        .collect::<Vec<_>>()
        .join(" ");
    let forged = [
        // The predictable form the probe used.
        format!("In-Reply-To: <np.{campaign}.{anna}@{domain}>\r\n"),
        // A range of guesses in References.
        format!("In-Reply-To: <CAfoo@mail.gmail.com>\r\nReferences: {guesses}\r\n"),
        // Bob's MAC on Anna's ids, and the right ids under another installation's secret.
        format!("In-Reply-To: <np.{campaign}.{anna}.{bob_mac}@{domain}>\r\n"),
        format!("In-Reply-To: {other_installation}\r\n"),
        // A MAC-shaped guess.
        format!("References: <np.{campaign}.{anna}.aaaaaaaaaaaaaaaa@{domain}>\r\n"),
    ];
    for (i, threading) in forged.iter().enumerate() {
        for (j, body) in [
            "Bitte nehmen Sie mich aus dem Verteiler.",
            "Ja, ich komme gerne!",
        ]
        .iter()
        .enumerate()
        {
            ingest_reply(&ws, &format!("forged-{i}-{j}"), threading, body);
            assert!(
                applied(&ws).is_empty(),
                "{threading:?} / {body:?} applied without review: {:?}",
                applied(&ws)
            );
        }
    }
    assert_eq!(
        ws.sql_i64(
            "SELECT COUNT(*) FROM inbound_messages WHERE attribution IN ('token', 'in_reply_to')"
        ),
        0,
        "no forged message counts as proof"
    );
    assert!(ws.sql_i64("SELECT COUNT(*) FROM decisions WHERE status = 'pending'") >= 10);
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM subscriptions WHERE status <> 'confirmed'"),
        0
    );
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM relations WHERE status IN ('interested', 'confirmed')"),
        0
    );
    let mails_before = ws.outbox_count();

    // The id of the mail Anna received (In-Reply-To as her mail client writes it) still proves
    // the thread: her yes is applied with an acknowledgement.
    ingest_reply(
        &ws,
        "real",
        &format!("In-Reply-To: {real}\r\nReferences: {real}\r\n"),
        "Ja, ich komme gerne!",
    );
    assert_eq!(
        ws.sql("SELECT attribution, contact_id, campaign_id FROM inbound_messages WHERE dedup_key LIKE '%real@mail.example%'"),
        [["in_reply_to".to_string(), anna.to_string(), campaign.to_string()]]
    );
    assert_eq!(applied(&ws).len(), 1, "{:?}", applied(&ws));
    assert!(ws.outbox_count() > mails_before, "acknowledgement sent");
}

// ----- item 12: template limits -----

const LOOP_BOMB: &str =
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
/// About 3 MB of text for little work: stopped by the output limit, not by the fuel.
const TEXT_BOMB: &str = "{% for i in range(3000) %}{{ \"y\" * 1000 }}{% endfor %}";

fn create_args<'a>(name: &'a str, body: &'a str) -> Vec<&'a str> {
    vec![
        "campaigns",
        "create",
        name,
        "--kind",
        "newsletter",
        "--topic",
        "nachbarschaft",
        "--body",
        body,
    ]
}

/// A campaign body that loops 100,000 x 100,000 times (or prints megabytes) took the daemon to
/// gigabytes of memory and made it deaf to SIGTERM. Rendering now runs on a fuel budget and an
/// output limit: `campaigns create` refuses such a template within seconds, with a clear error,
/// and stores nothing.
#[test]
fn campaigns_create_refuses_a_template_that_loops_or_prints_without_end() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    for (name, body, says) in [
        ("schleife", LOOP_BOMB, "too much work"),
        ("textflut", TEXT_BOMB, "too long"),
        ("im-betreff", "Hallo", "too much work"),
    ] {
        let started = std::time::Instant::now();
        let mut args = create_args(name, body);
        if name == "im-betreff" {
            args.extend(["--subject", LOOP_BOMB]);
        }
        let out = ws.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: created: {stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        assert!(
            stderr.contains(name),
            "{name}: names the campaign: {stderr}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM campaigns"), 0);
    // A normal template still passes.
    ws.ok(&create_args("normal", "Hallo {{ contact.name }}!"));
}

/// The same through the API of a running daemon: the request gets 422 with the reason, the
/// daemon keeps serving and stops on SIGTERM.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_refuses_a_looping_template_and_the_daemon_still_stops_on_sigterm() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    let token = ws.ok(&["tokens", "create", "skript"]).trim().to_string();
    let log = ws.path().join("var/serve.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = ws
        .command(&["serve"])
        .env("NETZPOST_LOG", "info")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let mut daemon = e2e::Guard {
        child,
        name: "netzpost serve".into(),
        log: Some(log.clone()),
    };
    let base = e2e::wait_for(
        "serve to listen",
        std::time::Duration::from_secs(60),
        std::time::Duration::from_millis(50),
        || {
            daemon.assert_running();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let line = text.lines().find(|l| l.contains("web server listening"))?;
            let addr = line.split("addr=").nth(1)?.split_whitespace().next()?;
            Some(format!("http://{addr}"))
        },
    );
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let r = http
        .post(format!("{base}/api/campaigns"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "name": "bombe", "kind": "newsletter", "topic": "nachbarschaft", "body": LOOP_BOMB,
        }))
        .timeout(std::time::Duration::from_secs(60))
        .send()
        .await
        .expect("an answer within a minute");
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("too much work"), "{body}");
    println!("refused after {:?}: {body}", started.elapsed());
    // Still serving.
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert!(r.status().is_success());
    let status = daemon.terminate(std::time::Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "serve did not stop cleanly on SIGTERM ({status:?}):\n{}",
        daemon.log_text()
    );
    // The SQL helper runs its own runtime: off this one.
    let campaigns = std::thread::scope(|s| {
        s.spawn(|| ws.sql_i64("SELECT COUNT(*) FROM campaigns"))
            .join()
            .unwrap()
    });
    assert_eq!(campaigns, 0);
}

// ----- item 20: DKIM covers Content-Type and over-signs From, Subject, To -----

/// A DKIM verifier written from RFC 6376 (relaxed/relaxed), independent of the signer: the
/// public key is what DNS would publish for the selector.
mod verify {
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
    send_cafe_invitation(&ws);
    let mails = ws.outbox_messages();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .header("Content-Type")
            .starts_with("multipart/alternative"),
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

/// The occasion "cafe" on the topic "nachbarschaft" and its invitation, sent into the outbox.
fn send_cafe_invitation(ws: &Workspace) {
    ws.ok(&[
        "occasions",
        "add",
        "cafe",
        "--title",
        "Café",
        "--start",
        "2030-05-12 15:00",
        "--topic",
        "nachbarschaft",
    ]);
    ws.ok(&[
        "campaigns",
        "create",
        "einladung",
        "--kind",
        "invitation",
        "--occasion",
        "cafe",
        "--body",
        "Kommen Sie vorbei!",
    ]);
    ws.ok(&["campaigns", "send", "einladung", "--wait"]);
}
