//! How many people come in all, read from an acceptance.
//!
//! Two readings, the first that gives a number wins:
//!
//! 1. A total said outright: "wir kommen zu dritt", "we'll be five", "нас будет трое",
//!    "будемо втрьох", "będziemy w czwórkę", "üç kişi geleceğiz", "نحن خمسة". A range
//!    ("4-5 Leute") is no number: nothing is read then.
//! 2. The people named, sentence by sentence: an enumeration with the writer in it ("ich und
//!    meine Frau", "me, Rob and the twins", "eşim, ben ve iki kızımız", "آني وزوجتي وابني") and
//!    the companions after "with" ("mit meinen zwei Kindern", "мы с мужем", "z dwoma synami",
//!    "kızımla", "مع صاحبتي"), plus the writer. Each person named counts one, a number before a
//!    plural counts that many ("zwei Erzieherinnen und 14 Kinder"), and a plural without a
//!    number ("with the kids", "mit der ganzen Familie") makes the sentence say nothing.
//!    Representatives of an organisation ("mit drei Kolleginnen", "5 veli ile") are the party
//!    themselves unless the writer says "ich" beside them.
//!
//! Only an acceptance or an offer to cooperate carries a party; anything else gets none.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{fold, number_word, own_text};
use crate::classify::Intent;

/// The largest party read; anything above is a year, an address or a price.
const MAX_PARTY: u32 = 200;

/// How many people come in all, when an acceptance (or an offer to cooperate) says so.
pub(crate) fn party_size(own: &str, intent: Intent) -> Option<u32> {
    if !matches!(intent, Intent::Accept | Intent::Cooperation) || own.trim().is_empty() {
        return None;
    }
    let text = own_text(own);
    match total(&fold(&text), intent == Intent::Cooperation) {
        Total::Said(n) => return Some(n),
        Total::Range => return None,
        Total::Nothing => {}
    }
    // An offer names people for what they do ("my husband and I run a food truck", "I'll
    // send it with my son"): only where its own sentence says they come. An acceptance may
    // list them in the sentence after ("Wir kommen! 3 Erwachsene, 2 Kinder"), but "with my
    // husband" there is another story ("I'll come. A hard autumn with my husband in hospital").
    let offer = intent == Intent::Cooperation;
    let (segments, sentences) = segments(&text);
    // Read only for the sentences that name people.
    let coming = |k: usize| COMING.is_match(&fold(&sentences[k]));
    segments.iter().filter(|s| !s.question).find_map(|s| {
        let (n, with) = named(&s.toks, offer).filter(|(n, _)| (2..=MAX_PARTY).contains(n))?;
        let after = !offer && !with && s.sentence > 0 && coming(s.sentence - 1);
        (coming(s.sentence) || after).then_some(n)
    })
}

// ---------------------------------------------------------------------------------------
// 1. Totals said outright.
// ---------------------------------------------------------------------------------------

enum Total {
    Said(u32),
    /// "4-5 Leute": the writer does not know yet.
    Range,
    Nothing,
}

/// A number in a pattern: digits or one number word, checked by [`number_word`].
const N: &str = r"(?P<n>\d{1,3}|[\p{L}'][\p{L}']*)";

struct TotalPattern {
    re: Regex,
    /// The number when the pattern captures none ("zu dritt", "втроём", "ikimiz").
    fixed: Option<u32>,
    /// "insgesamt", "in total", "toplam": wins over a count said earlier for something else
    /// ("25 kişi olduk ... toplam 8 kişi olacağız").
    marked: bool,
    /// Says that the people come ("zu dritt", "втроём", "the three of us"), not only how many
    /// a group has ("wir sind 6 Leute", "нас 14 осіб"): the only totals an offer to cooperate
    /// is read for.
    coming: bool,
}

fn total_pattern(re: &str, fixed: Option<u32>, marked: bool) -> TotalPattern {
    TotalPattern {
        // The text is folded to ASCII for the Latin scripts, so an ASCII word boundary is
        // enough there, and it is much cheaper than a Unicode one.
        re: Regex::new(&re.replace("{N}", N).replace(r"\b", r"(?-u:\b)"))
            .expect("party total regex"),
        fixed,
        marked,
        coming: false,
    }
}

/// A total that says the people come.
fn coming(mut p: TotalPattern) -> TotalPattern {
    p.coming = true;
    p
}

