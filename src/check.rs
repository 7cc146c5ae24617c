//! `netzpost check`: whether a configuration works, told part by part in plain words, without
//! sending or reading a message and without changing the database.

use crate::config::{Config, TransportKind};
use crate::store::Db;
use std::path::Path;

/// How a part stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Works,
    /// Works, but people or their mail providers will notice (an http link, the example's
    /// organisation name, no DKIM).
    Attention,
    /// Sending or reading cannot work like this.
    Blocks,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Works => "ok",
            Verdict::Attention => "note",
            Verdict::Blocks => "FAILS",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The part: "database", "sending", "replies", "web", "public URL", "DKIM", "organisation".
    pub part: &'static str,
    pub verdict: Verdict,
    pub text: String,
}

fn finding(part: &'static str, verdict: Verdict, text: impl Into<String>) -> Finding {
    Finding {
        part,
        verdict,
        text: text.into(),
    }
}

/// The whole report.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether something stops sending or reading mail.
    pub fn blocks(&self) -> bool {
        self.findings.iter().any(|f| f.verdict == Verdict::Blocks)
    }
}

/// Checks every part of `cfg`. Talks to the database, the SMTP and IMAP servers and binds the
/// HTTP address for a moment; sends nothing, reads no message, migrates nothing.
pub async fn run(cfg: &Config) -> Report {
    let mut findings = vec![database(cfg).await];
    findings.push(sending(cfg).await);
    findings.push(replies(cfg).await);
    findings.push(web(cfg).await);
    findings.push(public_url(cfg));
    findings.extend(dkim(cfg));
    findings.extend(organisation(cfg));
    Report { findings }
}

async fn database(cfg: &Config) -> Finding {
    let part = "database";
    let shown = crate::store::redact(&cfg.database);
    if let Some(file) = cfg.sqlite_file() {
        if !file.exists() {
            return finding(
                part,
                Verdict::Blocks,
                format!(
                    "{} does not exist (`netzpost migrate` creates it)",
                    file.display()
                ),
            );
        }
    }
    let db = match Db::connect(&cfg.database).await {
        Ok(db) => db,
        Err(e) => return finding(part, Verdict::Blocks, format!("unreachable: {e}")),
    };
    let state = db.schema_state().await;
    db.close().await;
    match state {
        Ok(s) if s.applied > s.known => finding(
            part,
            Verdict::Blocks,
            format!(
                "{shown}: made by a newer netzpost ({} migrations; this one knows {})",
                s.applied, s.known
            ),
        ),
        Ok(s) if s.pending() > 0 => finding(
            part,
            Verdict::Attention,
            format!(
                "{shown} answers; {} of {} migrations still to apply (`netzpost migrate` or the \
                 next start applies them)",
                s.pending(),
                s.known
            ),
        ),
        Ok(s) => finding(
            part,
            Verdict::Works,
            format!(
                "{shown} answers; schema up to date ({} migrations)",
                s.known
            ),
        ),
        Err(e) => finding(part, Verdict::Blocks, format!("{shown}: {e}")),
    }
}

async fn sending(cfg: &Config) -> Finding {
    let part = "sending";
    let o = &cfg.outbound;
    match o.transport {
        TransportKind::File => match writable(&o.outbox) {
            Ok(()) => finding(
                part,
                Verdict::Works,
                format!(
                    "into files in {} (nothing leaves this machine; set [outbound] transport = \
                     \"smtp\" to send)",
                    o.outbox.display()
                ),
            ),
            Err(e) => finding(part, Verdict::Blocks, e),
        },
        TransportKind::Sendmail => {
            let cmd = &o.sendmail_command;
            match std::fs::metadata(cmd) {
                Ok(m) if m.is_file() && is_executable(&m) => finding(
                    part,
                    Verdict::Works,
                    format!("through {} (the local mail server)", cmd.display()),
                ),
                Ok(_) => finding(
                    part,
                    Verdict::Blocks,
                    format!("{} is not an executable program", cmd.display()),
                ),
                Err(e) => finding(part, Verdict::Blocks, format!("{}: {e}", cmd.display())),
            }
        }
        TransportKind::Smtp => {
            let s = &o.smtp;
            let how = format!(
                "SMTP {}:{} ({}{})",
                s.host,
                s.port,
                match s.tls {
                    crate::transport::TlsMode::Tls => "TLS",
                    crate::transport::TlsMode::StartTls => "STARTTLS",
                    crate::transport::TlsMode::None => "no TLS",
                },
                match &s.username {
                    Some(u) => format!(", login {u}"),
                    None => ", no login".into(),
                }
            );
            let tc = crate::outbound::sender::transport_config(cfg);
            match crate::transport::Transport::connect(&tc).await {
                Ok(t) => {
                    t.close().await;
                    let verdict =
                        if s.tls == crate::transport::TlsMode::None && !is_loopback_host(&s.host) {
                            Verdict::Attention
                        } else {
                            Verdict::Works
                        };
                    let tail = if verdict == Verdict::Attention {
                        "; the connection is not encrypted"
                    } else {
                        ""
                    };
                    finding(part, verdict, format!("{how} accepts the connection{tail}"))
                }
                Err(e) => finding(part, Verdict::Blocks, format!("{how}: {e}")),
            }
        }
    }
}

