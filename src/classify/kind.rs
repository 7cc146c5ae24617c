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

/// Subjects that only automatic replies have, in the seven languages: a tag before the
/// subject answered ("Auto:", "Abwesend:", "Відсутність:"), a receipt ("[received]",
/// "Mesajınız alındı", "استلمنا رسالتكم"), a notice in place of a subject ("Я в отпуске",
/// "Diese Adresse wird nicht mehr verwendet", "Betriebsferien"). A person's answer keeps
/// "Re:" and the subject of our mail.
static AUTO_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        # A tag before the subject answered.
        ^\s*(auto|automatic\s+reply|absent|away|abwesend|abwesenheit|otomatik\s+(yanıt|yanit|cevap)|
            izinde(yim)?|автоответ|автоматический\s+ответ|отсутствие|нет\s+на\s+месте|
            автовідповідь|відсутність|відповідь\s+за\s+відсутності|
            odpowiedź\s+automatyczna|odpowiedz\s+automatyczna|nieobecność|nieobecnosc|
            رد\s+(تلقائي|آلي|الي)|خارج\s+المكتب)\s*:|
        \[\s*(automatic|automated|auto|received|eingegangen|talep|заявка|zgłoszenie|zgloszenie)(\W|$)|
        [\[(–—-]\s*(received|eingegangen|erhalten)\s*[\])]?\s*$|
        # A notice in place of a subject (no Re: before it).
        ^\s*((vielen\s+)?dank\s+für\s+ihre\s+(nachricht|e-?mail|anfrage)|
            thank\s+you\s+for\s+your\s+(message|e-?mail|enquiry|inquiry)|
            mesaj(ınız|iniz)\s+(için|icin)\s+(teşekkür|tesekkur)\w*|
            спасибо\s+за\s+(ваше\s+)?(письмо|сообщение|обращение)|
            дякуємо\s+за\s+(ваш\s+|ваше\s+)?(лист|повідомлення|звернення)|
            dziękujemy\s+za\s+(wiadomość|maila|e-?mail)|
            شكر[اًا]*\s+(لرسالتكم|لرسالتك|على\s+رسالتك)|
            я\s+(в|у)\s+(отпуске|відпустці)|jestem\s+na\s+urlopie|tatildeyim|izindeyim|
            betriebsferien|ferien|каникулы|канікули|праздничные\s+выходные|wakacje|urlop|
            عطل[ةه]|إجاز[ةه]|اجاز[ةه])(\W|$)|
        # A receipt, a full mailbox, a list awaiting approval, an address no longer read.
        message\s+received|nachricht\s+(erhalten|eingegangen)|mesaj(ınız|iniz)\s+(alındı|alindi)|
        (сообщение|обращение|письмо)\s+получено|(повідомлення|лист|звернення)\s+отримано|
        (wiadomość|wiadomosc)\s+(otrzymana|odebrana)|(استلمنا|وصلتنا)\s+رسالت|تم\s+استلام|
        mailbox\s+(almost\s+|nearly\s+)?full|postfach\s+(fast\s+|beinahe\s+)?voll|
        skrzynka\s+[^\n]{0,30}przepełniona|ящик\s+(почти\s+)?переполнен|
        awaiting\s+(moderation|approval)|wartet\s+auf\s+(freigabe|moderation)|
        oczekuje\s+na\s+zatwierdzenie|
        (adresse|address)\s+(wird\s+nicht\s+mehr\s+(verwendet|genutzt|gelesen)|is\s+no\s+longer)|
        адрес\s+больше\s+не|адреса\s+більше\s+не|adres\s+nie\s+jest\s+już|
        artık\s+[^\n]{0,60}çalışmıyorum|artik\s+[^\n]{0,60}calismiyorum|
        больше\s+не\s+работаю|більше\s+не\s+працюю|nie\s+pracuję\s+już|no\s+longer\s+work",
    )
    .expect("auto subject regex")
});