/// Patterns over the folded text (see [`fold`]: "fünft" is "fuenft", "kişi" is "kisi").
static TOTALS: LazyLock<Vec<TotalPattern>> = LazyLock::new(|| {
    let mut v = vec![
        // Marked totals first.
        total_pattern(
            r"\b(?:insgesamt|zusammen|in\s+total|altogether|total(?:\s+of)?|toplam(?:da)?|всего|усього|всього|razem|lacznie|في\s+المجموع|المجموع)\s+(?:also\s+|sind\s+wir\s+|we\s+are\s+|we'll\s+be\s+|будет\s+|буде\s+|bedzie\s+)?{N}\b",
            None,
            true,
        ),
        total_pattern(r"\b{N}\s+(?:in\s+total|insgesamt|altogether)\b", None, true),
        // German.
        coming(total_pattern(
            r"\bzu\s+(?P<n>zweit|dritt|viert|fuenft|sechst|siebt|acht|neunt|zehnt)\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\bzu\s+{N}\s*(?:personen|leuten|[.!,;:)\n]|$)",
            None,
            false,
        )),
        total_pattern(
            r"\bwir\s+(?:sind|werden|kommen)\s+(?:wohl\s+|dann\s+|voraussichtlich\s+|ungefaehr\s+|etwa\s+|ca\.?\s+)?(?:zu\s+)?{N}\s*(?:personen|leute|menschen|sein)?\s*(?:[.!,;:)–—]|$|\n|(?:und|am|beim|zum|zur|bei|dabei|da|dort)\b)",
            None,
            false,
        ),
        coming(total_pattern(
            r"\bwir\s+(?P<n>beide|zwei|drei|vier|fuenf)\b",
            None,
            false,
        )),
        // English.
        total_pattern(
            r"\b(?:we\s+are|we're|we\s+will\s+be|we'll\s+be|there\s+will\s+be|there'll\s+be|we\s+should\s+be|we'd\s+be)\s+(?:about\s+|around\s+)?{N}\s*(?:people|persons|of\s+us|guests)?\s*(?:[.!,;:()–—]|$|\n|(?:and|on|at|for|to|in|from|with|tomorrow|today|then)\b)",
            None,
            false,
        ),
        coming(total_pattern(
            r"\b(?:the\s+|all\s+)?{N}\s+of\s+us\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\b(?:party|group)\s+of\s+{N}\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\b(?:both\s+of\s+us|we\s+both|the\s+pair\s+of\s+us)\b",
            Some(2),
            false,
        )),
        // Russian and Ukrainian.
        total_pattern(
            r"(?:^|[^\p{L}])(?P<skip>[ув]\s+)?нас\s+(?:будет\s+|буде\s+|будемо\s+|всего\s+|усього\s+|всього\s+)?{N}(?:$|[^\p{L}'])",
            None,
            false,
        ),
        coming(total_pattern(
            r"(?:^|[^\p{L}])(?:мы|ми)\s+(?:будем\s+|будемо\s+|придем\s+|прийдемо\s+)?(?P<n>двое|трое|четверо|пятеро|двоє|троє|п'ятеро|оба|обе|обидва|обидві)(?:$|[^\p{L}'])",
            None,
            false,
        )),
        // Polish.
        total_pattern(r"\b(?:bedzie|jest)\s+nas\s+{N}\b", None, false),
        coming(total_pattern(
            r"\b(?:bedziemy|przyjdziemy|przyjedziemy|wpadniemy|jestesmy|bedziemy\s+tam|przyjdziemy\s+tam)\s+(?:w|we)\s+{N}\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\bwe\s+(?P<n>dwoje|dwoch|dwie|troje|trzech|trzy|czworo|czterech|pieciu|piecioro)\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\bwe?\s+(?P<n>dwojke|trojke|czworke|piatke)\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\bcala\s+(?P<n>dwojka|trojka|czworka|piatka)\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\b(?:przyjdziemy|bedziemy|wpadniemy)\s+(?P<n>oboje|obaj|obie)\b",
            None,
            false,
        )),
        // People, said with the word for persons ("3 Personen", "üç kişi", "5 человек").
        total_pattern(
            r"(?:^|[^\p{L}'])(?:(?P<skip>fuer|for|fur|для|на|dla|na|icin|bis\s+zu|up\s+to|до)\s+)?{N}\s+(?:personen|leute|menschen|people|persons|person|guests|kisi(?:yiz|z)?|человека?|людей|людини|осіб|особи|osoby|osob|ludzi|اشخاص|افراد|شخص)(?:$|[^\p{L}'])",
            None,
            false,
        ),
        // "iki kişi olarak orada oluruz": as two people.
        coming(total_pattern(
            r"(?:^|[^\p{L}'])(?:(?P<skip>icin)\s+)?{N}\s+kisi\s+olarak\b",
            None,
            false,
        )),
        // Arabic: "نحن خمسة", "إحنا جايين 4", "سنأتي ثلاثة".
        total_pattern(
            r"(?:^|[^\p{L}])(?:نحن|احنا|نحنا|حنا|كلنا)\s+(?:(?:جايين|جاين|راح\s+نكون|رح\s+نكون|سنكون|بنكون|هنكون)\s+)?(?:ال)?{N}(?:$|[^\p{L}])",
            None,
            false,
        ),
        coming(total_pattern(
            r"(?:^|[^\p{L}])(?:جايين|جاين|جايين\s+كلنا|سناتي|سنحضر|سنكون|رح\s+نكون|راح\s+نكون|بنكون|هنكون|حنكون|راح\s+نجي|رح\s+نجي|هنيجي)\s+(?:ال)?{N}(?:$|[^\p{L}])",
            None,
            false,
        )),
    ];
    // One word for the whole party ("втроём", "ikimiz"), all in one pattern.
    let words: Vec<&str> = ONE_WORD.iter().map(|(w, _)| *w).collect();
    v.push(coming(total_pattern(
        &format!(
            r"(?:^|[^\p{{L}}'])(?P<n>{})(?:$|[^\p{{L}}'])",
            words.join("|")
        ),
        None,
        false,
    )));
    v
});

/// One word for the whole party (folded).
const ONE_WORD: &[(&str, u32)] = &[
    ("вдвоем", 2),
    ("втроем", 3),
    ("вчетвером", 4),
    ("впятером", 5),
    ("вшестером", 6),
    ("удвох", 2),
    ("вдвох", 2),
    ("втрьох", 3),
    ("утрьох", 3),
    ("вчотирьох", 4),
    ("учотирьох", 4),
    ("вп'ятьох", 5),
    ("вшістьох", 6),
    ("vdvoem", 2),
    ("vdvoyom", 2),
    ("vtroem", 3),
    ("vtroyom", 3),
    ("vchetverom", 4),
    ("vdvokh", 2),
    ("udvokh", 2),
    ("vtrokh", 3),
    ("vtr'okh", 3),
    ("vtrjokh", 3),
    ("ikimiz", 2),
    ("uecuemuez", 3),
    ("ucumuz", 3),
    ("doerduemuez", 4),
    ("dordumuz", 4),
    ("besimiz", 5),
    ("altimiz", 6),
    ("كلانا", 2),
    ("شخصين", 2),
];

/// "4-5", "4 oder 5", "3 or 4", "3–4": the number right of `end` (or left of `start`) makes a
/// range.
static RANGE_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:-|–|bis|oder|or|to|или|або|чи|lub|albo|veya|ya\s+da|او)\s*\d")
        .expect("range")
});
static RANGE_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d\s*(?:-|–|bis|oder|or|to|или|або|чи|lub|albo|veya|ya\s+da|او)\s*$")
        .expect("range")
});

/// Words that book places: "Zusage für 2 Personen", "Anmeldung für 3", "places for 4".
static RSVP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^\p{L}])(?:zusag\p{L}*|anmeld\p{L}*|platz|plaetze|reserv\p{L}*|registr\p{L}*|rsvp|sign\s+up|places?|seats?|tickets?|zapis\p{L}*|miejsc\p{L}*|мест\p{L}*|місц\p{L}*|запис\p{L}*|kayit\p{L}*|yer|حجز|مكان)",
    )
    .expect("rsvp regex")
});

fn total(folded: &str, offer: bool) -> Total {
    // (position, number, marked)
    let mut found: Option<(usize, u32, bool)> = None;
    for p in TOTALS.iter().filter(|p| p.coming || !offer) {
        for c in p.re.captures_iter(folded) {
            let whole = c.get(0).expect("match");
            let (n, at) = match (p.fixed, c.name("n")) {
                (Some(n), _) => (Some(n), whole.start()),
                (None, Some(m)) => {
                    let w = m.as_str();
                    let one_word = ONE_WORD.iter().find(|(o, _)| *o == w).map(|(_, n)| *n);
                    let n = match w {
                        _ if one_word.is_some() => one_word,
                        "zweit" => Some(2),
                        "dritt" => Some(3),
                        "viert" => Some(4),
                        "fuenft" => Some(5),
                        "sechst" => Some(6),
                        "siebt" => Some(7),
                        "neunt" => Some(9),
                        "zehnt" => Some(10),
                        w => number_word(w),
                    };
                    if n.is_some()
                        && m.as_str().bytes().all(|b| b.is_ascii_digit())
                        && (RANGE_AFTER.is_match(&folded[m.end()..])
                            || RANGE_BEFORE.is_match(&folded[..m.start()]))
                    {
                        return Total::Range;
                    }
                    // "für 80 Personen" is how much food, "у нас 3 ребёнка" what a family has:
                    // neither is who comes. "Zusage für 2 Personen" is.
                    let skip = c.name("skip").is_some_and(|sk| {
                        let before = &folded[..sk.start()];
                        let from = before.char_indices().rev().nth(30).map_or(0, |(i, _)| i);
                        !RSVP.is_match(&before[from..])
                    });
                    (if skip { None } else { n }, m.start())
                }
                (None, None) => (None, whole.start()),
            };
            let Some(n) = n.filter(|n| (2..=MAX_PARTY).contains(n)) else {
                continue;
            };
            let better = match found {
                None => true,
                Some((pos, _, marked)) => (p.marked && !marked) || (p.marked == marked && at < pos),
            };
            if better {
                found = Some((at, n, p.marked));
            }
        }
    }
    match found {
        Some((_, n, _)) => Total::Said(n),
        None => Total::Nothing,
    }
}

