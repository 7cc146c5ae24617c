//! Message kind: complaint, bounce, auto-reply or a person's reply.
//!
//! Biased on purpose: an automatic message taken for a reply would change a relation or
//! consent, a reply taken for an automatic message only lands in review. So any clear machine
//! sign wins over the text.

use std::sync::LazyLock;

use regex::Regex;

use super::parse::Parsed;
use super::MessageKind;

pub(crate) struct Verdict {
    pub kind: MessageKind,
    pub confidence: f32,
    /// Which sign decided, e.g. "header:auto-submitted" (shown by `explain`).
    pub sign: String,
}

fn v(kind: MessageKind, confidence: f32, sign: &str) -> Verdict {
    Verdict {
        kind,
        confidence,
        sign: sign.to_string(),
    }
}

static DAEMON_LOCAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(mailer-daemon|mailer_daemon|maildaemon|mail-daemon|postmaster|mail\.?delivery\.?(system|subsystem)?|mdaemon|mailerdaemon|bounces?|bounce-handler|nobody-bounce|mailadmin|mail-?admin|smtp|mmdf|double-bounce|ndr|noreply-dmarc-support|mailer|daemon|msg-bounce)([+-].*)?@",
    )
    .unwrap()
});

static DAEMON_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(mail delivery (system|subsystem|service)|mail(er)?[- ]daemon|mail administrator|postmaster|mail system|internet mail delivery|delivery status notification|e-?mail delivery system|microsoft outlook|mail ?delivery|systemadministrator|system administrator|mailversand(system)?|mail-?system)(?-u:\b)",
    )
    .unwrap()
});

static BOUNCE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        undeliver|undelivered|unzustellbar|nicht\s+zustellbar|non[- ]?deliver|nondeliver|
        returned\s+mail|return(ed)?\s+to\s+sender|mail\s+delivery\s+(failed|failure|problem)|
        delivery\s+(status\s+notification|failure|failed|has\s+failed|notification|problem|report)|
        failure\s+notice|failed\s+mail|mail\s+failure|delivery\s+error|
        zustellung\s+(fehlgeschlagen|gescheitert|nicht\s+möglich|verzögert)|
        zustellungsbericht|zustellungsstatus|fehlgeschlagene\s+zustellung|
        could\s+not\s+(be\s+)?deliver|couldn't\s+be\s+delivered|cannot\s+deliver|
        message\s+(could\s+not|not)\s+(be\s+)?delivered|delayed\s+mail|delivery\s+delayed|
        warning:\s+could\s+not\s+send|mail\s+system\s+error|returned\s+message|
        rejected\s+message|message\s+rejected|error\s+sending\s+message|
        nicht\s+zugestellt|unable\s+to\s+deliver|permanent\s+error|
        mensaje\s+no\s+entregado|non\s+remis|no\s+se\s+pudo\s+entregar",
    )
    .unwrap()
});

/// Phrases that only delivery software writes, looked for in the explanatory text.
static BOUNCE_BODY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        this\s+is\s+the\s+mail\s+system\s+at|this\s+is\s+the\s+qmail-send\s+program|
        i'm\s+sorry\s+to\s+have\s+to\s+inform\s+you|i'm\s+afraid\s+i\s+wasn't\s+able\s+to\s+deliver|
        message\s+was\s+created\s+automatically\s+by\s+mail\s+delivery\s+software|
        delivery\s+to\s+the\s+following\s+recipients?\s+(failed|has\s+been\s+delayed)|
        (could|can)\s*n[o']t\s+be\s+delivered|could\s+not\s+deliver|was\s+not\s+delivered|
        undeliverable|unzustellbar|nicht\s+zugestellt\s+werden|konnte\s+nicht\s+zugestellt|
        zustellung\s+(ist\s+)?fehlgeschlagen|permanent\s+fatal\s+errors?|
        recipient\s+address\s+rejected|user\s+unknown|unknown\s+user|no\s+such\s+user|
        mailbox\s+(unavailable|not\s+found|full|is\s+full|does\s+not\s+exist)|
        delivery\s+has\s+failed|failed\s+permanently|message\s+delivery\s+failed|
        returned\s+to\s+sender|hop\s+count\s+exceeded|smtp\s+error\s+from\s+remote|
        (?-u:\b)5\.\d{1,3}\.\d{1,3}(?-u:\b)|(?-u:\b)55[0-4][\s-]|delivery\s+status\s+notification|
        will\s+(keep|continue)\s+trying|has\s+not\s+yet\s+been\s+delivered|
        delivery\s+(attempts|attempt)\s+will\s+continue|message\s+is\s+delayed|
        empf(ä|ae)nger\s+(unbekannt|nicht\s+gefunden)|die\s+e-?mail-?adresse\s+existiert\s+nicht",
    )
    .unwrap()
});