async fn replies(cfg: &Config) -> Finding {
    let part = "replies";
    let i = &cfg.inbound;
    if cfg.organisation.reply_domain.trim().is_empty() {
        return finding(
            part,
            Verdict::Blocks,
            "[organisation] reply_domain is empty: replies cannot find their way back",
        );
    }
    if let Some(imap) = &i.imap {
        let ic = imap.to_imap_config();
        let how = format!(
            "IMAP {}:{} as {}, folder {}",
            ic.host, ic.port, ic.username, ic.mailbox
        );
        return match crate::imap::check(&ic).await {
            Ok(n) => finding(
                part,
                Verdict::Works,
                format!("{how}: logged in, {n} message(s) waiting"),
            ),
            Err(e) => finding(part, Verdict::Blocks, format!("{how}: {e}")),
        };
    }
    let mut problems = Vec::new();
    for sub in ["new", "cur"] {
        if let Err(e) = writable(&i.maildir.join(sub)) {
            problems.push(e);
        }
    }
    if problems.is_empty() {
        finding(
            part,
            Verdict::Works,
            format!(
                "read from the maildir {} (the mail server delivers replies there, or pipes \
                 them to `netzpost inbound ingest`)",
                i.maildir.display()
            ),
        )
    } else {
        finding(part, Verdict::Blocks, problems.join("; "))
    }
}

