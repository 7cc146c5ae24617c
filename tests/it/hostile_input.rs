//! Hostile input: property tests (proptest) over everything that reads bytes from strangers.
//!
//! - `classify::analyze` (parse, kind, visible text, intent) on arbitrary bytes and on mutated
//!   real messages (seeded from tests/fixtures/inbound/*.eml, plus `NETZPOST_CORPORA` when set):
//!   no panic, bounded time;
//! - `import::parse` on arbitrary bytes and on generated CSV with quotes, delimiters, CR/LF, BOM
//!   and Latin-1: no panic, and every data row either lands or is rejected (nothing lost);
//! - `compose`: CR/LF in every field cannot add a header or a recipient.
//!
//! Template includes outside `templates/` are in `templates.rs`, spoofed replies in
//! `forged_replies.rs`.
//!
//! Plain `cargo test`: 256 cases per property unless `PROPTEST_CASES` says otherwise. A long run:
//! `PROPTEST_CASES=100000 cargo test --release --test it -- --nocapture hostile_input` (see
//! docs/reliability.md).

use netzpost::classify::{self, Rules};
use netzpost::outbound::compose::{compose, ComposeError, Outgoing};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// One message must be classified within this (debug build; release is ~10x faster).
const ANALYZE_LIMIT: Duration = Duration::from_secs(5);
/// One CSV file (up to a few hundred KiB) must be parsed within this.
const IMPORT_LIMIT: Duration = Duration::from_secs(5);

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // Shrinking a slow case can take long; a failure is printed with its input anyway.
        max_shrink_iters: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Real messages to start mutating from: the project's fixtures, and the shared corpora when
/// `NETZPOST_CORPORA` points at them (files up to 256 KiB).
static SEEDS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let mut files = Vec::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbound");
    collect(&fixtures, &mut files, 0);
    if let Ok(c) = std::env::var("NETZPOST_CORPORA") {
        collect(Path::new(&c), &mut files, 0);
    }
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| !b.is_empty() && b.len() <= 256 * 1024)
        .collect();
    assert!(
        seeds.len() >= 100,
        "expected the inbound fixtures as seeds, found {}",
        seeds.len()
    );
    seeds
});

fn collect(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() && depth < 6 {
            collect(&p, out, depth + 1);
        } else if p
            .extension()
            .is_some_and(|x| x == "eml" || x == "msg" || x == "txt")
        {
            out.push(p);
        }
    }
}

static ANALYZED: AtomicU64 = AtomicU64::new(0);
static SLOWEST_NS: AtomicU64 = AtomicU64::new(0);

fn analyze_bounded(raw: &[u8]) {
    // Built (rules compiled, model read) before the clock starts: the bound is on one analysis.
    let rules = Rules::builtin();
    let started = Instant::now();
    let r = classify::analyze(raw, &rules);
    let took = started.elapsed();
    ANALYZED.fetch_add(1, Ordering::Relaxed);
    SLOWEST_NS.fetch_max(took.as_nanos() as u64, Ordering::Relaxed);
    assert!(
        took < ANALYZE_LIMIT,
        "analyze took {took:?} on {} bytes",
        raw.len()
    );
    if let Ok(a) = r {
        assert!((0.0..=1.0).contains(&a.confidence), "{a:?}");
        assert!(!a.confidence.is_nan());
    }
}