static OOO_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        ^\s*(auto(matic|matische)?[\s_-]*(reply|response|antwort|responder)|autoreply|autoresponse|
        abwesenheit|out\s+of\s+(the\s+)?office|ooo(?-u:\b)|away\s+(until|from)|abwesend|
        automatische\s+(antwort|rückantwort|benachrichtigung)|r(é|e)ponse\s+automatique|
        respuesta\s+autom(á|a)tica|risposta\s+automatica|vacation|on\s+vacation|urlaub|
        i\s+am\s+(out|away)|ich\s+bin\s+(nicht\s+im\s+büro|abwesend|im\s+urlaub|außer\s+haus))|
        abwesenheitsnotiz|out\s+of\s+(the\s+)?office|automatic\s+reply|auto[- ]reply|
        automatische\s+antwort|nicht\s+im\s+büro|office\s+closed|büro\s+geschlossen|
        abwesenheitsmeldung|urlaubsbenachrichtigung|vacation\s+(reply|notice|message)|
        elternzeit|parental\s+leave|mutterschutz|
        otomatik\s+(yanıt|yanit|cevap)|(işyeri|isyeri|ofis)\s+dışında|ofis\s+disinda|
        автоответ|автоматический\s+ответ|вне\s+офиса|автовідповідь|автоматична\s+відповідь|
        automatyczna\s+odpowied|odpowiedź\s+automatyczna|odpowiedz\s+automatyczna|autoodpowied|
        poza\s+biurem|nieobecność|nieobecnosc|urlop\s+(rodzicielski|macierzy)|
        رد\s+تلقائي|رد\s+آلي|خارج\s+المكتب|
        eingangsbestätigung|empfangsbestätigung|\bticket\s*\#|\[ticket|request\s+received|
        we('ve|\s+have)\s+received\s+your|ihre\s+(anfrage|nachricht)\s+(ist|wurde)|
        talebiniz\s+alındı|talebiniz\s+alindi|обращение\s+получено|запит\s+отримано|
        potwierdzenie\s+otrzymania|تم\s+استلام\s+(طلبك|رسالتك)|
        postfach\s+wird\s+nicht\s+mehr|mailbox\s+(is\s+)?no\s+longer",
    )
    .unwrap()
});

/// Out-of-office wording in the body; only counted as a sign on its own when it is
/// unmistakable, because a person may mention a holiday in a real reply.
static OOO_BODY_STRONG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        abwesenheitsnotiz|automatische\s+(antwort|rückantwort|abwesenheitsnachricht)|
        dies\s+ist\s+eine\s+automatische|this\s+is\s+an\s+auto(mated|matic)[\s-]*(reply|response|message)|
        automatic\s+reply|auto[- ]?reply|out\s+of\s+(the\s+)?office\s+(until|from|reply|message)|
        i\s+am\s+(currently\s+)?out\s+of\s+(the\s+)?office|
        ich\s+bin\s+(bis|vom|ab|zurzeit|derzeit|momentan|aktuell)(?-u:\b)[^.\n]{0,60}(?-u:\b)(nicht\s+im\s+büro|
        abwesend|im\s+urlaub|außer\s+haus|nicht\s+erreichbar|nicht\s+(im\s+)?dienst)|
        (ab|am)\s+[^.\n]{0,40}(?-u:\b)wieder\s+(im\s+büro|erreichbar|für\s+sie\s+da)|
        i\s+(will\s+be|am)\s+(back|returning)\s+(on|in\s+the\s+office)|
        (this|the)\s+mailbox\s+is\s+(no\s+longer|not)\s+(monitored|in\s+use)|
        diese\s+(e-?mail-?adresse|adresse|mailbox)\s+(ist|wird)\s+nicht\s+mehr|
        dieses\s+postfach\s+wird\s+nicht\s+mehr|(this|the)\s+(e-?mail\s+)?address\s+is\s+no\s+longer|
        ich\s+bin\s+nicht\s+mehr\s+(bei|im|in\s+der|für)\s+[^.\n]{0,60}(tätig|beschäftigt)|
        i\s+(am\s+)?no\s+longer\s+(work(ing)?\s+(at|for|with)|with)|has\s+left\s+the\s+(organi[sz]ation|company)|
        ihre\s+(anfrage|nachricht)\s+ist\s+bei\s+uns\s+eingegangen|
        we\s+have\s+received\s+your\s+(request|message|e-?mail)\s+and|ticket(nummer|\s+number)?\s*[:\#]\s*\d",
    )
    .unwrap()
});

fn header_is(p: &Parsed, name: &str, pred: impl Fn(&str) -> bool) -> bool {
    p.headers.iter().any(|(n, val)| n == name && pred(val))
}