async fn web(cfg: &Config) -> Finding {
    let part = "web";
    let listen = &cfg.http.listen;
    match tokio::net::TcpListener::bind(listen.as_str()).await {
        Ok(l) => {
            drop(l);
            finding(
                part,
                Verdict::Works,
                format!("{listen} is free for `netzpost serve`"),
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => finding(
            part,
            Verdict::Attention,
            format!("{listen} is taken: by a running `netzpost serve`, or another program"),
        ),
        Err(e) => finding(
            part,
            Verdict::Blocks,
            format!("cannot listen on {listen}: {e}"),
        ),
    }
}

fn public_url(cfg: &Config) -> Finding {
    let part = "public URL";
    let url = &cfg.http.public_url;
    if url.starts_with("https://") {
        finding(part, Verdict::Works, format!("{url} (https)"))
    } else {
        finding(
            part,
            Verdict::Attention,
            format!(
                "{url} is not https: mail programs offer one-click unsubscribe only over https \
                 (RFC 8058), and browsers warn on the sign-up and preference pages"
            ),
        )
    }
}

fn dkim(cfg: &Config) -> Option<Finding> {
    let part = "DKIM";
    let Some(d) = &cfg.outbound.dkim else {
        return (cfg.outbound.transport != TransportKind::File).then(|| {
            finding(
                part,
                Verdict::Attention,
                "no key ([outbound.dkim]): many providers file unsigned mail as spam",
            )
        });
    };
    let key = match std::fs::read_to_string(&d.private_key_file) {
        Ok(k) => k,
        Err(e) => {
            return Some(finding(
                part,
                Verdict::Blocks,
                format!("key {}: {e}", d.private_key_file.display()),
            ))
        }
    };
    let signer = match crate::outbound::dkim::DkimSigner::new(&key, &d.selector, &d.domain) {
        Ok(s) => s,
        Err(e) => {
            return Some(finding(
                part,
                Verdict::Blocks,
                format!("key {}: {e}", d.private_key_file.display()),
            ))
        }
    };
    let sender_domain = domain_of(&cfg.organisation.sender);
    let aligned = sender_domain == d.domain || sender_domain.ends_with(&format!(".{}", d.domain));
    let record = format!(
        "publish at {}: TXT \"{}\"",
        signer.dns_name(),
        signer.dns_record()
    );
    Some(if aligned {
        finding(
            part,
            Verdict::Works,
            format!("key readable, selector {}; {record}", d.selector),
        )
    } else {
        finding(
            part,
            Verdict::Attention,
            format!(
                "signs for {} but mail is from {sender_domain}: DMARC needs the same domain; \
                 {record}",
                d.domain
            ),
        )
    })
}

/// The example configuration's identity, still in place: every mail's footer shows it.
fn organisation(cfg: &Config) -> Option<Finding> {
    let example = crate::config::Config::from_str_with_env(
        crate::config::EXAMPLE,
        "config/netzpost.toml",
        &[],
    )
    .ok()?;
    let (o, e) = (&cfg.organisation, &example.organisation);
    let mut left = Vec::new();
    if o.name == e.name {
        left.push(format!("name \"{}\"", o.name));
    }
    if o.address == e.address {
        left.push(format!("address \"{}\"", o.address));
    }
    for (key, value) in [
        ("sender", &o.sender),
        ("reply_domain", &o.reply_domain),
        ("organiser", &o.organiser),
    ] {
        if domain_of(value).ends_with(".example") || domain_of(value) == "example" {
            left.push(format!("{key} {value}"));
        }
    }
    Some(if left.is_empty() {
        finding(
            "organisation",
            Verdict::Works,
            format!("{}, {}", o.name, o.address),
        )
    } else {
        let verdict = if cfg.outbound.transport == TransportKind::File {
            Verdict::Attention
        } else {
            // Mail from a `.example` address cannot be delivered or answered.
            Verdict::Blocks
        };
        finding(
            "organisation",
            verdict,
            format!(
                "still the example's: {} ([organisation] in the configuration; people see it in \
                 every mail)",
                left.join(", ")
            ),
        )
    })
}

fn domain_of(address_or_domain: &str) -> String {
    address_or_domain
        .rsplit('@')
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches('>')
        .to_ascii_lowercase()
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// That a folder exists (or can be made) and takes a file; the probe file is removed again.
fn writable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let probe = dir.join(format!(".netzpost-check-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| format!("{}: cannot write there: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        let text = format!("{}\n{extra}", crate::config::EXAMPLE);
        Config::from_str_with_env(&text, "/tmp/netzpost-check-test/config/netzpost.toml", &[])
            .unwrap()
    }

    #[test]
    fn the_example_identity_is_named_and_blocks_real_sending() {
        let c = cfg("");
        let f = organisation(&c).unwrap();
        assert_eq!(f.verdict, Verdict::Attention, "{f:?}");
        assert!(f.text.contains("Netzwerk Nordstadt"), "{}", f.text);
        let mut c = c;
        c.outbound.transport = TransportKind::Smtp;
        assert_eq!(organisation(&c).unwrap().verdict, Verdict::Blocks);
        c.organisation.name = "Stadtteilbüro Linden".into();
        c.organisation.address = "Limmerstraße 1, 30451 Hannover".into();
        c.organisation.sender = "post@linden.de".into();
        c.organisation.reply_domain = "antwort.linden.de".into();
        c.organisation.organiser = "team@linden.de".into();
        assert_eq!(organisation(&c).unwrap().verdict, Verdict::Works);
    }

    #[test]
    fn http_public_url_is_one_line_of_attention() {
        let mut c = cfg("");
        let f = public_url(&c);
        assert_eq!(f.verdict, Verdict::Attention);
        assert!(
            f.text.contains("not https") && !f.text.contains('\n'),
            "{}",
            f.text
        );
        c.http.public_url = "https://post.linden.de".into();
        assert_eq!(public_url(&c).verdict, Verdict::Works);
    }

    #[test]
    fn domains_and_loopback() {
        assert_eq!(domain_of("Netz <post@Linden.DE>"), "linden.de");
        assert_eq!(domain_of("reply.linden.de"), "reply.linden.de");
        assert!(is_loopback_host("127.0.0.1") && is_loopback_host("[::1]"));
        assert!(!is_loopback_host("mail.linden.de"));
    }
}
