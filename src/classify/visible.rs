//! Visible text: the person's new words only.
//!
//! Each line gets a type (text, quote, quote header, delimiter, mobile signature, empty);
//! then the reply is cut at the first delimiter/mobile signature and at the first quote
//! header that is not part of an interleaved (inline) answer. Sign-offs such as
//! "Viele Grüße\nAnna" stay: that is what the Discourse corpus expects, and intent rules
//! ignore them.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Empty,
    Text,
    Quote,
    /// "--", "____", "-----": everything below is a signature or a quoted mail.
    Delim,
    /// "Sent from my iPhone" and friends: end of the new words.
    Sig,
    /// A quote header ("On ... wrote:", "-----Original Message-----", a From:/Sent: block).
    Header,
}

static DELIM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-_=*#~+—–•]{2,}$|^--\s*$").unwrap());

static QUOTE_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(>|[A-Za-z]{1,3}>)").unwrap());

static MOBILE_SIG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[(<\[]*\s*(
        (sent|envoyé|enviado|inviato|verzonden|sendt|skickat|gesendet|wysłane|odesláno|lähetetty)\s+
            (from|via|with|by|using|on|depuis|de|desde|do|da|dal|met|vanaf|van|von|mit|fra|från|z|ze|with)(?-u:\b)|
        von\s+meinem\s+.{0,60}gesendet|
        diese\s+nachricht\s+wurde\s+(von|mit)\s+.{0,80}gesendet|
        get\s+outlook\s+for|
        (\S+\s+)?from\s+my\s+(iphone|ipad|android|mobile|phone|smartphone|samsung|galaxy|blackberry|cell)|
        從我的|从我的|发自我的|
        sent\s+from\s+\[|
        (надіслано|відправлено|отправлено|послано)\s+(з|із|с|со|из)\s|
        \S+\s+gönderildi\s*$|
        [أا]\p{Mn}*رسلت\p{Mn}*\s+من\s)",
    )
    .unwrap()
});

/// "-----Original Message-----", forwarded-message banners and their translations.
static ORIGINAL_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s*>]*(-{2,}|_{2,})?\s*(
        original\s+message|ursprüngliche\s+nachricht|original-nachricht|originalnachricht|
        mensaje\s+original|message\s+d'origine|messaggio\s+originale|mensagem\s+original|
        oorspronkelijk\s+bericht|forwarded\s+message|weitergeleitete\s+nachricht|
        antwort\s+nachricht|message\s+transféré|mensaje\s+reenviado|original\s+meddelelse|
        opprinnelig\s+melding|ursprungligt\s+meddelande|исходное\s+сообщение|
        begin\s+forwarded\s+message:?|anfang\s+der\s+weitergeleiteten\s+nachricht:?|
        oprindelig\s+besked|alkuperäinen\s+viesti|oryginalna\s+wiadomość|původní\s+zpráva|
        оригінальне\s+повідомлення|пересланное\s+сообщение|переслане\s+повідомлення|
        przekazana\s+wiadomość|orijinal\s+(mesaj|ileti)|iletilen\s+(mesaj|ileti)|
        الرسالة\s+الأصلية|رسالة\s+معاد\s+توجيهها
        )\s*(-{2,}|_{2,})?[\s*]*$|
        ^[\s*]*-{3,}\s*\p{L}[\p{L}\s'.]{2,40}?\s*-{3,}[\s*]*$",
    )
    .unwrap()
});

/// A header line of an embedded mail (Outlook, GMX/web.de, Apple Mail, Thunderbird ...).
static HEADER_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s*>]*(
        from|von|de|da|van|från|fra|od|от|від|kimden|من|lähettäjä|sender|absender|
        sent|gesendet|date|datum|data|enviado|envoyé|inviato|skickat|sendt|verzonden|wysłano|wysłane|
        отправлено|надіслано|відправлено|дата|gönderildi|gönderilme\s+tarihi|tarih|أرسل|أرسلت|التاريخ|
        to|an|para|à|a|aan|till|til|do|кому|kime|إلى|
        cc|kopie|копия|копія|dw|bilgi|reply-to|antwort\s+an|risposta|
        subject|betreff|asunto|objet|oggetto|onderwerp|ämne|emne|temat|тема|konu|الموضوع|assunto
        )\s*:\*?(\s|$)",
    )
    .unwrap()
});

