//! The visible text split into the person's own words, the closing formula, the signature and
//! disclaimer: only the own words decide the intent.
//!
//! A closing ("Viele Grüße", "LG", "Cheers", "Saygılarımla", "С уважением", "З повагою",
//! "مع تحياتي", "Pozdrawiam") ends the own words; everything below it is name, role and
//! organisation lines, which in network work are full of trigger words ("Referentin für
//! Kooperationen", "Partnership Manager", footers with their own "abmelden" link). Without a
//! closing, a trailing block of signature-looking lines (addresses, phone numbers, URLs,
//! organisation forms, disclaimers) is cut the same way.

use std::sync::LazyLock;

use regex::Regex;

/// A line that is a closing formula, alone or followed by a name (at most three words).
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s\-–—]*
        ((danke|vielen\s+dank|thanks|thank\s+you|many\s+thanks)(\s+(und|and))?[\s,]+)?
        (
        # German
        (mit\s+)?(viele|vielen|liebe|lieben|beste|besten|herzliche|herzlichen|freundliche|freundlichen|
           schöne|schönen|sonnige|sonnigen|nette|netten|solidarische|kollegiale|kollegialen|
           frohe|adventliche|winterliche|sommerliche|grüne)\s+(grüße|grüsse|gruesse|gruß|gruss|grüßle)|
        mit\s+(freundlichem|besten|herzlichem|lieben?)\s+gru(ß|ss)|
        (liebe|viele|beste|herzliche)?\s*gr(ü|ue|u)(ß|ss)e?(\s+(aus|von)\s+\S+(\s+\S+)?)?|
        lg|vg|mfg|glg|hg|bg|sg|
        bis\s+(dann|bald|später|nächste\s+woche|zum\s+\d+\.?)|tschüss|tschüs|ciao|servus|
        hochachtungsvoll|gez\.|
        # English
        (best|kind|warm|warmest|with\s+best|with\s+kind)\s+(regards|wishes)|
        best|regards|cheers|yours(\s+(sincerely|truly|faithfully))?|sincerely|
        take\s+care|br|kr|
        # Turkish
        saygılarımla|saygilarimla|saygılar|saygilar|sevgilerimle|sevgiler|selamlar|
        iyi\s+çalışmalar|iyi\s+calismalar|hoşça\s+kal|hosca\s+kal|
        # Russian
        с\s+уважением|с\s+наилучшими\s+пожеланиями|всего\s+(доброго|хорошего)|
        с\s+благодарностью|до\s+свидания|
        # Ukrainian
        з\s+повагою|з\s+найкращими\s+побажаннями|всього\s+найкращого|щиро\s+ваш[аі]?|
        # Polish
        pozdrawiam(\s+serdecznie)?|serdecznie\s+pozdrawiam|z\s+poważaniem|z\s+powazaniem|
        z\s+wyrazami\s+szacunku|pozdrowienia|
        # Arabic
        مع\s+(خالص\s+)?(تحياتي|التحية|تحيات|الشكر|الاحترام)|تحياتي|
        مع\s+أطيب\s+التحيات|مع\s+فائق\s+الاحترام|دمتم\s+بخير|ودمتم|تحياتي\s+لكم
        )\s*[,.!:;]*\s*(\p{L}[\p{L}.\-]*(\s+\p{L}[\p{L}.\-]*){0,2})?[,.!]*\s*$",
    )
    .expect("closing regex")
});

/// A line of thanks alone ("Danke!", "Thanks a lot, Anna"), a closing when words came before.
static THANKS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s\-–—]*(danke(\s+(schön|sehr|dir|ihnen|euch|im\s+voraus))?|vielen\s+dank(\s+im\s+voraus)?|
        thanks(\s+(a\s+lot|so\s+much|in\s+advance))?|thank\s+you(\s+(so\s+much|in\s+advance))?|many\s+thanks|thx|
        teşekkürler|tesekkurler|teşekkür\s+ederim|tesekkur\s+ederim|спасибо(\s+заранее)?|
        дякую(\s+заздалегідь)?|dziękuję|dziekuje|dzięki|شكرا(\s+لكم)?|وشكرا|شكراً)
        \s*[,.!]*\s*(\p{Lu}\p{L}*)?[,.!]*\s*$",
    )
    .expect("thanks regex")
});

