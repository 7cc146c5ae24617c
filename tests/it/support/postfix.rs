//! A private, real Postfix (Debian's `postfix`) for the mail-loop tests: its own configuration
//! directory, queue and Maildirs under a fresh temporary directory, listening on 127.0.0.1 only
//! on a free port, started with `postfix -c DIR start` (as root) and stopped on drop. The system's
//! Postfix is never touched. Panics loudly when Postfix is missing.
//!
//! What it does with mail, as a real installation does:
//! - every domain of a [`Routes::mailboxes`] address is accepted for any user at SMTP time (a
//!   relay domain) and delivered by virtual(8) into `mail/<domain>/<user>/` afterwards, so an
//!   unknown user there gets a real DSN (as from a remote MX that accepts first and bounces);
//! - each [`Routes::refusing`] domain is routed to a second listener that refuses every
//!   recipient with 550 5.1.2, so Postfix's SMTP client bounces with a real DSN;
//! - the reply domain accepts only `antwort+…`, `bounce+…` and `abmelden+…` (others are refused
//!   at RCPT) and hands them to a pipe command or into one Maildir ([`ReplyDelivery`]);
//! - everything else fails (`default_transport = error:`): nothing leaves the machine.

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

pub const POSTFIX: &str = "/usr/sbin/postfix";
pub const NEEDS: &str = "needs Postfix: apt-get install postfix (run by .ci/run)";
/// Who the pipe command and the Maildirs belong to (nobody:nogroup): Postfix never runs a pipe
/// command as root.
pub const MAIL_UID: u32 = 65534;
pub const MAIL_GID: u32 = 65534;
/// The local parts the reply domain accepts (each with `+` and a token).
pub const REPLY_LOCAL_PARTS: [&str; 3] = ["antwort", "bounce", "abmelden"];

/// Where mail for the reply domain goes.
pub enum ReplyDelivery {
    /// To this command (argv), run by pipe(8) as nobody, one recipient per delivery.
    Pipe(Vec<String>),
    /// Into this Maildir (owned by nobody), e.g. one that Dovecot serves.
    Maildir(PathBuf),
}

pub struct Routes {
    /// Addresses that have a Maildir.
    pub mailboxes: Vec<String>,
    /// Domains whose mail server refuses every recipient.
    pub refusing: Vec<String>,
    pub reply_domain: String,
    pub reply: ReplyDelivery,
}

/// A private Postfix; stopped on drop, also when the test panics.
pub struct Postfix {
    pub dir: tempfile::TempDir,
    /// The configuration directory (`-c`).
    pub conf: PathBuf,
    /// The SMTP listener for everyone: netzpost and the mail clients of the tests.
    pub port: u16,
    running: bool,
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}; this test {NEEDS}"))
}