/// Keys that can open such a block (a lone "To:" or "An:" line must not).
static HEADER_START_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s*>]*(from|von|de|da|van|från|fra|od|от|від|kimden|من|lähettäjä|sender|absender|
        sent|gesendet|date|datum|enviado|envoyé|inviato|skickat|sendt|verzonden|wysłano|wysłane|
        отправлено|надіслано|відправлено|gönderildi|tarih|أرسل|أرسلت|التاريخ)\s*:\*?(\s|$)",
    )
    .unwrap()
});

/// "... wrote:" with the verb at the end (name and date before it).
static WROTE_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)((?-u:\b)wrote|(?-u:\b)writes|(?-u:\b)schrieb|(?-u:\b)schreef|(?-u:\b)geschreven|(?-u:\b)a\s+écrit|(?-u:\b)escribió|(?-u:\b)escreveu|
        (?-u:\b)ha\s+scritto|(?-u:\b)ha\s+escrit|(?-u:\b)napisał(\(a\)|a)?|написал(\(а\)|а|и)?|написав(\(ла\)|ла|\(-ла\))?|пише|пишет|(?-u:\b)napsal|(?-u:\b)pisze|
        (?-u:\b)yazdı|(?-u:\b)yazdi|folgendes\s+geschrieben|كتب|
        (?-u:\b)skrev|(?-u:\b)kirjoitti|写道|寫道|작성|のメッセージ)
        \s*[:：]?\s*-*\s*$",
    )
    .unwrap()
});

/// "Am <date> schrieb <name>:" / "<name> schrieb am <date>:" (verb in the middle).
static WROTE_MID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)(^[\s-]*(on|am|le|el|il|op|em|den|dnia|at|w\s+dniu)(?-u:\b).*(?-u:\b)(wrote|schrieb|a\s+écrit|escribió|escreveu|ha\s+scritto|skrev|schreef|napisał)(?-u:\b).*[:：]\s*$)|
        ((?-u:\b)(schrieb|wrote|skrev|schreef)\s+(am|on|den|op)(?-u:\b).{0,80}[:：]\s*$)|
        (\d.{0,60}(،\s*)?كتب\s.{0,120}[:：]\s*$)|(\d.{0,80}(написал|написав|napisał|yazdı|tarihinde).{0,120}[:：]\s*$)|
        (\d.{0,80}\s(от|від|od|from|von)\s.{0,120}<\S+@\S+>\s*[:：]\s*$)|
        (^.{0,60}\d{1,2}[:.]\d{2}(?-u:\b).{0,100}<\S+@\S+>\s*[:：]\s*$)",
    )
    .unwrap()
});

/// Old Gmail style: "2016-03-03 17:21 GMT+01:00 Some One <a@b>:" or "2013/7/20 sam <a@b>".
static DATE_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?-u:\b).{0,60}(\d{1,2}:\d{2}|<?\S+@\S+)|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?-u:\b).{0,80}\S@\S+.*[:：]\s*$)",
    )
    .unwrap()
});

/// "On <date>", "Am <date>", "Le <date>" ...: a header opening with its date.
static DATE_OPENER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[\s-]*(on|am|le|el|il|op|em|den|dnia|at|w\s+dniu)\s+\S*\d").unwrap()
});

/// How a multi-line quote header can begin: a date opener word, a date, or a name with an
/// address. Without this a normal sentence followed by a header would be swallowed.
static HEADER_OPENER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s>-]*((on|am|le|el|il|op|em|den|dnia|at|w\s+dniu|dne|el\s+día)(?-u:\b)|\d{1,4}[./-]\d{1,2}|\d{1,2}\.?\s+\p{L}{3,}|
        (mon|tue|wed|thu|fri|sat|sun|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)[a-z]*,)|
        (?-u:\b)(19|20)\d{2}(?-u:\b)|
        <|\S@[\w-]+\.\w",
    )
    .unwrap()
});