// ---------------------------------------------------------------------------------------
// 2. The people named.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    /// The writer: "ich", "I", "я", "ben", "ja" (Polish), "أنا".
    First,
    /// "wir", "we", "мы", "ми", "biz", "نحن": not counted itself, the writer is one of them.
    We,
    /// "und", "and", "и", "і", "i", "ve", "و", ",", "+".
    Conj,
    /// "mit", "with", "с", "з", "z", "مع", "ويا": the companions follow.
    With,
    /// "bringe", "bring": the companions follow too ("bringe meinen Mann mit").
    Bring,
    /// Possessives, articles and a few adjectives inside a person's name ("meine kleine").
    Det,
    /// One person: "Frau", "husband", "мужем", "kızım", "زوجتي".
    Person,
    /// People in the plural, counted by the number before them: "Kinder", "kids", "детьми".
    Group,
    /// Representatives of an organisation: "Kolleginnen", "Lehrkräfte", "veli".
    Staff,
    /// A fixed number of people: "Zwillinge", "twins", "Eltern", Arabic duals ("الولدين").
    Pair(u32),
    /// A number nobody gave: "Familie", "family", "gang", "сім'єю".
    Vague,
    /// "Herr", "Frau", "Mr", "pani", "Hanım": a name goes with it.
    Honor,
    /// The first word of a greeting: the name after it is the person addressed.
    Greeting,
    /// Capitalised words that are no name ("Danke", "Thanks").
    NotName,
    /// "of", "von", "من", "z" between a number and the people ("zwei von meinen Kindern").
    Of,
}

/// The lexicon, written as people write and folded when built.
static LEXICON: LazyLock<HashMap<String, Word>> = LazyLock::new(|| {
    use Word::*;
    let entries: &[(Word, &str)] = &[
        (
            First,
            "ich mich me myself i'm i'll i've i'd я меня ben ana انا اني",
        ),
        (We, "wir we мы ми biz نحن احنا نحنا حنا"),
        (
            Conj,
            "und and & + , ، и й і та i oraz ve و sowie plus samt",
        ),
        (
            With,
            "mit with с со з із зі z ze wraz razem مع ويا وياي m3a ma3a",
        ),
        (Bring, "bringe bring bringen bringt bringing bringe's возьму візьму"),
        (
            Det,
            "mein meine meinen meinem meiner meines unser unsere unseren unserem unserer \
             sein seine seinen seinem seiner ihr ihre ihren ihrem ihrer der die das den dem \
             des ein eine einen einem einer auch kleine kleinen kleiner kleinem grosse grossen \
             aelteste aeltesten juengste juengsten liebe lieben neue neuen \
             my our his her their the a an little small young youngest eldest oldest older \
             younger best dear lovely own new \
             мой моя мою моей моим моего мои моими наш наша нашу нашей нашим наши нашими \
             нашего наших моих своих свою своей своим своими своего его ее её маленькой маленьким маленькая \
             младшей младшим старшей старшим собой собою \
             мій моя мою моєю моїм мої моїми моєї мого наша нашою наші нашими нашої своєю \
             своїм своїми своєї наших моїх своїх її його маленькою молодшою старшою \
             moja moja moje moj mojego moim moimi mojej nasza nasze naszym naszymi naszej \
             nasz naszego naszych moich swoich swoja swoim swoimi swojej jego jej mala malym malymi mlodsza \
             mlodszym starsza starszym \
             buyuk kucuk bueyuek kuecuek \
             الصغير الصغيره الكبير الكبيره صغير صغيره",
        ),
        (
            Person,
            // German
            "mann frau ehemann ehefrau gatte gattin partner partnerin freund freundin \
             tochter toechter sohn mutter mama mami mutti vater papa papi schwester bruder oma opa omi \
             opi grossmutter grossvater enkelin enkeltochter enkelsohn nachbar nachbarin \
             kollegin mitbewohner mitbewohnerin schwiegermutter schwiegervater schwaegerin \
             schwager tante onkel cousin cousine nichte neffe baby kind begleitung begleiter \
             begleiterin verlobter verlobte lebensgefaehrte lebensgefaehrtin kleine kleinen \
             mitbewohnerin dolmetscherin assistentin betreuerin \
             \
             wife husband partner boyfriend girlfriend friend mate buddy son daughter mother \
             mum mom mam mommy mummy father dad daddy sister brother grandma granny grandpa \
             grandmother grandfather grandson granddaughter grandchild neighbour neighbor \
             colleague flatmate roommate housemate baby child kid toddler aunt uncle cousin \
             niece nephew fiance fiancee spouse carer caregiver companion mother-in-law \
             father-in-law sister-in-law brother-in-law plus-one sis bro \
             \
             муж мужем мужа супруга супругой супругу супруг супругом жена женой жену сын \
             сыном сына сынок сыночком сыночек дочь дочерью дочка дочкой дочку доча дочей \
             мама мамой маму мамочкой мать матерью папа папой папу отец отцом сестра сестрой \
             сестру сестренкой брат братом бабушка бабушкой бабушку дедушка дедушкой внук \
             внуком внучка внучкой внучку подруга подругой подругу подружкой друг другом \
             соседка соседкой соседку сосед соседом коллега коллегой ребенок ребенком малыш \
             малышом малая малой малую свекровь свекровью теща тещей племянник племянником \
             племянница племянницей кума кумой кум кумом парень парнем девушка девушкой \
             \
             чоловік чоловіком чоловіка дружина дружиною дружину син сином сина синочком \
             синочок донька донькою доньку дочка дочкою донечка донечкою мама мамою маму мати \
             матір'ю тато татом батько батьком сестра сестрою сестру брат братом бабуся \
             бабусею дідусь дідусем онук онуком онука онукою подруга подругою подругу друг \
             другом сусідка сусідкою сусід сусідом колега колегою дитина дитиною малий малим \
             мала малою свекруха свекрухою кума кумою кум кумом хлопець хлопцем дівчина \
             дівчиною \
             \
             maz mezem meza zona zone syn synem synek synkiem syna corka corke coreczka \
             coreczke mama mame tata tate siostra siostre brat bratem babcia babcie dziadek \
             dziadkiem wnuk wnukiem wnuczka wnuczke kolezanka kolezanke kolega kolega \
             przyjaciolka przyjaciolke przyjaciel przyjacielem sasiadka sasiadke sasiad \
             sasiadem dziecko dzieckiem partnerka partnerke partnerem narzeczony narzeczona \
             chlopak chlopakiem dziewczyna dziewczyne tesciowa mala malym \
             \
             esim kocam karim hanimim kizim kizimiz oglum oglumuz annem babam kardesim ablam \
             abim agabeyim teyzem halam dayim amcam torunum komsum arkadasim sevgilim \
             nisanlim kayinvalidem kaynanam bebegim bebegimiz cocugum cocugumuz yengem \
             eniştem enistem meslektasim \
             \
             muzh muzhem zhena zhenoj zhenoy zhenu syn synom doch dochka dochkoj dochkoy \
             mamoj mamoy podruga podrugoj podrugoy drug drugom sestra sestroj sestroy \
             bratom cholovik cholovikom druzhyna druzhynoyu donka donkoyu dochkoyu \
             marti mrati mrat jozi jawzi sa7bi sa7bti sahbi sahbti \
             زوجتي زوجي مرتي مراتي جوزي راجلي ابني ابننا بنتي بنتنا ابنتي امي والدتي ابوي \
             ابي بابا والدي اختي اخي اخوي صاحبي صاحبتي صديقي صديقتي رفيقي رفيقتي جاري \
             جارتي زميلي زميلتي طفلي طفلتي حفيدي حفيدتي خالتي عمتي خالي عمي حماتي ماما",
        ),
        (
            Group,
            "kinder kindern kids jungs jungen maedchen maedels soehne soehnen toechtern \
             enkel enkeln enkelkinder enkelkindern freunde freunden freundinnen nachbarn \
             erwachsene erwachsenen schuelerinnen schueler schuelern jugendliche \
             jugendlichen teilnehmer teilnehmerinnen frauen maenner damen herren bewohner \
             bewohnerinnen senioren seniorinnen \
             \
             kids children grandchildren grandkids friends mates neighbours neighbors sons \
             daughters boys girls adults grown-ups people ones teenagers teens students pupils \
             brothers sisters women men \
             \
             дети детьми детей детки детками сыновья сыновьями сыновей дочери дочерьми \
             дочерей друзья друзьями друзей подруги подругами соседи соседями соседей внуки \
             внуками внуков взрослые взрослых мальчики мальчиками девочки девочками \
             \
             діти дітьми дітей сини синами синів доньки доньками доньок хлопці хлопців \
             хлопцями друзі друзями друзів подруги подругами сусіди сусідами онуки онуками \
             дорослі дорослих дівчатка дівчатками \
             \
             dzieci dziecmi dzieciaki dzieciakami synowie synami synow corki corkami corek \
             dziewczynki dziewczynkami chlopcy chlopcow chlopcami malych maluchy maluchami \
             przyjaciol przyjaciolmi sasiedzi sasiadami wnuki wnukami wnukow dorosli doroslych \
             kolezanki kolezankami \
             \
             cocuk cocuklar cocuklarim cocuklarimiz kizlarim ogullarim arkadaslarim \
             komsularim torunlarim kardeslerim yetiskin \
             \
             اولادي ولادي ولادنا اولادنا اطفالي اطفال اطفالنا بناتي جيراني اصحابي اصدقائي \
             اخواني اخوتي ولاد اولاد نساء رجال",
        ),
        (
            Staff,
            "kolleginnen kollegen lehrkraefte lehrkraeften lehrer lehrerinnen erzieherinnen \
             erzieher mitarbeiter mitarbeiterinnen mitarbeitende vorstandsmitglieder \
             vorstandsmitgliedern mitglieder mitgliedern ehrenamtliche ehrenamtlichen \
             vertreter vertreterinnen betreuer betreuerinnen fachkraefte \
             colleagues teachers staff members volunteers representatives delegates \
             коллеги коллегами коллег сотрудники сотрудниками сотрудников учителя учителями \
             колеги колегами колег співробітники вчителі \
             kolegami kolegow nauczycielki nauczycielek nauczycielami pracownicy pracownikow \
             veli ogretmen ueye uye temsilci goenuellue gonullu egitmen meslektaslarim \
             زملاء زملائي موظفين معلمين ممثلين متطوعين",
        ),
        (
            Vague,
            "familie family gang crew clique truppe klasse class sippe everyone everybody \
             семьей семьей семьёй семьею сім'єю родиною rodzina rodzina rodzinka ailece \
             ailemle ailem العيله العائله عيلتي عائلتي",
        ),
        (
            Honor,
            "herr frau hr fr mr mrs ms miss dr pani pan ks s господин госпожа пан пані \
             hanim bey abla السيد السيده الاستاذ الاستاذه الدكتور الدكتوره ام ابو",
        ),
        (
            Greeting,
            "hallo hi hey hello dear liebe lieber liebes sehr moin servus guten merhaba \
             selam sayin здравствуйте привет уважаемая уважаемый добрый шановна шановний \
             привіт доброго dzien szanowna szanowny szanowni czesc hej witam مرحبا السلام \
             اهلا هلا هلو هاي",
        ),
        (
            NotName,
            "danke dank thanks thank gerne gern ja yes ok okay super klar prima toll great \
             sure bitte please love pleasure regards ask sevgi saygi \
             уважением новым рождеством праздником наступающим удовольствием \
             повагою новим різдвом святом наступаючим powazaniem wyrazami swietami",
        ),
        (Of, "of von aus из من"),
    ];
    let mut m = HashMap::new();
    for (word, list) in entries {
        for w in list.split_whitespace() {
            // The first entry wins: "kleine" is an adjective before a noun ("meine kleine
            // Tochter") before it is a person ("die Kleine").
            m.entry(fold(w)).or_insert(*word);
        }
    }
    // Pairs: a fixed number of people in one word.
    for w in "zwillinge zwillingen twins eltern parents близнецы близнецами близнюки \
              близнюками родители родителями батьки батьками blizniaki bliznieta rodzice \
              rodzicami ikizler ikizlerim annemler توام التوام ولدين ابنين بنتين طفلين \
              ولادي_التنين"
        .split_whitespace()
    {
        m.insert(fold(w), Word::Pair(2));
    }
    m
});