/// What only automatic replies and notices say, in the seven languages: "this is an
/// automatic reply", "I will answer when I am back", "this address is no longer read", "we
/// have received your message and will answer within". Each is a whole statement, not what a
/// person says when answering an invitation: "I'm on leave until March" or "our office is
/// closed then" may be a refusal, so they are not here.
static AUTO_BODY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        # German
        (bin|sind)\s+unter\s+dieser\s+(e-?mail-?)?adresse\s+nicht\s+mehr\s+erreichbar|
        ihre\s+(nachricht|e-?mail)\s+wird\s+nicht\s+(weitergeleitet|gelesen|automatisch\s+weitergeleitet)|
        (dies\s+ist\s+eine|eine)\s+automatisch\s+(erzeugte|generierte|versandte)|
        bin\s+(bis\s+(zum\s+)?[\d.]+\s+)?(im\s+urlaub|auf\s+montage|abwesend|außer\s+haus)\s+(bis\s+[\d.]+\s*)?[^.\n]{0,40}(nur\s+eingeschränkt\s+erreichbar|melde\s+ich\s+mich|meld\s+ich\s+mich)|
        bin\s+(bis|vom)\s+[\d.]+\s+[^.\n]{0,30}nur\s+eingeschränkt\s+erreichbar|
        # English
        will\s+(respond|reply|get\s+back\s+to\s+you|answer)(?-u:\b)[^.\n]{0,30}(?-u:\b)(when\s+i'?m\s+back|when\s+i\s+am\s+back|(on|upon|after)\s+my\s+return|when\s+i\s+return)|
        limited\s+(access\s+to\s+(e-?mail|my\s+e-?mails?)|connectivity)|
        (will|shall)\s+not\s+be\s+(reading|checking)\s+(my\s+)?e-?mails?|
        your\s+(message|e-?mail)\s+will\s+not\s+be\s+(forwarded|read)|
        (usually\s+)?answer\s+(messages|e-?mails|your\s+enquiry)\s+within|
        will\s+(answer|respond\s+to|reply\s+to|deal\s+with)\s+(your\s+)?(enquiry|inquiry|message|e-?mail)\s+(within|as\s+soon)|
        this\s+is\s+an\s+automated|an\s+automated\s+message|
        # Turkish
        otomatik\s+bir\s+(mesaj|bildirim|yanıt|yanit|cevap|e-?posta)|
        (döndüğümde|dondugumde|dönüşümde|donusumde)\s+[^.\n]{0,30}(dönüş|donus|cevap|yanıt|yanit)|
        bu\s+adrese\s+gönderilen\s+(e-?postalar|mesajlar)\s+okunmayacak|
        (artık|artik)\s+[^.\n]{0,60}(çalışmıyorum|calismiyorum)|
        mesaj(ınız|iniz)\s+(bize\s+)?(ulaştı|ulasti|alındı|alindi)|
        (lütfen|lutfen)\s+(bu\s+mesajı\s+)?(yanıtlamayınız|yanitlamayiniz|cevaplamayınız)|
        # Russian
        (почту|письма)\s+не\s+(проверяю|читаю|читаются|обрабатываются)|
        отвечу,?\s+когда\s+вернусь|по\s+возвращении\s+(я\s+)?отвечу|
        (этот|данный)\s+(почтовый\s+)?(адрес|ящик)\s+больше\s+не\s+(используется|обслуживается)|
        я\s+больше\s+не\s+работаю|
        (это|данное)\s+(автоматическое|автоматический)\s+(сообщение|ответ|уведомление)|
        # Ukrainian
        (ваше\s+)?повідомлення\s+не\s+буде\s+прочитане|
        після\s+повернення\s+(я\s+)?відповім|
        це\s+автоматична\s+відповідь|я\s+більше\s+не\s+працюю|
        (ця|дана)\s+(поштова\s+)?(адреса|скринька)\s+більше\s+не\s+(використовується|обслуговується)|
        не\s+зможу\s+відповідати\s+на\s+листи|
        # Polish
        automatyczn(e|a|y)\s+(powiadomienie|odpowiedź|odpowiedz|wiadomość|wiadomosc)|
        (odezwę|odezwe|odpowiem)(\s+się)?\s+po\s+powrocie|rzadko\s+sprawdzam\s+(pocztę|poczte|maile)|
        nie\s+pracuję\s+już|już\s+nie\s+pracuję|
        (ten\s+adres|ta\s+skrzynka)\s+nie\s+jest\s+już\s+(używany|używana|obsługiwany|obsługiwana)|
        oczekuje\s+na\s+zatwierdzenie|
        # Arabic
        (هذا|هذه)\s+(رد|رسال[ةه])\s+(آلي|الي|تلقائي|آلي[ةه]|الي[ةه]|تلقائي[ةه])|
        (التأكيد|التاكيد)\s+(الآلي|الالي)|رسال[ةه]\s+(آلي[ةه]|الي[ةه]|تلقائي[ةه])|
        يرجى\s+عدم\s+الرد|
        (استلمنا|وصلتنا|تم\s+استلام)\s+رسالت(كم|ك)|
        (سيتم\s+الرد|سنرد)\s+(عليها|عليكم|عليك|على\s+رسالت\S*)\s+خلال|
        ستتم\s+معالج[ةه]\s+(جميع\s+)?الرسائل|
        لم\s+[أا]عد\s+[أا]عمل|هذا\s+العنوان\s+لم\s+يعد",
    )
    .expect("auto body regex")
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
    if AUTO_SUBJECT.is_match(subject) {
        return v(AutoReply, 0.9, "subject:auto-reply");
    }
    let body = p.body_text();
    let ooo_body = OOO_BODY_STRONG.is_match(head(&body, 4096));
    if !ooo_body && AUTO_BODY.is_match(head(&body, 4096)) {
        return v(AutoReply, 0.8, "body:auto-reply");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::parse::parse;

    fn kind(subject: &str, body: &str) -> MessageKind {
        let raw = format!(
            "From: Kim <kim@example.org>\r\nTo: antwort+t@netzpost.example\r\nSubject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
        );
        detect(&parse(raw.as_bytes())).kind
    }

    const REPLY: &str = "Re: Einladung zum Sommerfest";

    #[test]
    fn a_tag_before_the_subject_is_an_auto_reply() {
        for s in [
            "Auto: Re: Einladung zum Sommerfest",
            "Abwesend: Einladung zum Sommerfest",
            "Відсутність: Einladung",
            "Отсутствие: Приглашение",
            "Odpowiedź automatyczna: Zaproszenie",
            "Otomatik yanıt: Davet",
            "رد تلقائي: دعوة",
            "[Automatic confirmation] Re: Invitation",
            "Re: Invitation to the summer party [received]",
        ] {
            assert_eq!(kind(s, "Hallo"), MessageKind::AutoReply, "{s}");
        }
    }

    #[test]
    fn a_notice_in_place_of_a_subject_is_an_auto_reply() {
        for s in [
            "Vielen Dank für Ihre Nachricht",
            "Thank you for your email",
            "Mesajınız için teşekkürler",
            "Спасибо за ваше обращение",
            "Дякуємо за ваш лист",
            "Dziękujemy za wiadomość",
            "شكرا لرسالتكم",
            "Я в отпуске",
            "Betriebsferien",
            "[Ticket #4471] Message received",
            "Diese Adresse wird nicht mehr verwendet",
            "Адрес больше не используется",
            "Artık derneğimizde çalışmıyorum",
            "Skrzynka odbiorcza przepełniona",
            "Your message awaits moderation: awaiting approval",
        ] {
            assert_eq!(kind(s, "Text"), MessageKind::AutoReply, "{s}");
        }
    }

    #[test]
    fn the_words_of_a_notice_make_an_auto_reply_without_headers() {
        for body in [
            "Guten Tag, ich bin unter dieser Adresse nicht mehr erreichbar. Bitte schreiben Sie an b@example.org.",
            "Ihre Nachricht wird nicht weitergeleitet.",
            "bin im Urlaub bis 7.1., danach melde ich mich!",
            "Thanks for your mail. I'm travelling and will reply when I'm back.",
            "I have limited access to email until Monday.",
            "We have received your message and will answer your enquiry within three days.",
            "Bu otomatik bir mesajdır.",
            "Bu adrese gönderilen e-postalar okunmayacaktır.",
            "Почту не проверяю, отвечу, когда вернусь.",
            "Данный почтовый ящик больше не обслуживается.",
            "Це автоматична відповідь.",
            "Ваше повідомлення не буде прочитане.",
            "To jest automatyczne powiadomienie.",
            "Odezwę się po powrocie.",
            "هذا رد آلي، سأعود بعد العيد.",
            "وصلتنا رسالتكم وسنرد عليكم خلال يومين.",
        ] {
            assert_eq!(kind(REPLY, body), MessageKind::AutoReply, "{body}");
        }
    }

    #[test]
    fn a_refusal_that_mentions_leave_or_holidays_stays_a_reply() {
        for body in [
            "Ich bin bis März in Elternzeit und kann leider nicht kommen.",
            "Sorry, I'm on parental leave until spring, so not this time.",
            "Я в отпуске до 10 января, поэтому не приду.",
            "Jestem na urlopie do lutego, niestety nie przyjdę.",
            "Şu an izindeyim, gelemiyorum.",
            "Unser Büro ist zwischen den Jahren geschlossen, wir kommen im Januar gern.",
            "Danke für die Einladung, wir kommen gern!",
        ] {
            assert_eq!(kind(REPLY, body), MessageKind::Reply, "{body}");
        }
        // A person's answer keeps "Re:" and our subject: no tag, no notice.
        assert_eq!(
            kind("Re: Einladung: Ferien-Bastelnachmittag", "Ja"),
            MessageKind::Reply
        );
    }

    #[test]
    fn headers_decide_before_words() {
        let raw =
            "From: kim@example.org\r\nAuto-Submitted: auto-replied\r\nSubject: Re: x\r\n\r\nJa";
        let v = detect(&parse(raw.as_bytes()));
        assert_eq!(v.kind, MessageKind::AutoReply);
        assert_eq!(v.sign, "header:auto-submitted");
    }
}