static HTML_QUOTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?ix)<div[^>]*class=["']?(gmail_quote|gmail_extra|moz-cite-prefix|yahoo_quoted|ydp[0-9a-f]*yahoo_quoted)|
        <blockquote|<div[^>]*id=["']?(divRplyFwdMsg|appendonsend|mail-editor-reference-message-container)|
        <[a-z]+[^>]*id=["']?OLK_SRC_BODY_SECTION|<hr[^>]*id=["']?stopSpelling|
        <div[^>]*style=["'][^"']*border-top:\s*solid\s+\#(E1E1E1|B5C4DF)"#,
    )
    .unwrap()
});

/// HTML-only mail: drop the quoted part (Gmail/Outlook/Thunderbird/Yahoo markup) before
/// converting to text, then the plain-text trimmer does the rest.
pub(crate) fn html_to_reply_text(html: &str) -> String {
    let Some(m) = HTML_QUOTE.find(html) else {
        return html_text(html);
    };
    let before = html_text(&html[..m.start()]);
    // Text before the quote that is only its header ("07.12.2026, 09:30, X <x@y>:", Yandex
    // and Mail.ru put it outside the blockquote) is no answer: look below the quote.
    if !visible_text(&before).trim_matches(invisible).is_empty() {
        return before;
    }
    // Bottom-posting (Apple Mail, Thunderbird): the quote comes first and the answer after
    // its last closing blockquote.
    if let Some(end) = html.rfind("</blockquote>") {
        let after = html_text(&html[end + "</blockquote>".len()..]);
        if !after.trim_matches(invisible).is_empty() {
            return after;
        }
    }
    html_text(html)
}

/// A closing block element ends its line: mail_parser breaks lines only at `<br>` and
/// paragraphs, and without this the `<div>` lines of Outlook and Apple Mail (a name, a role,
/// a newsletter footer) would run into one line with the answer's last words.
static BLOCK_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(<br\s*/?>\s*)?</(div|li|tr|h[1-6])\s*>").unwrap());

fn html_text(html: &str) -> String {
    let lined = BLOCK_END.replace_all(html, |c: &regex::Captures| {
        if c.get(1).is_some() {
            c[0].to_string()
        } else {
            format!("{}<br>", &c[0])
        }
    });
    mail_parser::decoders::html::html_to_text(&lined)
}

fn invisible(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | 'ᐧ')
}

fn classify(lines: &[&str]) -> Vec<Line> {
    let mut types = Vec::with_capacity(lines.len());
    let mut in_fence = false;
    for line in lines {
        let t = line.trim_matches(invisible);
        if t.starts_with("```") {
            in_fence = !in_fence;
            types.push(Line::Text);
            continue;
        }
        types.push(if t.is_empty() {
            Line::Empty
        } else if in_fence {
            Line::Text
        } else if QUOTE_PREFIX.is_match(line) {
            Line::Quote
        } else if DELIM.is_match(t) {
            Line::Delim
        } else if t.len() <= 160 && MOBILE_SIG.is_match(t) {
            Line::Sig
        } else {
            Line::Text
        });
    }
    // A lower-case line glued to a quote is the wrapped tail of that quoted line.
    for i in 1..lines.len() {
        if types[i] == Line::Text
            && types[i - 1] == Line::Quote
            && lines[i]
                .trim_start()
                .starts_with(|c: char| c.is_lowercase())
        {
            types[i] = Line::Quote;
        }
    }
    // Quote headers, which may span several lines ("On ... <\nfoo@bar> wrote:").
    let mut i = 0;
    while i < lines.len() {
        if types[i] == Line::Text {
            if let Some(span) = header_span(lines, &types, i) {
                for t in types.iter_mut().skip(i).take(span) {
                    *t = Line::Header;
                }
                i += span;
                continue;
            }
        }
        i += 1;
    }
    types
}

fn is_wrote_header(joined: &str) -> bool {
    joined.len() < 500
        && joined.bytes().any(|b| b.is_ascii_digit() || b == b'@')
        && (WROTE_END.is_match(joined) || WROTE_MID.is_match(joined))
}