fn lookup(w: &str) -> Option<Word> {
    if let Some(x) = LEXICON.get(w) {
        return Some(*x);
    }
    // The Arabic article: "الولدين" is "ولدين".
    w.strip_prefix("ال")
        .filter(|r| r.chars().count() > 1)
        .and_then(|r| LEXICON.get(r).copied())
}

#[derive(Clone, Debug)]
struct Tok {
    /// Folded.
    w: String,
    /// Lower case as written (the endings that folding takes off: "Kubą").
    low: String,
    /// Written with a capital (a name, in an enumeration or after an honorific).
    cap: bool,
    word: Option<Word>,
    num: Option<u32>,
    arabic: bool,
    /// A Turkish comitative ("kızımla", "eşimle"): this person comes with the writer.
    comitative: bool,
}

impl Tok {
    fn is(&self, w: Word) -> bool {
        self.word == Some(w)
    }
}

/// A sentence, or a part of one in brackets, after a colon or a dash.
#[derive(Debug, Default)]
struct Segment {
    toks: Vec<Tok>,
    /// Its sentence asks ("Can I bring my neighbour?"): nobody is announced.
    question: bool,
    /// Which sentence it is part of (an index into the sentences [`segments`] returns).
    sentence: usize,
}

/// Words saying that people come, take part or will be there (stems over the folded text).
static COMING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)(?:^|[^\p{L}'])(?:
        komm\p{L}*|kommt|dabei|teil\p{L}*|vorbei|bring\p{L}*|\p{L}*meld\p{L}*|erschein\p{L}*|
        anwesend|zusag\p{L}*|besuch\p{L}*|
        come|coming|comes|be\s+there|join\p{L}*|attend\p{L}*|see\s+(you|u)|count\s+(us|me)|
        will\s+be|\p{L}*'ll\s+be|make\s+it|accept\p{L}*|(?:are|we're|am|i'm)\s+in\b|
        прид\p{L}*|приед\p{L}*|буд\p{L}*|пойд\p{L}*|зайд\p{L}*|заглян\p{L}*|участв\p{L}*|
        присутств\p{L}*|
        прийд\p{L}*|приїд\p{L}*|підемо|піду|участ\p{L}*|долуч\p{L}*|
        przyjd\p{L}*|przyjad\p{L}*|bed\p{L}*|wpadn\p{L}*|wpadne|udzial\p{L}*|dolacz\p{L}*|
        pojawi\p{L}*|obecn\p{L}*|
        gel\p{L}*|katil\p{L}*|orada|variz|varim|
        budem\p{L}*|pridem|pridu|pryjdu|pryjdemo|bedziemy|
        \p{L}*جاي\p{L}*|جاين|\p{L}*نجي|\p{L}*اجي|بجي|\p{L}*حضر\p{L}*|\p{L}*اتي|\p{L}*يجي|
        \p{L}*شارك\p{L}*|\p{L}*مثل\p{L}*
        )",
    )
    .expect("coming regex")
});