impl Postfix {
    pub fn start(routes: &Routes) -> Postfix {
        assert!(
            Path::new(POSTFIX).exists(),
            "{POSTFIX} is missing: this test {NEEDS}"
        );
        let dir = tempfile::Builder::new()
            .prefix("netzpost-postfix-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        // Postfix's daemons (user postfix) and the delivery agents (nobody) pass through it.
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
        let conf = root.join("conf");
        fs::create_dir(&conf).unwrap();
        fs::create_dir(root.join("queue")).unwrap();
        let mail = root.join("mail");
        fs::create_dir(&mail).unwrap();
        std::os::unix::fs::chown(&mail, Some(MAIL_UID), Some(MAIL_GID)).unwrap();

        let port = free_port();
        let refuse_port = free_port();
        let r = root.display();
        let c = conf.display();
        // virtual(8) prepends virtual_mailbox_base to every map value; "/" lets a value name
        // any folder (a Maildir here, or the one Dovecot serves).
        let rel = |p: &Path| p.display().to_string().trim_start_matches('/').to_string();

        let mut mailbox_domains: Vec<String> = Vec::new();
        let mut mailboxes = String::new();
        for addr in &routes.mailboxes {
            let (user, domain) = addr.split_once('@').expect("an address");
            let domain = domain.to_ascii_lowercase();
            let maildir = mail.join(&domain).join(user.to_ascii_lowercase());
            mailboxes.push_str(&format!("{addr} {}/\n", rel(&maildir)));
            if !mailbox_domains.contains(&domain) {
                mailbox_domains.push(domain);
            }
        }
        // The reply domain as docs/mail-server.md configures it: a relay domain whose three
        // addresses go to the pipe, or a virtual mailbox domain whose three addresses share one
        // Maildir. Either way other addresses there are refused at RCPT.
        let reply = &routes.reply_domain;
        let mut relay_recipients = String::new();
        let mut transport = String::new();
        let mut relay_domains = Vec::new();
        let mut virtual_domains = "";
        match &routes.reply {
            ReplyDelivery::Pipe(_) => {
                relay_domains.push(reply.clone());
                for local in REPLY_LOCAL_PARTS {
                    relay_recipients.push_str(&format!("{local}@{reply} OK\n"));
                }
                transport.push_str(&format!("{reply} netzpost:\n"));
            }
            ReplyDelivery::Maildir(maildir) => {
                virtual_domains = reply;
                for local in REPLY_LOCAL_PARTS {
                    mailboxes.push_str(&format!("{local}@{reply} {}/\n", rel(maildir)));
                }
            }
        }
        for d in &mailbox_domains {
            relay_recipients.push_str(&format!("@{d} OK\n"));
            transport.push_str(&format!("{d} virtual:\n"));
        }
        for d in &routes.refusing {
            transport.push_str(&format!("{d} smtp:[127.0.0.1]:{refuse_port}\n"));
        }
        fs::write(conf.join("mailboxes"), mailboxes).unwrap();
        fs::write(conf.join("relay-recipients"), relay_recipients).unwrap();
        fs::write(conf.join("transport"), transport).unwrap();

        relay_domains.extend(mailbox_domains.iter().cloned());
        let relay_domains = relay_domains.join(" ");
        fs::write(
            conf.join("main.cf"),
            format!(
                r#"compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {r}/maillog
maillog_file_prefixes = {r}
myhostname = mx.postfix.test
mydestination =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
smtp_dns_support_level = disabled
default_transport = error:5.3.0 this test delivers nothing outside
recipient_delimiter = +
relay_domains = {relay_domains}
relay_recipient_maps = hash:{c}/relay-recipients
transport_maps = hash:{c}/transport
virtual_mailbox_domains = {virtual_domains}
virtual_mailbox_base = /
virtual_mailbox_maps = hash:{c}/mailboxes
virtual_uid_maps = static:{MAIL_UID}
virtual_gid_maps = static:{MAIL_GID}
# One recipient per pipe delivery: its Delivered-To header names the one token.
netzpost_destination_recipient_limit = 1
# Retries within seconds, not minutes: an exit 75 from the pipe is retried while a test waits.
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
"#
            ),
        )
        .unwrap();
        let pipe = match &routes.reply {
            ReplyDelivery::Pipe(argv) => format!(
                "netzpost  unix  -       n       n       -       -       pipe\n  \
                 flags=DOR user=nobody:nogroup argv={}\n",
                argv.join(" ")
            ),
            ReplyDelivery::Maildir(_) => String::new(),
        };
        fs::write(
            conf.join("master.cf"),
            format!(
                r#"127.0.0.1:{port} inet n - n - - smtpd
127.0.0.1:{refuse_port} inet n - n - - smtpd
  -o myhostname=mx.refusing.test
  -o {{ smtpd_recipient_restrictions = check_recipient_access static:{{550 5.1.2 this domain accepts no mail}} }}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
{pipe}"#
            ),
        )
        .unwrap();
        let mut postfix = Postfix {
            dir,
            conf,
            port,
            running: false,
        };
        for map in ["mailboxes", "relay-recipients", "transport"] {
            let out = run(Command::new("postmap")
                .arg("-c")
                .arg(&postfix.conf)
                .arg(postfix.conf.join(map)));
            assert!(out.status.success(), "postmap {map}: {out:?}");
        }
        postfix.up();
        postfix
    }

    /// `postfix start` (it checks the configuration and creates the queue first), then waits
    /// until the listener answers.
    fn up(&mut self) {
        let out = run(Command::new(POSTFIX).arg("-c").arg(&self.conf).arg("start"));
        assert!(
            out.status.success(),
            "postfix start failed ({}): {}{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        self.running = true;
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "postfix did not answer on port {} within 15 s:\n{}",
                self.port,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `postfix stop`: the master ends its children and exits (killed after 5 s by the script).
    pub fn stop(&mut self) {
        if std::mem::take(&mut self.running) {
            let _ = Command::new(POSTFIX)
                .arg("-c")
                .arg(&self.conf)
                .arg("stop")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// `postqueue -f`: deliver what waits in the deferred queue now.
    pub fn flush(&self) {
        let out = run(Command::new("postqueue")
            .arg("-c")
            .arg(&self.conf)
            .arg("-f"));
        assert!(out.status.success(), "postqueue -f: {out:?}");
    }

    /// `postqueue -p`: what is still queued ("Mail queue is empty" when nothing).
    pub fn queue(&self) -> String {
        let out = run(Command::new("postqueue")
            .arg("-c")
            .arg(&self.conf)
            .arg("-p"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The mail log.
    pub fn logs(&self) -> String {
        fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The Maildir of `addr` (one of [`Routes::mailboxes`]).
    pub fn maildir(&self, addr: &str) -> PathBuf {
        let (user, domain) = addr.split_once('@').expect("an address");
        self.dir
            .path()
            .join("mail")
            .join(domain.to_ascii_lowercase())
            .join(user.to_ascii_lowercase())
    }

    /// The messages delivered into `addr`'s Maildir (new/ and cur/), oldest first by name.
    pub fn delivered(&self, addr: &str) -> Vec<Vec<u8>> {
        maildir_messages(&self.maildir(addr))
    }

    /// Submits `raw` over SMTP, as a mail client does: MAIL FROM `from`, RCPT TO `to`.
    pub fn submit(&self, from: &str, to: &[&str], raw: &[u8]) {
        self.try_submit(from, to, raw)
            .unwrap_or_else(|e| panic!("submit from {from} to {to:?}: {e}\n{}", self.logs()));
    }

    /// The same; Err holds the server's refusal.
    pub fn try_submit(&self, from: &str, to: &[&str], raw: &[u8]) -> Result<(), String> {
        use lettre::Transport;
        let envelope = lettre::address::Envelope::new(
            Some(from.parse().expect("from address")),
            to.iter().map(|a| a.parse().expect("to address")).collect(),
        )
        .unwrap();
        lettre::SmtpTransport::builder_dangerous("127.0.0.1")
            .port(self.port)
            .build()
            .send_raw(&envelope, raw)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The files in a Maildir's new/ and cur/, sorted by name (delivery time first).
pub fn maildir_messages(maildir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<(String, PathBuf)> = ["new", "cur"]
        .iter()
        .filter_map(|sub| fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, p)| fs::read(p).unwrap())
        .collect()
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}