/// Number of lines of the quote header starting at `i`, if one starts there.
fn header_span(lines: &[&str], types: &[Line], i: usize) -> Option<usize> {
    let t = lines[i].trim();
    if ORIGINAL_MARKER.is_match(t) {
        return Some(1);
    }
    if HEADER_START_KEY.is_match(t) {
        // A block: at least two header lines in the next few (Subject may wrap once).
        // Values may wrap ("From: Name\n<address>"), so up to two plain lines are allowed.
        let mut keys = 1;
        let mut end = i + 1;
        let mut plain = 0;
        let mut j = i + 1;
        while j < lines.len() && j < i + 14 {
            let l = lines[j].trim();
            if l.is_empty() {
                break;
            }
            if HEADER_KEY.is_match(l) {
                keys += 1;
                plain = 0;
                end = j + 1;
            } else {
                plain += 1;
                if plain > 2 {
                    break;
                }
            }
            j += 1;
        }
        if keys >= 2 {
            return Some(end - i);
        }
    }
    if DATE_HEADER.is_match(t) {
        return Some(1);
    }
    if t.len() > 300 {
        return None;
    }
    let single_only = !HEADER_OPENER.is_match(t);
    let mut joined = String::with_capacity(256);
    for k in 0..6 {
        if k > 0 && single_only {
            break;
        }
        let j = i + k;
        if j >= lines.len() {
            break;
        }
        if k > 0 {
            if matches!(types[j], Line::Delim | Line::Sig) {
                break;
            }
            // The header starts on a later line: this one is the reply's last line.
            let lj = lines[j].trim();
            let starts_header = DATE_OPENER.is_match(lj);
            if (starts_header && is_wrote_header(lj))
                || ORIGINAL_MARKER.is_match(lj)
                || DATE_HEADER.is_match(lj)
            {
                break;
            }
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(lines[j].trim());
        if joined.len() > 400 {
            break;
        }
        // A quote header ends on this line: only then is the (costlier) full check worth it.
        let end = lines[j].trim_end().trim_end_matches('-').trim_end();
        let may_end = end.ends_with([':', '：']) || WROTE_END.is_match(end);
        if may_end && is_wrote_header(&joined) {
            return Some(k + 1);
        }
    }
    None
}

fn quote_content(line: &str) -> &str {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
}

/// "-------- Original Message --------" inside a line: an HTML mail flattened to text
/// keeps the banner and the header block on the reply's last line.
static INLINE_MARKER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)-{3,}\s*\p{L}[\p{L}\s'.]{2,40}?\s*-{3,}").unwrap());

/// The person's new words in a plain-text body.
pub fn visible_text(body: &str) -> String {
    let mut normalized;
    let mut body = if body.contains('\r') {
        normalized = body.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        body
    };
    // Put an inline banner on its own line, so that it cuts like one.
    if let Some(m) = INLINE_MARKER
        .find_iter(body)
        .find(|m| ORIGINAL_MARKER.is_match(m.as_str()))
    {
        let line_start = body[..m.start()].rfind('\n').map_or(0, |i| i + 1);
        if !body[line_start..m.start()].trim().is_empty() || !body[m.end()..].starts_with('\n') {
            let mut b = String::with_capacity(body.len() + 2);
            b.push_str(&body[..m.start()]);
            b.push('\n');
            b.push_str(m.as_str());
            b.push('\n');
            b.push_str(&body[m.end()..]);
            normalized = b;
            body = normalized.as_str();
        }
    }
    let all: Vec<&str> = body.lines().collect();
    let types_all = classify(&all);

    // Everything after the first delimiter or mobile signature is signature or quoted mail.
    let end = types_all
        .iter()
        .position(|t| matches!(t, Line::Delim | Line::Sig))
        .unwrap_or(all.len());
    let lines = &all[..end];
    let types = &types_all[..end];
    let mut keep = vec![true; lines.len()];

    let first_text = types.iter().position(|t| *t == Line::Text);
    let Some(first_text) = first_text else {
        // Only quotes: keep them, unless they are just a forwarded thread of quote headers.
        let first_quote = lines
            .iter()
            .zip(types)
            .find(|(_, t)| **t == Line::Quote)
            .map(|(l, _)| quote_content(l));
        return match first_quote {
            Some(q) if is_wrote_header(q) || ORIGINAL_MARKER.is_match(q) => String::new(),
            Some(_) => join(lines, &keep),
            None => String::new(),
        };
    };

    // A reply below a quoted thread that opens with its own header ("> On ... wrote:",
    // interleaved answers in Apple Mail): the quote above the first answer is our mail.
    let first_quote = types.iter().position(|t| *t != Line::Empty);
    if let Some(q) = first_quote.filter(|&q| q < first_text && types[q] == Line::Quote) {
        let c = quote_content(lines[q]);
        if is_wrote_header(c) || ORIGINAL_MARKER.is_match(c) {
            for k in keep.iter_mut().take(first_text) {
                *k = false;
            }
        }
    }

    // A reply below a leading quote header (bottom-posting, forwards): drop the header and
    // the quote that follows it.
    let first_header = types.iter().position(|t| *t == Line::Header);
    if let Some(h) = first_header {
        if h < first_text {
            for (k, t) in types.iter().enumerate().take(first_text) {
                if k >= h && matches!(t, Line::Header | Line::Quote | Line::Empty) {
                    keep[k] = false;
                }
            }
        }
    }

    let mut cut = lines.len();
    let mut i = first_text;
    while i < lines.len() {
        if types[i] != Line::Header {
            i += 1;
            continue;
        }
        let h = i;
        while i < lines.len() && types[i] == Line::Header {
            i += 1;
        }
        let mut j = i;
        while j < lines.len() && types[j] == Line::Empty {
            j += 1;
        }
        if j < lines.len() && types[j] == Line::Quote {
            while j < lines.len() && matches!(types[j], Line::Quote | Line::Empty) {
                j += 1;
            }
            if types[j..].contains(&Line::Text) {
                // Interleaved answer below the quote: keep the quote, drop the header.
                for k in keep.iter_mut().take(i).skip(h) {
                    *k = false;
                }
                i = j;
                continue;
            }
        }
        cut = h;
        break;
    }

    // Trailing quotes after the last text line belong to the quoted mail.
    let mut last = cut;
    while last > 0 && matches!(types[last - 1], Line::Quote | Line::Empty | Line::Header) {
        last -= 1;
    }
    join(&lines[..last], &keep[..last])
}

fn join(lines: &[&str], keep: &[bool]) -> String {
    let mut out = String::new();
    for (l, k) in lines.iter().zip(keep) {
        if *k && (!out.is_empty() || !l.trim().is_empty()) {
            out.push_str(l.trim_end());
            out.push('\n');
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

#[cfg(test)]
mod tests {
    use super::visible_text;

    #[test]
    fn an_answer_below_a_quoted_header_drops_the_quote_above_it() {
        let body = "> On 10 Dec 2026, at 10:00, Netz <e@x.example> wrote:\n>\n> Guten Tag,\n> 1 = ich komme\n\nSorry, we will miss it.\nFemi\n\n> Herzliche Grüße\n";
        assert_eq!(visible_text(body), "Sorry, we will miss it.\nFemi");
        // A quote that is no thread header above an answer stays (it is what is answered).
        let body = "> Kommen Sie am Samstag?\n\nJa, gern.\n";
        assert_eq!(visible_text(body), "> Kommen Sie am Samstag?\n\nJa, gern.");
    }

    #[test]
    fn html_with_the_quote_header_outside_the_blockquote_reads_the_answer_below() {
        let html = "<div>07.12.2026, 09:30, \"Netz\" &lt;e@x.example&gt;:</div><blockquote><div>Einladung</div></blockquote><div>Не приду, извините.</div>";
        assert_eq!(
            super::html_to_reply_text(html).trim(),
            "Не приду, извините."
        );
    }

    #[test]
    fn a_banner_inside_a_line_cuts_there() {
        let body = "Bitte streichen Sie mich.\nSemya -------- Ursprüngliche Nachricht --------Von: Netzwerk <info@x.example> Datum: 01.12.26\nGuten Tag, abmelden: https://x.example/abmelden";
        assert_eq!(visible_text(body), "Bitte streichen Sie mich.\nSemya");
    }

    #[test]
    fn russian_and_ukrainian_quote_headers() {
        let body = "Буду!\n\nПонедельник, 7 декабря 2026, 9:30 +01:00 от Netzwerk Nordstadt <einladung@x.example>:\n> Приглашение";
        assert_eq!(visible_text(body), "Буду!");
        let body = "3\n\n03.12.2026 09:30, Netzwerk Nordstadt пишет:\n> Einladung";
        assert_eq!(visible_text(body), "3");
    }

    #[test]
    fn outlook_headers_and_sent_from_lines_in_the_neighbourhood_languages() {
        let body = "Прийду.\n\nВід: Netzwerk Nordstadt <einladung@x.example>\nНадіслано: вівторок, 1 грудня 2026 р. 8:15\nКому: Iryna <i@x.example>\nТема: Einladung\n\nBitte sagen Sie ab, wenn ...";
        assert_eq!(visible_text(body), "Прийду.");
        let body = "Geliyorum\n\nKimden: Netzwerk <e@x.example>\nGönderildi: 1 Aralık 2026\nKime: Ali\nKonu: Davet\n\nabmelden";
        assert_eq!(visible_text(body), "Geliyorum");
        // Gmail above a bottom-posted answer: a time and an address, then a colon.
        let body = "пн, 7 дек. 2026 г. в 09:30, Netzwerk Nordstadt <einladung@x.example>:\n\n> Приглашение\n> 2 = я не приду\n\nПриду с мужем.";
        assert_eq!(visible_text(body), "Приду с мужем.");
        assert_eq!(visible_text("Так\n\nНадіслано з iPhone"), "Так");
        assert_eq!(visible_text("Evet\n\niPhone'umdan gönderildi"), "Evet");
    }

    #[test]
    fn html_div_lines_stay_lines() {
        let html = "<div>Sign me up!</div><div><br></div><div>Jennifer Blake</div>\n<div>Head of Cooperation</div>";
        assert_eq!(
            super::html_to_reply_text(html).trim(),
            "Sign me up!\n\nJennifer Blake\nHead of Cooperation"
        );
    }
}