/// The segments of a text, with their tokens, and the text of each sentence.
fn segments(text: &str) -> (Vec<Segment>, Vec<String>) {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<Segment> = vec![Segment::default()];
    let mut sentences: Vec<String> = Vec::new();
    // The first segment of the current sentence, and where its text starts.
    let mut sentence = (0, 0);
    let mut close =
        |out: &mut Vec<Segment>, sentence: (usize, usize), end: usize, question: bool| {
            let said: String = chars[sentence.1..end].iter().collect();
            if said.trim().is_empty() {
                return;
            }
            for s in &mut out[sentence.0..] {
                s.question = question;
                s.sentence = sentences.len();
            }
            sentences.push(said);
        };
    let mut i = 0;
    let in_word = |c: char| c.is_alphanumeric() || is_mark(c);
    while i < chars.len() {
        let c = chars[i];
        if in_word(c) {
            let start = i;
            while i < chars.len()
                && (in_word(chars[i])
                    || (matches!(chars[i], '\'' | '’' | 'ʼ' | '-')
                        && i + 1 < chars.len()
                        && chars[i + 1].is_alphabetic()
                        && i > start
                        && chars[i - 1].is_alphabetic()))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            push_word(&mut out.last_mut().expect("segment").toks, &word);
            continue;
        }
        // "s. Bernadeta", "Dr. Kiel": an abbreviated title ends no sentence.
        let abbrev = c == '.'
            && out
                .last()
                .and_then(|s| s.toks.last())
                .is_some_and(|t| t.is(Word::Honor));
        match c {
            // Not the dot of a date ("am 16. Dezember teilnehmen").
            '.' | '!' | '?' | ';' | '\n' | '؟' | '؛'
                if !(abbrev || c == '.' && i > 0 && chars[i - 1].is_ascii_digit()) =>
            {
                close(&mut out, sentence, i, matches!(c, '?' | '؟'));
                out.push(Segment::default());
                sentence = (out.len() - 1, i + 1);
            }
            ':' | '(' | ')' | '[' | ']' | '–' | '—' | '…' | '|' | '"' | '«' | '»' | '„' | '“'
            | '”' => out.push(Segment::default()),
            ',' | '،' | '+' | '&' | '/' => {
                // A comma lists; "+" and "&" join like "and".
                let w = if matches!(c, '+' | '&') { "+" } else { "," };
                out.last_mut().expect("segment").toks.push(Tok {
                    w: w.into(),
                    low: w.into(),
                    cap: false,
                    word: Some(Word::Conj),
                    num: None,
                    arabic: false,
                    comitative: false,
                });
            }
            // "4-5": a range is no enumeration.
            '-' => out.push(Segment::default()),
            _ => {}
        }
        i += 1;
    }
    close(&mut out, sentence, chars.len(), false);
    out.retain(|s| !s.toks.is_empty());
    for s in &mut out {
        resolve_ambiguous(&mut s.toks);
    }
    (out, sentences)
}

fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036f}' | '\u{064b}'..='\u{065f}' | '\u{0670}' | '\u{0640}')
}

fn push_word(seg: &mut Vec<Tok>, original: &str) {
    let w = fold(original);
    let cap = original.chars().next().is_some_and(char::is_uppercase);
    let arabic = original
        .chars()
        .next()
        .is_some_and(|c| ('\u{0600}'..='\u{06ff}').contains(&c));
    let low = original.to_lowercase();
    let tok = |w: String, word: Option<Word>, num: Option<u32>, comitative: bool| Tok {
        w,
        low: low.clone(),
        cap,
        word,
        num,
        arabic,
        comitative,
    };
    // English "I" is the writer; Polish "i" is "and".
    if original == "I" {
        seg.push(tok(w, Some(Word::First), None, false));
        return;
    }
    let num = number_word(&w).or_else(|| w.strip_prefix("ال").and_then(number_word));
    let word = lookup(&w);
    if word.is_some() || num.is_some() {
        seg.push(tok(w, word, num, false));
        return;
    }
    // Arabic "و" is written onto the next word: "وزوجتي" is "و" + "زوجتي".
    if arabic {
        if let Some(rest) = w.strip_prefix('و').filter(|r| r.chars().count() > 1) {
            let num = number_word(rest).or_else(|| rest.strip_prefix("ال").and_then(number_word));
            let word = lookup(rest);
            if word.is_some() || num.is_some() {
                seg.push(tok("و".into(), Some(Word::Conj), None, false));
                seg.push(tok(rest.to_string(), word, num, false));
                return;
            }
        }
    }
    // Turkish comitative: "eşimle", "kızımla", "çocuklarımla", "arkadaşımla".
    for suffix in ["yla", "yle", "la", "le"] {
        if let Some(stem) = w.strip_suffix(suffix).filter(|s| s.chars().count() > 2) {
            if let Some(word @ (Word::Person | Word::Group | Word::Staff | Word::Vague)) =
                lookup(stem)
            {
                seg.push(tok(stem.to_string(), Some(word), None, true));
                return;
            }
        }
    }
    seg.push(tok(w, None, None, false));
}

/// Words whose reading depends on their neighbours.
fn resolve_ambiguous(seg: &mut [Tok]) {
    let has_polish_and = seg.iter().any(|t| t.w == "i" && !t.cap);
    for i in 0..seg.len() {
        if !matches!(
            seg[i].w.as_str(),
            "ja" | "my" | "frau" | "pani" | "pan" | "kleine" | "kleinen" | "mala" | "malym" | "ile"
        ) {
            continue;
        }
        let next = seg.get(i + 1).map(|t| t.w.clone()).unwrap_or_default();
        let prev = if i > 0 {
            seg[i - 1].w.clone()
        } else {
            String::new()
        };
        match seg[i].w.as_str() {
            // Polish "ja" is the writer ("ja i moja mama"); German "Ja," is yes.
            "ja" => {
                let polish = next == "i"
                    || prev == "i"
                    || (next == "," && has_polish_and)
                    || next == "z"
                    || next == "ze";
                seg[i].word = polish.then_some(Word::First);
            }
            // Polish "my z mężem" is "we"; English "my" is a possessive.
            "my" if next == "z" || next == "ze" => seg[i].word = Some(Word::We),
            // "Frau" after a possessive is a wife ("meine Frau"), before a name a title.
            "frau" | "pani" | "pan" => {
                let after_det = i > 0 && seg[i - 1].is(Word::Det);
                let before_name = seg.get(i + 1).is_some_and(is_name);
                seg[i].word = if before_name && !after_det {
                    Some(Word::Honor)
                } else if seg[i].w == "frau" {
                    Some(Word::Person)
                } else {
                    None
                };
            }
            // "meine Kleine", "moja mała": a child; before a noun an adjective.
            "kleine" | "kleinen" | "mala" | "malym" => {
                let after_det = i > 0 && seg[i - 1].is(Word::Det);
                let before_noun = seg.get(i + 1).is_some_and(|t| {
                    matches!(t.word, Some(Word::Person | Word::Group | Word::Staff))
                });
                seg[i].word = Some(if after_det && !before_noun {
                    Word::Person
                } else {
                    Word::Det
                });
            }
            // "ile" joins two people ("Emre ile ben") or follows the companions ("5 veli ile").
            "ile" => {
                seg[i].word = Some(
                    if next.is_empty()
                        || seg
                            .get(i + 1)
                            .is_some_and(|t| t.word.is_none() && t.num.is_none() && !t.cap)
                    {
                        Word::With
                    } else {
                        Word::Conj
                    },
                );
            }
            _ => {}
        }
    }
}

