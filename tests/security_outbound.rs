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
        for (j, body) in ["Bitte nehmen Sie mich aus dem Verteiler.", "Ja, ich komme gerne!"]
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
        assert!(stderr.contains(name), "{name}: names the campaign: {stderr}");
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
