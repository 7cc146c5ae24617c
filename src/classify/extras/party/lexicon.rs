//! The words that name people in the seven languages (the writer, companions, relatives,
//! counted groups), folded as `extras::fold` folds them.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::classify::extras::fold;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Word {
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

pub(super) fn lookup(w: &str) -> Option<Word> {
    if let Some(x) = LEXICON.get(w) {
        return Some(*x);
    }
    // The Arabic article: "الولدين" is "ولدين".
    w.strip_prefix("ال")
        .filter(|r| r.chars().count() > 1)
        .and_then(|r| LEXICON.get(r).copied())
}