/// A line that belongs to a signature or a disclaimer when it stands in a trailing block.
static SIGNATURE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)(
        \S@\S+\.\w|https?://|www\.|\b[\w-]+\.(de|com|org|net|eu|info)/\S*|
        ^\s*(tel|telefon|fon|phone|mobil|mobile|handy|fax|e-?mail|mail|web|adresse|address|
            tél|тел|телефон|моб|telefon\s+kom|kom|tlf)\b\.?\s*[:.]?|
        \+\d{2}[\d\s/()-]{6,}|\b0\d{2,5}[\s/-]?\d{3,}|
        \be\.\s?v\.|\b(ggmbh|gmbh|ag|ug|mbh|ltd|inc|gbr|stiftung|verein|vakfı|derneği|fundacja|stowarzyszenie|
            фонд|організація|объединение|جمعية)\b|
        \b\d{5}\s+\p{L}|
        ^\s*(amtsgericht|registergericht|vereinsregister|geschäftsführ|vorstand|steuernummer|ust-?id|iban|bic)\b|
        ^\s*(diese\s+(e-?mail|nachricht)|der\s+inhalt\s+dieser|this\s+(e-?mail|message|communication)|
            the\s+information\s+(contained|in\s+this)|confidentiality\s+notice|disclaimer|
            bu\s+e-?posta|ta\s+wiadomość|це\s+повідомлення|это\s+(сообщение|письмо)|
            هذه\s+الرسالة|please\s+consider\s+the\s+environment|bitte\s+denken\s+sie\s+an\s+die\s+umwelt)
        )",
    )
    .expect("signature regex")
});

/// A line that opens a disclaimer: it and everything below it is not the person's words.
static DISCLAIMER_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*[\[(*]*\s*(
        diese\s+(e-?mail|nachricht)\s+(enthält|ist|kann|und\s+alle|einschließlich)|
        der\s+inhalt\s+dieser\s+(e-?mail|nachricht)|
        datenschutzhinweis|datenschutz:|vertraulichkeitshinweis|
        this\s+(e-?mail|message|communication)(\s+and\s+any\s+attachments?)?\s+(is|are|may|contains|and)|
        the\s+information\s+(contained\s+in|in)\s+this|confidentiality\s+notice|disclaimer\s*:|
        bu\s+e-?posta(\s+mesajı)?\s+(ve|gizli|kişiye)|
        ta\s+wiadomość\s+(jest|może|zawiera)|
        це\s+повідомлення\s+(є|містить|може)|
        это\s+(сообщение|письмо)\s+(является|содержит|может|предназначено)|
        هذه\s+الرسالة\s+(سرية|مخصصة|قد)|
        # Newsletter and list footers under a person own mail: you receive this because ...
        you\s+(are\s+)?receiv(e|ed|ing)\s+this|to\s+unsubscribe\b|unsubscribe\s*:|
        sie\s+(erhalten|bekommen)\s+diese|abmelden\s*:|austragen\s*:|
        (ви|вы)\s+(отримали|отримуєте|получили|получаете)\s+(цей|цього|це|этот|это|эту|данное|данный)|
        відписатися\s*:|отписаться\s*:|
        bu\s+(e-?postayı|e-?postayi|maili|iletiyi)\b.{0,60}\b(aldınız|aldiniz|alıyorsunuz|aliyorsunuz)|
        otrzymuj(esz|ecie)\s+(tę|te|tą|ten)|otrzymał(eś|aś|eście)\s+(tę|te|tą|ten)|wypisz\s+się\s*:|
        (تلقيت|وصلتك|تصلك|تتلقى)\s+هذه
        )",
    )
    .expect("disclaimer regex")
});