/// One person or group in an enumeration.
#[derive(Debug, Clone, Copy)]
struct Elem {
    /// `None`: a plural without a number.
    n: Option<u32>,
    first: bool,
    staff: bool,
    /// A person named with a title ("Herr Demir") or a counted group: may stand in an
    /// enumeration without the writer.
    listed: bool,
    comitative: bool,
    /// A name alone ("Rob", "منى"): a person only beside the writer.
    bare: bool,
    /// An Arabic word unknown to the lexicon: a name only right beside the writer ("منى وأنا").
    arabic_name: bool,
}

fn is_name(t: &Tok) -> bool {
    t.cap
        && t.word.is_none()
        && t.num.is_none()
        && t.w.chars().all(|c| c.is_alphabetic() || c == '-' || c == '\'')
        // "с Новым годом", "з Міжнародним днем": an adjective, not a name.
        && !["им", "ым", "ім", "ого", "ому"].iter().any(|e| t.w.ends_with(e))
}

/// Words before a place, not a person: "from Nigeria and I", "aus Polen und ich".
const PLACE_BEFORE: &[&str] = &[
    "from", "in", "at", "to", "of", "for", "on", "aus", "nach", "von", "bei", "im", "am", "zum",
    "zur", "vom", "an", "auf", "w", "we", "do", "na", "pod", "po", "za", "в", "во", "на", "из",
    "у", "до", "від", "по", "за", "під", "о", "при", "في", "من", "على", "الى",
];

/// Which capitalised words are names of people in an element.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Names {
    /// After German "mit" every noun is capitalised.
    No,
    Any,
    /// After "с", "з": only with the instrumental ending of a name ("с Сашей", "з Олегом"),
    /// not "з Outlook".
    Cyrillic,
    /// After Polish "z": only with its instrumental ending ("z Kubą", "z Markiem"), not "z
    /// Fußballtraining".
    Polish,
}

impl Names {
    fn allow(self, t: &Tok) -> bool {
        match self {
            Names::No => false,
            Names::Any => true,
            Names::Cyrillic => ["ой", "ей", "ёй", "ою", "ею", "єю", "ом", "ем", "ём"]
                .iter()
                .any(|e| t.low.ends_with(e)),
            Names::Polish => t.low.ends_with('ą') || t.low.ends_with("em"),
        }
    }
}

/// Reads one element at `i`; returns it and the index after it.
fn elem(seg: &[Tok], mut i: usize, names: Names) -> Option<(Elem, usize)> {
    let start = i;
    let t = seg.get(i)?;
    if t.is(Word::First) {
        return Some((
            Elem {
                n: Some(1),
                first: true,
                staff: false,
                listed: false,
                comitative: false,
                bare: false,
                arabic_name: false,
            },
            i + 1,
        ));
    }
    while seg.get(i).is_some_and(|t| t.is(Word::Det)) {
        i += 1;
    }
    let mut num = None;
    if let Some(n) = seg.get(i).and_then(|t| t.num) {
        // A number word that is also a lexicon word ("beide") still counts here.
        if !seg
            .get(i)
            .is_some_and(|t| t.is(Word::First) || t.is(Word::Conj))
        {
            num = Some(n);
            i += 1;
            if seg.get(i).is_some_and(|t| t.is(Word::Of)) {
                i += 1;
            }
            while seg.get(i).is_some_and(|t| t.is(Word::Det)) {
                i += 1;
            }
        }
    }
    let t = seg.get(i)?;
    let mut e = Elem {
        n: None,
        first: false,
        staff: false,
        listed: false,
        comitative: t.comitative,
        bare: false,
        arabic_name: false,
    };
    match t.word {
        Some(Word::Person) => {
            e.n = Some(num.unwrap_or(1));
            i += 1;
        }
        Some(w @ (Word::Group | Word::Staff)) => {
            e.staff = w == Word::Staff;
            i += 1;
            // Arabic puts the number after the people: "أولادي التنين".
            let after = seg
                .get(i)
                .filter(|t| t.arabic && num.is_none())
                .and_then(|t| t.num);
            if after.is_some() {
                i += 1;
            }
            e.n = num.or(after);
            e.listed = e.n.is_some();
        }
        Some(Word::Pair(k)) => {
            e.n = Some(num.unwrap_or(k));
            i += 1;
        }
        Some(Word::Vague) => {
            i += 1;
        }
        Some(Word::Honor)
            if num.is_none()
                && seg
                    .get(i + 1)
                    .is_some_and(|t| is_name(t) || t.arabic && t.word.is_none()) =>
        {
            i += 1;
            while seg.get(i).is_some_and(is_name) && i - start < 5 {
                i += 1;
            }
            if seg
                .get(i)
                .is_some_and(|t| t.arabic && t.word.is_none() && t.num.is_none())
            {
                i += 1;
            }
            e.n = Some(1);
            e.listed = true;
        }
        None if num.is_none()
            && names.allow(t)
            && is_name(t)
            && i == start
            && !(start > 0 && PLACE_BEFORE.contains(&seg[start - 1].w.as_str())) =>
        {
            while seg.get(i).is_some_and(is_name) && i - start < 4 {
                i += 1;
            }
            e.n = Some(1);
            e.bare = true;
        }
        // An Arabic word in an enumeration with the writer is a person's name ("منى وأنا").
        None if num.is_none()
            && names == Names::Any
            && t.arabic
            && t.num.is_none()
            && i == start
            && !(start > 0 && PLACE_BEFORE.contains(&seg[start - 1].w.as_str())) =>
        {
            i += 1;
            e.n = Some(1);
            e.bare = true;
            e.arabic_name = true;
        }
        _ => return None,
    }
    // Apposition: "my mate Kev", "kızım Elif", "meine Kollegin Frau Brause", "komşum Gül
    // Hanım", "جارتي أم علي", "ابننا الصغير".
    if e.n == Some(1) || e.n.is_none() {
        if seg.get(i).is_some_and(|t| t.is(Word::Honor))
            && seg.get(i + 1).is_some_and(|t| is_name(t) || t.arabic)
        {
            i += 2;
        }
        let mut k = 0;
        while seg.get(i).is_some_and(is_name) && k < 3 {
            i += 1;
            k += 1;
        }
        if k > 0 && seg.get(i).is_some_and(|t| t.is(Word::Honor)) {
            i += 1;
        }
    }
    while seg.get(i).is_some_and(|t| t.is(Word::Det) && t.arabic) {
        i += 1;
    }
    Some((e, i))
}