/// Fragments that parsers find hard, spliced into real messages.
const NASTY: &[&[u8]] = &[
    b"\r\n\r\n",
    b"\n",
    b"\r",
    b"\0",
    b"\xff\xfe\xfd",
    b"=?utf-8?B?",
    b"=?iso-8859-1?Q?=E4=F6=FC?=",
    b"=?utf-8?q?=C3",
    b"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n",
    b"--x\r\nContent-Type: message/rfc822\r\n\r\n",
    b"--x--\r\n",
    b"Content-Transfer-Encoding: base64\r\n\r\n@@@@====",
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n=G=",
    b"Auto-Submitted: auto-replied\r\n",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n",
    b"Final-Recipient: rfc822; \r\nStatus: 5.1.1\r\n",
    b"In-Reply-To: <np.1.1@nordstadt.example>\r\n",
    b"To: antwort+aaaaaaaaaaaaaaaaaaaaaaaa@reply.nordstadt.example\r\n",
    b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPARTSTAT:ACCEPTED\r\n",
    b"> > > > > > > > > > > > > > > > > > > > > > > > > > > > > > > > >",
    b"Am Mo., 2. Dez. 2024 um 09:30 Uhr schrieb X <x@y>:\r\n",
    b"-- \r\n",
    b"<html><body><div><blockquote><table><tr><td>",
    b"ja nein abmelden kooperation 1 2 3 ?",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Nasty(usize, usize),
    Delete(usize, usize),
    Repeat(usize, usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(p, v)| Mutation::Insert(p, v)),
        (any::<usize>(), 0..NASTY.len()).prop_map(|(p, i)| Mutation::Nasty(p, i)),
        (any::<usize>(), 1usize..2048).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 1usize..256, 2usize..200).prop_map(|(p, n, k)| Mutation::Repeat(p, n, k)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let at = |p: usize, b: &Vec<u8>| if b.is_empty() { 0 } else { p % (b.len() + 1) };
        match m {
            Mutation::Flip(p, x) => {
                if !b.is_empty() {
                    let i = p % b.len();
                    b[i] ^= x;
                }
            }
            Mutation::Insert(p, v) => {
                let i = at(*p, &b);
                b.splice(i..i, v.iter().copied());
            }
            Mutation::Nasty(p, k) => {
                let i = at(*p, &b);
                b.splice(i..i, NASTY[*k].iter().copied());
            }
            Mutation::Delete(p, n) => {
                let i = at(*p, &b);
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Mutation::Repeat(p, n, k) => {
                let i = at(*p, &b);
                let end = (i + n).min(b.len());
                let chunk = b[i..end].to_vec();
                for _ in 0..*k {
                    b.splice(end..end, chunk.iter().copied());
                }
            }
            Mutation::Truncate(p) => {
                let i = at(*p, &b);
                b.truncate(i);
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn analyze_survives_arbitrary_bytes(raw in prop::collection::vec(any::<u8>(), 0..16 * 1024)) {
        analyze_bounded(&raw);
    }

    #[test]
    fn analyze_survives_header_like_noise(
        lines in prop::collection::vec(
            ("[A-Za-z-]{1,20}", "[ -~\t\u{80}-\u{10ffff}]{0,200}"), 0..60),
        body in "(?s).{0,2000}",
    ) {
        let mut raw = String::new();
        for (k, v) in &lines {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        raw.push_str(&body);
        analyze_bounded(raw.as_bytes());
    }

    #[test]
    fn analyze_survives_mutated_real_messages(
        seed in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..12),
    ) {
        let original = &SEEDS[seed.index(SEEDS.len())];
        let raw = apply(original.clone(), &muts);
        analyze_bounded(&raw);
    }

    #[test]
    fn import_parse_survives_arbitrary_bytes(raw in prop::collection::vec(any::<u8>(), 0..16 * 1024)) {
        let started = Instant::now();
        let _ = netzpost::import::parse(&raw, "fuzz.csv");
        prop_assert!(started.elapsed() < IMPORT_LIMIT);
        // With an e-mail header in front the rows are actually read.
        let mut with_header = b"email;name;sprache;themen\r\n".to_vec();
        with_header.extend_from_slice(&raw);
        let started = Instant::now();
        let parsed = netzpost::import::parse(&with_header, "fuzz.csv");
        prop_assert!(started.elapsed() < IMPORT_LIMIT);
        prop_assert!(parsed.is_ok(), "a file with an e-mail header parses: {:?}", parsed.err());
    }

    /// Generated CSV (quoted fields with delimiters, quotes, CR/LF, umlauts; optional BOM or
    /// Latin-1): no row is lost: every data row lands or is rejected with a reason.
    #[test]
    fn import_parse_loses_no_row(
        rows in prop::collection::vec(
            (
                prop_oneof![
                    "[a-z]{1,8}@[a-z]{1,8}\\.(de|org|example)",
                    "[a-z@. ]{0,12}",
                    "(?s).{1,20}",
                ],
                "(?s)[A-Za-zÄÖÜäöüß ;,\"\r\n\t|]{0,30}",
                prop_oneof![Just("de"), Just("en"), Just("Deutsch"), Just("xx"), Just("")],
                "[a-z;,| ]{0,20}",
            ),
            1..80),
        delimiter in prop_oneof![Just(b';'), Just(b','), Just(b'\t')],
        bom in any::<bool>(),
        latin1 in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let mut w = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .quote_style(csv::QuoteStyle::Necessary)
            .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
            .from_writer(Vec::new());
        w.write_record(["email", "name", "sprache", "themen"]).unwrap();
        let mut data_rows = 0;
        for (email, name, lang, topics) in &rows {
            // A row whose every field is blank is skipped on purpose (Excel's trailing lines).
            if [email.as_str(), name, lang, topics].iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            w.write_record([email.as_str(), name.as_str(), lang, topics.as_str()]).unwrap();
            data_rows += 1;
        }
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let mut bytes = Vec::new();
        if latin1 {
            let (enc, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
            if unmappable {
                return Ok(());
            }
            bytes.extend_from_slice(&enc);
        } else {
            if bom {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
            }
            bytes.extend_from_slice(text.as_bytes());
        }
        let started = Instant::now();
        let parsed = netzpost::import::parse(&bytes, "gen.csv").expect("header parses");
        prop_assert!(started.elapsed() < IMPORT_LIMIT);
        prop_assert_eq!(parsed.delimiter, delimiter);
        prop_assert_eq!(
            parsed.rows.len() + parsed.rejects.len(),
            data_rows,
            "rows {:?}\nrejects {:?}\nfile {:?}",
            parsed.rows.iter().map(|r| r.row.email.to_string()).collect::<Vec<_>>(),
            parsed.rejects,
            String::from_utf8_lossy(&bytes)
        );
        for r in &parsed.rejects {
            prop_assert!(!r.reason.is_empty());
        }
    }

    /// CR, LF and other controls in any field never make a new header line or a new recipient.
    #[test]
    fn compose_never_lets_a_field_add_a_header(
        name in "(?s)[A-Za-zÄö \r\n\t:\0\u{85}\u{2028}<>\"@,;]{0,60}",
        subject in "(?s)[A-Za-zÄö \r\n\t:\0\u{85}\u{2028}<>\"@,;]{0,80}",
        list_id in "(?s)[A-Za-z. \r\n:<>]{0,40}",
        inject in prop_oneof![
            Just("\r\nBcc: opfer@evil.example"),
            Just("\nBcc: opfer@evil.example"),
            Just("\rBcc: opfer@evil.example"),
            Just("\r\n\r\nX-Injected: body"),
            Just("\u{85}Bcc: opfer@evil.example"),
            Just("=?utf-8?Q?=0D=0ABcc:_opfer@evil.example?="),
        ],
        which in 0usize..4,
    ) {
        let mut fields = [name, subject, list_id, String::from("Netzwerk Nordstadt")];
        fields[which].push_str(inject);
        let [to_name, subject, list_id, from_name] = fields;
        let msg = outgoing(&from_name, Some(&to_name), &subject, Some(&list_id));
        match compose(&msg, None) {
            Ok((env, bytes)) => assert_no_injection(&env, &bytes),
            // A List-Id whose id part is not token-like is refused, never written.
            Err(ComposeError::Header { field: "list-id", .. }) => {}
            Err(e) => panic!("names and subjects always compose: {e}"),
        }
    }
}

fn outgoing(
    from_name: &str,
    to_name: Option<&str>,
    subject: &str,
    list_id: Option<&str>,
) -> Outgoing {
    Outgoing {
        from_name: from_name.into(),
        from_addr: "netzwerk@nordstadt.example".into(),
        to_name: to_name.map(str::to_owned),
        to_addr: "anna@nachbarn.example".into(),
        reply_to: "antwort+abcdefghijklmnop@reply.nordstadt.example".into(),
        reply_to_name: None,
        envelope_from: "bounce+abcdefghijklmnop@reply.nordstadt.example".into(),
        message_id: "<np.1.1@nordstadt.example>".into(),
        subject: subject.into(),
        text: "Hallo\r\nBcc: not-a-header-in-the-body@example.org\r\n".into(),
        html: Some("<p>Hallo</p>".into()),
        list_unsubscribe_url: Some("https://netz.example.org/u/abc".into()),
        list_unsubscribe_mailto: Some("mailto:abmelden+abc@reply.nordstadt.example".into()),
        list_id: list_id.map(str::to_owned),
        ics: None,
        date: chrono::Utc::now(),
        auto_submitted: None,
        in_reply_to: None,
        references: Vec::new(),
    }
}

fn assert_no_injection(env: &lettre::address::Envelope, bytes: &[u8]) {
    let rcpts: Vec<String> = env.to().iter().map(|a| a.to_string()).collect();
    assert_eq!(rcpts, vec!["anna@nachbarn.example".to_string()]);
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = &bytes[..end];
    // Every physical line is a header field or a folded continuation, and every line ends CRLF.
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(
            !line.contains(&b'\r'),
            "a bare CR in the header: {:?}",
            String::from_utf8_lossy(head)
        );
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            continue;
        }
        let name = line
            .split(|&b| b == b':')
            .next()
            .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
            .unwrap_or_default();
        assert!(
            !matches!(name.as_str(), "bcc" | "cc" | "x-injected"),
            "injected header {name:?}:\n{}",
            String::from_utf8_lossy(head)
        );
    }
    let count = |n: &str| {
        head.split(|&b| b == b'\n')
            .filter(|l| {
                l.len() > n.len()
                    && l[..n.len()].eq_ignore_ascii_case(n.as_bytes())
                    && l[n.len()] == b':'
            })
            .count()
    };
    for h in ["From", "To", "Subject", "Reply-To", "Message-ID"] {
        assert_eq!(count(h), 1, "{h}:\n{}", String::from_utf8_lossy(head));
    }
}

#[test]
fn zz_print_fuzz_figures() {
    // Runs last by name only when the tests run on one thread; the figures are a courtesy.
    println!(
        "fuzz: {} cases per property; analyze calls so far in this process: {}, slowest {:?}",
        cases(),
        ANALYZED.load(Ordering::Relaxed),
        Duration::from_nanos(SLOWEST_NS.load(Ordering::Relaxed))
    );
}

/// Inputs built to be slow: huge quotes, deep multipart nesting, endless headers, long lines.
#[test]
fn pathological_messages_finish_in_bounded_time() {
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut quotes = b"From: a@b.de\r\nSubject: Re: x\r\n\r\nJa\r\n".to_vec();
    for i in 0..40_000 {
        quotes.extend_from_slice(format!("{} zitat {i}\r\n", ">".repeat(i % 50 + 1)).as_bytes());
    }
    cases.push(("200k lines of nested quotes", quotes));
    let mut nested =
        b"From: a@b.de\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n".to_vec();
    for i in 0..2_000 {
        nested.extend_from_slice(
            format!(
                "--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
                i + 1
            )
            .as_bytes(),
        );
    }
    nested.extend_from_slice(b"--b2000\r\nContent-Type: text/plain\r\n\r\nja\r\n");
    cases.push(("2000 nested multiparts", nested));
    let mut headers = Vec::new();
    for i in 0..50_000 {
        headers.extend_from_slice(format!("X-H{i}: {}\r\n", "v".repeat(i % 80)).as_bytes());
    }
    headers.extend_from_slice(b"\r\nja");
    cases.push(("50k header lines", headers));
    let mut long = b"From: a@b.de\r\nSubject: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 2 << 20));
    long.extend_from_slice(b"\r\n\r\n");
    long.extend(std::iter::repeat_n(b'b', 4 << 20));
    cases.push(("2 MiB subject, 4 MiB body line", long));
    let mut encoded = b"From: a@b.de\r\nSubject: ".to_vec();
    for _ in 0..20_000 {
        encoded.extend_from_slice(b"=?utf-8?B?w6TDtsO8?= ");
    }
    encoded.extend_from_slice(b"\r\n\r\nja");
    cases.push(("20k encoded words", encoded));
    let mut plain = b"From: a@b.de\r\nSubject: Re\r\n\r\n".to_vec();
    for _ in 0..50_000 {
        plain.extend_from_slice(b"wort ");
    }
    cases.push(("50k plain words", plain));
    for (what, raw) in &cases {
        let started = Instant::now();
        let r = classify::analyze(raw, &Rules::builtin());
        let took = started.elapsed();
        println!(
            "pathological: {what} ({} KiB): {took:?} -> {:?}",
            raw.len() / 1024,
            r.as_ref().map(|a| (a.kind, a.intent))
        );
        assert!(took < Duration::from_secs(20), "{what}: {took:?}");
    }
    let mut csv = b"email;name\r\n".to_vec();
    csv.extend_from_slice(b"\"");
    csv.extend(std::iter::repeat_n(b'x', 8 << 20));
    let started = Instant::now();
    let p = netzpost::import::parse(&csv, "open-quote.csv");
    println!(
        "pathological: 8 MiB unterminated quote: {:?} -> {:?}",
        started.elapsed(),
        p.as_ref().map(|p| (p.rows.len(), p.rejects.len()))
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Intent words without a sentence break: every match looks back over the whole clause for a
/// negation, so the time grows with the square of the text (debug build, measured with
/// `netzpost inbound explain`: 5,000 words 17.5 s, 10,000 words 54 s, 20,000 words 246 s; plain
/// words without matches: 2 s). `MAX_TEXT_BYTES` (256 KiB, ~29,000 such words) does not bound
/// it. One such reply holds the daemon's loop (and so all sending) for minutes.
#[test]
fn long_text_full_of_intent_words_is_classified_in_bounded_time() {
    let mut words = b"From: a@b.de\r\nSubject: Re\r\n\r\n".to_vec();
    for i in 0..5_000 {
        words.extend_from_slice(if i % 7 == 0 {
            b"nicht ja "
        } else {
            b"abmelden "
        });
    }
    let started = Instant::now();
    let a = classify::analyze(&words, &Rules::builtin()).unwrap();
    let took = started.elapsed();
    println!(
        "5,000 intent words without a break ({} KiB): {took:?} -> {:?}",
        words.len() / 1024,
        a.intent
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn header_injection_in_every_field_is_neutralised_or_refused() {
    let evil = "x\r\nBcc: opfer@evil.example\r\nX-Injected: 1";
    // Names, subject and list id: the text is kept on one line.
    for (i, _) in ["from_name", "to_name", "subject", "list_id"]
        .iter()
        .enumerate()
    {
        let mut f = [
            "Netzwerk".to_string(),
            "Anna".to_string(),
            "Hallo".to_string(),
            "Nachbarschaft <nachbarschaft.example>".to_string(),
        ];
        f[i] = evil.to_string();
        let msg = outgoing(&f[0], Some(&f[1]), &f[2], Some(&f[3]));
        match compose(&msg, None) {
            Ok((env, bytes)) => assert_no_injection(&env, &bytes),
            Err(e) => {
                assert_eq!(i, 3, "only a bad List-Id may be refused: {e}");
                println!("refused: list_id: {e}");
            }
        }
    }
    // Addresses, the Message-ID and the List-Unsubscribe values: refused, or kept harmless.
    let mut refused = Vec::new();
    for field in [
        "from_addr",
        "to_addr",
        "reply_to",
        "envelope_from",
        "message_id",
        "list_unsubscribe_url",
        "list_unsubscribe_mailto",
    ] {
        let mut msg = outgoing("Netzwerk", Some("Anna"), "Hallo", None);
        let v = match field {
            "message_id" => "<np.1.1@nordstadt.example>\r\nBcc: opfer@evil.example".to_string(),
            _ => format!("anna@nachbarn.example{evil}"),
        };
        match field {
            "from_addr" => msg.from_addr = v,
            "to_addr" => msg.to_addr = v,
            "reply_to" => msg.reply_to = v,
            "envelope_from" => msg.envelope_from = v,
            "message_id" => msg.message_id = v,
            "list_unsubscribe_url" => msg.list_unsubscribe_url = Some(v),
            _ => msg.list_unsubscribe_mailto = Some(v),
        }
        match compose(&msg, None) {
            Err(e) => refused.push(format!("{field}: {e}")),
            Ok((env, bytes)) => assert_no_injection(&env, &bytes),
        }
    }
    println!("refused:\n  {}", refused.join("\n  "));
}