/// A list footer inside a line (an HTML signature flattened to one line): "Don't want to
/// receive our news? Unsubscribe here", "Haberleri artık almak istemiyorsanız". Conditional or
/// addressed to the reader, so never the person's own wish; the line is cut where it starts.
static FOOTER_INLINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)(
        (don.?t|do\s+not)\s+want\s+to\s+receive[^.!?\n]{0,80}\?|want\s+to\s+stop\s+receiving[^.!?\n]{0,80}\?|
        if\s+you\s+(no\s+longer|don.?t|do\s+not)\s+(wish|want)|unsubscribe\s+here|
        (wenn|falls)\s+sie\s+(keine|diese)\b.{0,40}\b(mehr\s+)?(erhalten|bekommen)|
        möchten\s+sie\s+(keine|unseren)\b.{0,40}\b(mehr\s+)?(erhalten|abbestellen)|hier\s+abmelden|
        \S*\s+istemiyorsanız|\S*\s+istemiyorsaniz|
        (если|якщо)\s+(вы|ви)\s+(не\s+)?(хотите|хочете|желаете)|
        jeśli\s+nie\s+chcesz|jesli\s+nie\s+chcesz|jeżeli\s+nie\s+chcesz|
        (jeśli|jesli|jeżeli|jezeli)\s+nie\s+(chcą|chca|chcecie)\s+(\p{L}+\s+){0,2}(otrzymywać|otrzymywac|dostawać|dostawac)|
        # An unsubscribe word with a colon and a link after it: a footer's link label.
        (abmelden|abbestellen|austragen|unsubscribe|отписаться|відписатися|wypisz\s+się|abonelikten\s+çık\p{L}*)\s*:\s*(https?://|www\.|[\w-]+\.[a-z]{2,4}/)|
        (إذا|اذا)\s+كنت\s+لا\s+ترغب|لإلغاء\s+الاشتراك
        )",
    )
    .expect("inline footer regex")
});

/// A line that is a person's name alone: two or three capitalised words, an optional title.
static NAME_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^((?i:dr|prof|fr|mr|mrs|ms|frau|herr)\.?\s+)?\p{Lu}[\p{Ll}'’-]+(\s+\p{Lu}[\p{Ll}'’-]+){1,2}$")
        .expect("name regex")
});

/// Word count up to which a line after the closing still counts as name / role / organisation.
const SIGNATURE_BLOCK_LINES: usize = 12;