/// An enumeration at `i`: elements joined by "und", "and", "و", ... (a list joined by commas
/// alone is no enumeration: "Hallo Anna, ich komme").
fn enumeration(
    seg: &[Tok],
    i: usize,
    names: Names,
    with_first: bool,
) -> Option<(Vec<Elem>, usize)> {
    let (e, mut j) = elem(seg, i, names)?;
    if e.first && !with_first {
        return None;
    }
    // "Anna, ich komme mit ...": a name before a comma is the person addressed.
    if e.bare && seg.get(j).is_some_and(|t| t.w == ",") {
        return None;
    }
    let mut list = vec![e];
    let mut real_conj = false;
    loop {
        let sep = seg.get(j);
        let (next, conj) = match sep {
            Some(t) if t.is(Word::Conj) => (j + 1, Some(t.w != ",")),
            // "3 Erwachsene 2 Kinder": counted groups side by side.
            Some(t) if t.num.is_some() && list.last().is_some_and(|l| l.listed && !l.first) => {
                (j, None)
            }
            _ => break,
        };
        let Some((e, k)) = elem(seg, next, names) else {
            break;
        };
        if e.first && !with_first {
            break;
        }
        if conj.is_none() && !e.listed {
            break;
        }
        // "Schülerinnen und Schüler": the second half of a pair has the number of the first.
        if e.n.is_none() && !e.first && list.last().is_some_and(|l| l.listed) && conj == Some(true)
        {
            j = k;
            continue;
        }
        real_conj |= conj != Some(false);
        list.push(e);
        j = k;
    }
    if list.len() > 1 && !real_conj {
        list.truncate(1);
        let (_, k) = elem(seg, i, names)?;
        j = k;
    }
    // An unknown Arabic word counts only right beside the writer: "منى وأنا", "أنا ومنى".
    if list.iter().any(|e| e.arabic_name) {
        let beside = list.len() == 2 && list.iter().any(|e| e.first);
        if !beside {
            list.retain(|e| !e.arabic_name);
        }
    }
    Some((list, j))
}

enum Said {
    /// How many, and whether companions after "with" are among them.
    People(u32, bool),
    /// A plural without its number: this sentence cannot say how many.
    Vague,
}

fn sum(list: &[Elem]) -> Option<u32> {
    list.iter().map(|e| e.n).sum()
}

/// The party a sentence names, if it names one. An offer counts only the writer's own list
/// ("my husband and I accept"): its companions are who carries the cake ("I'll send it with my
/// son").
fn named(seg: &[Tok], offer: bool) -> Option<(u32, bool)> {
    match named_in(seg, offer)? {
        Said::People(n, with) => Some((n, with)),
        Said::Vague => None,
    }
}