pub(crate) fn detect(p: &Parsed) -> Verdict {
    use MessageKind::*;

    // Complaints (ARF, RFC 5965) and mailbox-provider one-click unsubscribes.
    if p.report_type.as_deref() == Some("feedback-report") || p.feedback_report.is_some() {
        return v(Complaint, 0.99, "arf:feedback-report");
    }
    if p.has_header("x-apple-unsubscribe") {
        return v(Complaint, 0.95, "header:x-apple-unsubscribe");
    }
    if p.root_type == "multipart/report" && has_feedback_fields(&p.report_text) {
        return v(Complaint, 0.9, "arf:feedback-fields");
    }

    // Bounces: DSN first, then the well-known non-standard signs.
    let is_report = p.root_type == "multipart/report";
    if !p.delivery_status.is_empty()
        || (is_report && p.report_type.as_deref() == Some("delivery-status"))
    {
        return v(Bounce, 0.99, "dsn:delivery-status");
    }
    if p.has_header("x-failed-recipients") {
        return v(Bounce, 0.97, "header:x-failed-recipients");
    }
    if header_is(p, "x-ms-exchange-message-is-ndr", |_| true) {
        return v(Bounce, 0.97, "header:x-ms-exchange-message-is-ndr");
    }
    let from = p.from.as_deref().unwrap_or("");
    let daemon_from = DAEMON_LOCAL.is_match(from)
        || p.from_name
            .as_deref()
            .is_some_and(|n| DAEMON_NAME.is_match(n));
    let subject = p.subject.as_deref().unwrap_or("");
    let bounce_subject = BOUNCE_SUBJECT.is_match(subject);
    // The body phrases cost a scan of up to 8 KB: only looked for when a rule needs them
    // (a person's reply usually decides without).
    let bounce_body_cell = std::cell::OnceCell::new();
    let bounce_body =
        || *bounce_body_cell.get_or_init(|| BOUNCE_BODY.is_match(head(&p.report_text, 8192)));
    let null_sender = header_is(p, "return-path", |v| {
        let t = v.trim();
        t == "<>" || t.is_empty() || t == "<MAILER-DAEMON>"
    });
    if daemon_from && (bounce_subject || is_report || bounce_body()) {
        return v(Bounce, 0.97, "from:mailer-daemon");
    }
    if bounce_subject && (null_sender || is_report || bounce_body()) {
        return v(Bounce, 0.93, "subject+body:bounce");
    }
    if is_report && bounce_body() {
        return v(Bounce, 0.9, "multipart/report");
    }

    // Delivery software never writes a vacation notice: a daemon sender is a bounce.
    if daemon_from {
        return v(Bounce, 0.85, "from:mailer-daemon");
    }

    // Auto-replies (RFC 3834 and the de-facto headers).
    if header_is(p, "auto-submitted", |v| {
        !v.trim().to_ascii_lowercase().starts_with("no")
    }) {
        return v(AutoReply, 0.98, "header:auto-submitted");
    }
    for h in [
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "x-autogenerated",
        "x-vacation",
        "x-mail-autoreply",
    ] {
        if header_is(p, h, |v| !v.trim().eq_ignore_ascii_case("no")) {
            return v(AutoReply, 0.97, &format!("header:{h}"));
        }
    }
    if header_is(p, "precedence", |v| {
        let v = v.trim().to_ascii_lowercase();
        v.starts_with("auto_reply") || v.starts_with("bulk") || v.starts_with("junk")
    }) {
        return v(AutoReply, 0.9, "header:precedence");
    }
    let ooo_subject = OOO_SUBJECT.is_match(subject);
    if ooo_subject {
        return v(AutoReply, 0.92, "subject:out-of-office");
    }
    let body = p.body_text();
    let ooo_body = OOO_BODY_STRONG.is_match(head(&body, 4096));
    if p.has_header("x-auto-response-suppress") && ooo_body {
        return v(AutoReply, 0.9, "header:x-auto-response-suppress+body");
    }
    if ooo_body {
        return v(AutoReply, 0.75, "body:out-of-office");
    }
    // Weaker bounce signs, still checked before calling it a reply.
    if bounce_subject && !p.subject_is_reply() {
        return v(Bounce, 0.7, "subject:bounce");
    }
    if null_sender && bounce_body() {
        return v(Bounce, 0.7, "null-sender+body");
    }
    v(Reply, 1.0, "reply")
}

impl Parsed {
    fn subject_is_reply(&self) -> bool {
        let s = self.subject.as_deref().unwrap_or("").trim_start();
        let l = s.get(..4).unwrap_or("").to_ascii_lowercase();
        l.starts_with("re:") || l.starts_with("aw:") || l.starts_with("wg:") || l.starts_with("fw")
    }
}

fn has_feedback_fields(s: &str) -> bool {
    let s = head(s, 8192);
    s.contains("Feedback-Type:") && s.contains("User-Agent:")
}

/// The first `n` bytes of `s`, cut at a char boundary.
pub(crate) fn head(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