/// The person's own words: the visible text up to the closing formula or the signature block.
/// Quoted lines kept for an interleaved answer ("> ...") are our words and are dropped.
pub(crate) fn own_words(visible: &str) -> String {
    let mut lines: Vec<&str> = visible
        .lines()
        .filter(|l| !l.trim_start().starts_with('>'))
        .collect();
    // A list footer ends the words where it starts, even inside a line.
    if let Some((i, at)) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| FOOTER_INLINE.find(l).map(|m| (i, m.start())))
    {
        let before = lines[i][..at].trim_end();
        lines.truncate(i);
        // A few words before it belong to the footer ("Haberleri artık almak
        // istemiyorsanız"); a sentence before it is the person's.
        if before.split_whitespace().count() > 4 {
            lines.push(before);
        }
    }
    let mut end = lines.len();
    // A disclaimer ends the words wherever it starts.
    if let Some(d) = lines.iter().position(|l| DISCLAIMER_START.is_match(l)) {
        end = d;
    }
    // The first closing after some own words ends them. A closing as the very first line
    // ("Danke!") is kept when words follow that are not a signature: then it was an answer.
    let first_text = lines[..end].iter().position(|l| !l.trim().is_empty());
    if let Some(first) = first_text {
        for (i, l) in lines.iter().enumerate().take(end).skip(first) {
            if is_closing(l) {
                if i == first {
                    // "Danke, ich komme" is not a closing (the regex wants the line to end after
                    // the formula and a name); a lone "Danke!" line opening the mail is the
                    // start of the words, unless nothing but a signature follows.
                    let rest_is_sig = lines[i + 1..end]
                        .iter()
                        .filter(|x| !x.trim().is_empty())
                        .all(|x| looks_like_signature(x) || x.split_whitespace().count() <= 3);
                    if rest_is_sig {
                        end = i + 1;
                        break;
                    }
                    continue;
                }
                end = i;
                break;
            }
        }
    }
    // Without a closing: a trailing block (after a blank line) of signature-looking lines.
    let mut last = end;
    while last > 0 && lines[last - 1].trim().is_empty() {
        last -= 1;
    }
    let mut block_start = last;
    let mut k = last;
    let mut sig_lines = 0;
    while k > 0 && last - k < SIGNATURE_BLOCK_LINES {
        let l = lines[k - 1];
        if l.trim().is_empty() {
            if sig_lines > 0 {
                block_start = k - 1;
            }
            break;
        }
        let words = l.split_whitespace().count();
        let t = l.trim_end();
        // A sentence with an address in it ("bitte löschen Sie info@verein.de aus der Liste.")
        // is the person's words, not a signature line.
        let prose = words > 10 && (t.ends_with(['.', '!', '?']) || t.contains(". "));
        if looks_like_signature(l) && !prose {
            sig_lines += 1;
        } else if words > 6 || t.ends_with(['.', '!', '?']) {
            break;
        }
        k -= 1;
    }
    // A block opened by a name alone ("Richard Thornbury", then "President, Rotary Club")
    // is a signature too, when lines of role or organisation follow it.
    if sig_lines == 0
        && k > 0
        && last - k >= 2
        && lines[k - 1].trim().is_empty()
        && NAME_LINE.is_match(lines[k].trim())
    {
        sig_lines = 1;
        block_start = k - 1;
    }
    if sig_lines > 0
        && block_start < last
        && lines[..block_start].iter().any(|l| !l.trim().is_empty())
    {
        end = block_start;
    } else {
        end = last;
    }
    let mut out = String::new();
    for l in &lines[..end] {
        if !out.is_empty() || !l.trim().is_empty() {
            out.push_str(l.trim_end());
            out.push('\n');
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// Links and addresses name things, they say nothing: a footer's "…/abmelden" link or an
/// "unsubscribe@" address in a signature must not read as the person's wish.
static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(https?://|www\.)\S+|\S+@\S+\.\w+|\b[\w-]+(\.[\w-]+)*\.(de|com|org|net|eu|info|ru|ua|pl|tr|io)/\S*",
    )
    .expect("link regex")
});

/// The own words with links and e-mail addresses blanked out, for the intent decision.
pub(crate) fn without_links(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['/', '@', '.']) {
        return std::borrow::Cow::Borrowed(text);
    }
    LINK.replace_all(text, " ")
}

pub(crate) fn is_closing(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.chars().count() <= 80 && (CLOSING.is_match(t) || THANKS_LINE.is_match(t))
}

fn looks_like_signature(line: &str) -> bool {
    SIGNATURE_LINE.is_match(line)
}

#[cfg(test)]
mod tests {
    use super::own_words;

    #[test]
    fn closing_and_role_lines_are_cut() {
        let t = "Hallo Frau Kaya,\n\nich komme gerne.\n\nViele Grüße\nAnna Schmidt\nReferentin für Kooperationen und Partnerschaften\nFamilienzentrum Nord e.V.";
        assert_eq!(own_words(t), "Hallo Frau Kaya,\n\nich komme gerne.");
        let t = "Count me in!\n\nCheers,\nTom\nPartnership Manager";
        assert_eq!(own_words(t), "Count me in!");
        assert_eq!(own_words("Geliyorum.\nSaygılarımla\nAyşe"), "Geliyorum.");
        assert_eq!(own_words("Приду.\nС уважением,\nОльга"), "Приду.");
        assert_eq!(own_words("Прийду!\nЗ повагою, Олена"), "Прийду!");
        assert_eq!(own_words("Przyjdę.\nPozdrawiam\nKasia"), "Przyjdę.");
        assert_eq!(own_words("سأحضر\nمع تحياتي\nأحمد"), "سأحضر");
    }

