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