fn named_in(seg: &[Tok], offer: bool) -> Option<Said> {
    let mut with_writer: Option<Vec<Elem>> = None;
    let mut companions: Vec<Elem> = Vec::new();
    let mut listed: Option<Vec<Elem>> = None;
    let first_singular = seg.iter().any(|t| t.is(Word::First));
    let mut i = 0;
    // The addressee after a greeting is not one of the party: "Hallo Frau Kaya, ...".
    if seg.first().is_some_and(|t| t.is(Word::Greeting)) {
        i = seg
            .iter()
            .position(|t| t.w == ",")
            .map_or(seg.len(), |p| p + 1);
    }
    while i < seg.len() {
        let t = &seg[i];
        // "у нас с мужем гараж": "my husband and I have", nobody comes.
        let we_have = i > 0 && seg[i - 1].w == "нас";
        if (t.is(Word::With) || t.is(Word::Bring)) && !we_have {
            let names = match t.w.as_str() {
                // Capitalised words after German "mit" are nouns, not names.
                "mit" | "bringe" | "bring" | "bringen" | "bringt" => Names::No,
                "с" | "со" | "з" | "із" | "зі" => Names::Cyrillic,
                "z" | "ze" | "wraz" | "razem" => Names::Polish,
                _ => Names::Any,
            };
            if let Some((list, j)) = enumeration(seg, i + 1, names, false) {
                companions.extend(list);
                i = j;
                continue;
            }
            i += 1;
            continue;
        }
        if let Some((list, j)) = enumeration(seg, i, Names::Any, true) {
            let followed_by_with = seg.get(j).is_some_and(|t| t.w == "ile");
            if list.iter().any(|e| e.first) && list.len() > 1 {
                if with_writer.is_none() {
                    // Turkish: "ben ve kızımla" names the companion twice over.
                    with_writer = Some(
                        list.into_iter()
                            .filter(|e| !e.comitative || e.first)
                            .collect(),
                    );
                }
            } else if list.iter().any(|e| e.comitative) || followed_by_with {
                companions.extend(list.into_iter().filter(|e| !e.first));
            } else if list.len() > 1 && list.iter().all(|e| e.listed) && listed.is_none() {
                listed = Some(list);
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    let companions_n = if companions.is_empty() {
        Some(0)
    } else {
        sum(&companions)
    };
    if offer {
        companions.clear();
        listed = None;
    }
    let total = if let Some(list) = with_writer {
        sum(&list).zip(companions_n).map(|(a, b)| a + b)
    } else if !companions.is_empty() {
        // Representatives are the party themselves ("mit drei Kolleginnen"), unless the
        // writer names themself beside them.
        let writer = u32::from(!companions.iter().any(|e| e.staff) || first_singular);
        companions_n.map(|n| n + writer)
    } else if let Some(list) = listed {
        sum(&list)
    } else {
        return None;
    };
    Some(match total {
        Some(n) => Said::People(n, !companions.is_empty()),
        None => Said::Vague,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<u32> {
        party_size(s, Intent::Accept)
    }

    #[test]
    fn only_an_acceptance_or_an_offer_carries_a_party() {
        assert_eq!(p("Wir kommen zu dritt."), Some(3));
        assert_eq!(
            party_size("Wir kommen zu dritt.", Intent::Cooperation),
            Some(3)
        );
        assert_eq!(
            party_size("Wir kommen leider nicht zu dritt.", Intent::Decline),
            None
        );
        assert_eq!(party_size("Kommen wir zu dritt?", Intent::Question), None);
        assert_eq!(party_size("zu dritt", Intent::Unsubscribe), None);
        assert_eq!(p("Ich komme gern!"), None);
        assert_eq!(p(""), None);
    }

    #[test]
    fn totals_in_german_and_english() {
        assert_eq!(p("Hallo, wir kommen zu viert!"), Some(4));
        assert_eq!(p("Wir kommen zu 4 :)"), Some(4));
        assert_eq!(p("Wir sind 5."), Some(5));
        assert_eq!(p("Gerne, wir kommen mit 6 Personen."), Some(6));
        assert_eq!(p("We are three, see you then"), Some(3));
        assert_eq!(p("We'll be 4 on Saturday."), Some(4));
        assert_eq!(p("Count us in, the two of us will come."), Some(2));
        assert_eq!(p("Yes! Party of seven."), Some(7));
    }

    #[test]
    fn totals_in_russian_ukrainian_and_polish() {
        assert_eq!(p("Придём, нас будет четверо."), Some(4));
        assert_eq!(p("Мы втроём придём обязательно"), Some(3));
        assert_eq!(p("Будем вчетвером!"), Some(4));
        assert_eq!(p("Нас буде троє, дякую"), Some(3));
        assert_eq!(p("Прийдемо вп’ятьох"), Some(5));
        assert_eq!(p("Będziemy we trzech."), Some(3));
        assert_eq!(p("Przyjdziemy w trójkę :)"), Some(3));
        assert_eq!(p("Będzie nas pięcioro"), Some(5));
    }

    #[test]
    fn totals_in_turkish_and_arabic() {
        assert_eq!(p("Üç kişi geleceğiz."), Some(3));
        assert_eq!(p("4 kişiyiz, teşekkürler"), Some(4));
        assert_eq!(p("İkimiz de geliyoruz"), Some(2));
        assert_eq!(p("سنأتي ثلاثة إن شاء الله"), Some(3));
        assert_eq!(p("نحن خمسة"), Some(5));
        assert_eq!(p("جايين ٤ يعني"), Some(4));
        assert_eq!(p("سنحضر ستة أشخاص"), Some(6));
    }

    #[test]
    fn a_marked_total_beats_a_number_said_for_something_else() {
        assert_eq!(
            p("Unser Chor hat 20 Leute, aber insgesamt 6 kommen zum Fest."),
            Some(6)
        );
        assert_eq!(
            p("Grubumuz 30 kişi oldu, toplam 7 kişi geleceğiz."),
            Some(7)
        );
    }

    #[test]
    fn a_range_or_a_capacity_is_no_party() {
        assert_eq!(p("wir sind so 3-4 Leute"), None);
        assert_eq!(p("We'll be 5 or 6 people."), None);
        assert_eq!(p("Wir bringen Kuchen für 30 Personen mit."), None);
    }

    #[test]
    fn the_writer_and_the_people_named_with_them() {
        assert_eq!(p("Ich und meine Frau kommen gerne."), Some(2));
        assert_eq!(p("Meine Frau und ich kommen."), Some(2));
        assert_eq!(p("me and my wife will be there"), Some(2));
        assert_eq!(p("My husband and I are coming."), Some(2));
        assert_eq!(p("Me and my friend Jo are in!"), Some(2));
        assert_eq!(p("Ich und meine zwei Söhne sind dabei."), Some(3));
        assert_eq!(p("Ja, ich und mein Mann kommen."), Some(2));
        assert_eq!(p("me, Sam and the twins will come"), Some(4));
        assert_eq!(p("Herr Novak und ich nehmen teil."), Some(2));
    }

    #[test]
    fn the_writer_and_the_companions() {
        assert_eq!(p("Ich komme mit meinen zwei Kindern."), Some(3));
        assert_eq!(p("Ich komme mit 2 Kindern"), Some(3));
        assert_eq!(p("Ich komme mit meiner Mutter und meiner Nichte."), Some(3));
        assert_eq!(p("I'll come with my sister"), Some(2));
        assert_eq!(
            p("I'm coming with my three grandchildren (4, 6 and 9)."),
            Some(4)
        );
        assert_eq!(p("Ich bringe meine Nachbarin mit."), Some(2));
        assert_eq!(p("Ich bringe einen Kuchen mit."), None);
        assert_eq!(p("Ich komme mit dem Fahrrad."), None);
    }

    #[test]
    fn a_plural_without_its_number_says_nothing() {
        assert_eq!(p("I'll come with the kids."), None);
        assert_eq!(p("Ich komme mit meinem Mann und den Kindern."), None);
        assert_eq!(p("Wir kommen mit der ganzen Familie."), None);
    }

    #[test]
    fn companions_in_russian_ukrainian_and_polish() {
        assert_eq!(p("Мы с женой придём."), Some(2));
        assert_eq!(p("Приду с дочкой и её подругой"), Some(3));
        assert_eq!(p("Придём с Колей!"), Some(2));
        assert_eq!(p("Я и трое детей придём."), Some(4));
        assert_eq!(p("Ми з братом будемо."), Some(2));
        assert_eq!(p("Я прийду з двома синами."), Some(3));
        assert_eq!(p("Я, чоловік і двоє дітей прийдемо."), Some(4));
        assert_eq!(p("Przyjdę z mężem."), Some(2));
        assert_eq!(p("Ja i moja siostra przyjdziemy."), Some(2));
        assert_eq!(p("Przyjdę z trójką dzieci."), Some(4));
        assert_eq!(p("Wpadnę z Olą i Kubą."), Some(3));
        assert_eq!(p("Przyjdę z żoną i dwójką dzieci."), Some(4));
        assert_eq!(p("Приду с женой и двумя детьми."), Some(4));
    }

    #[test]
    fn companions_in_turkish_and_arabic() {
        assert_eq!(p("Eşimle geleceğim."), Some(2));
        assert_eq!(p("Eşim ve iki çocuğumla geleceğim."), Some(4));
        assert_eq!(p("سآتي مع زوجتي وأولادي الثلاثة"), Some(5));
        assert_eq!(p("Ben ve annem geliyoruz."), Some(2));
        assert_eq!(p("Ben ve iki çocuğum geliyoruz"), Some(3));
        assert_eq!(p("Derneğimizden 4 gönüllü ile katılacağız."), Some(4));
        assert_eq!(p("أنا وزوجي وابني جايين"), Some(3));
        assert_eq!(p("أنا وأختي سنحضر"), Some(2));
        assert_eq!(p("رح إجي مع صاحبي"), Some(2));
        assert_eq!(p("أنا والولدين جايين"), Some(3));
        // Duals: "two children" in one word.
        assert_eq!(p("رح إجي مع طفلين"), Some(3));
        assert_eq!(p("سنأتي ٣ أشخاص"), Some(3));
    }

    #[test]
    fn representatives_are_the_party_themselves() {
        assert_eq!(p("Die Schule nimmt mit drei Kolleginnen teil."), Some(3));
        assert_eq!(p("Ich komme mit zwei Kolleginnen."), Some(3));
        assert_eq!(
            p("Wir kommen mit 20 Kindern und drei Erzieherinnen."),
            Some(23)
        );
        assert_eq!(
            p("Es kommen 12 Schülerinnen und Schüler und zwei Lehrkräfte."),
            Some(14)
        );
    }

    #[test]
    fn family_mentioned_is_not_the_party() {
        assert_eq!(p("Ich komme gern! Meine Frau ist leider krank."), None);
        assert_eq!(p("Ich komme, aber ohne meinen Mann."), None);
        assert_eq!(p("Thanks, I'll be there. My wife sends her regards."), None);
        assert_eq!(
            p("I'll come. It was a hard autumn with my husband in hospital."),
            None
        );
        assert_eq!(p("Ich komme. Kann ich meine Nachbarin mitbringen?"), None);
    }

    #[test]
    fn a_greeting_names_no_companion() {
        assert_eq!(p("Hallo Frau Kaya, ich komme gern."), None);
        assert_eq!(p("Hallo Frau Kaya, ich und mein Sohn kommen."), Some(2));
        assert_eq!(p("Danke und ich komme gern!"), None);
    }

    #[test]
    fn signatures_and_couples_without_the_writer_are_no_party() {
        assert_eq!(p("Wir kommen gern.\nAnna und Tom Berger"), None);
        assert_eq!(p("See you there!\nSabine & Ahmed"), None);
    }
}