    #[test]
    fn words_that_look_like_a_closing_stay() {
        assert_eq!(
            own_words("Danke, ich komme gern."),
            "Danke, ich komme gern."
        );
        assert_eq!(
            own_words("Danke!\nIch kann leider nicht kommen, bin verreist."),
            "Danke!\nIch kann leider nicht kommen, bin verreist."
        );
        assert_eq!(own_words("Danke!\n\nLG Anna"), "Danke!");
    }

    #[test]
    fn signature_block_without_closing_and_disclaimer() {
        let t = "Wir sind dabei.\n\nMax Muster\nTel. 0521 123456\nwww.verein.example\n";
        assert_eq!(own_words(t), "Wir sind dabei.");
        let t = "Leider nein.\nDiese E-Mail enthält vertrauliche Informationen. Kooperationspartner ...";
        assert_eq!(own_words(t), "Leider nein.");
        assert_eq!(own_words("Ja\n> abmelden\nJa"), "Ja\nJa");
        let t = "Guten Tag,\n\nbitte löschen Sie sekretariat@schule.example aus Ihrem Verteiler. Post an die Schule geht an die Leitung.";
        assert_eq!(
            own_words(t),
            t,
            "a sentence with an address is no signature"
        );
        let t = "Ich komme!\n\nOksana\nReferentin\nVerein Nord e.V.\nВи отримали цей лист, бо підписані на новини. Відписатися: verein-nord.de/abmelden";
        assert_eq!(own_words(t), "Ich komme!");
    }

    #[test]
    fn a_block_under_a_name_and_footer_links_are_no_words() {
        let t = "Passing this on to our council.\n\nRichard Thornbury\nPresident, Rotary Club\nService Projects & Cooperation Partners";
        assert_eq!(own_words(t), "Passing this on to our council.");
        let t = "Ich komme.\n\nAnna Berg\nIch bringe Kuchen mit.";
        assert_eq!(own_words(t), t, "a sentence under a name is the person's");
        let t = "Надсилаю фото.\n\nТарас Кузьменко\nProjektleiter\nNewsletter abonnieren | abmelden: www.nordlicht.example/newsletter";
        assert_eq!(own_words(t), "Надсилаю фото.");
        let t = "Czy można z wózkiem?\n\nMichał Górski\nKierownik ds. partnerstw\nJeśli nie chcą Państwo otrzymywać naszego newslettera, kliknij";
        assert_eq!(own_words(t), "Czy można z wózkiem?");
    }

    #[test]
    fn a_footer_inside_a_line_ends_the_words() {
        let t = "Yes I confirm.\nJennifer Blake Head of Cooperation Don't want to receive our news? Unsubscribe here";
        assert_eq!(
            own_words(t),
            "Yes I confirm.\nJennifer Blake Head of Cooperation"
        );
        let t =
            "2\n\nErdem Immobilien GmbH\nHaberleri artık almak istemiyorsanız: Newsletter abmelden";
        assert_eq!(own_words(t), "2");
        assert_eq!(
            own_words("I don't want to receive these mails any more."),
            "I don't want to receive these mails any more.",
            "the person's own wish stays"
        );
    }

    #[test]
    fn links_and_addresses_say_nothing() {
        assert_eq!(
            super::without_links(
                "Komme! Mehr: verein.de/abmelden und unsubscribe@list.example.org"
            )
            .trim(),
            "Komme! Mehr:   und"
        );
        assert_eq!(super::without_links("Ja."), "Ja.");
    }
}
