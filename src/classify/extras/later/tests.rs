use super::*;

const DEC: (i32, u32) = (2026, 12);

fn nb(s: &str) -> Option<String> {
    not_before_at(s, DEC, Intent::Decline)
}

#[test]
fn months_of_the_seven_languages() {
    for (w, m) in [
        ("März", 3),
        ("marca", 3),
        ("березня", 3),
        ("марта", 3),
        ("Mart'tan", 3),
        ("martta", 3),
        ("آذار", 3),
        ("مارس", 3),
        ("Mai", 5),
        ("мая", 5),
        ("травня", 5),
        ("października", 10),
        ("лютого", 2),
        ("Şubat'ta", 2),
    ] {
        assert_eq!(month_of(&fold(w)), Some(m), "{w}");
    }
    assert_eq!(month_of("mail"), None);
    assert_eq!(month_of("машина"), None);
}

#[test]
fn from_a_month_with_a_wish_to_be_asked_again() {
    assert_eq!(
        nb("Leider nicht. Gern ab März wieder!").as_deref(),
        Some("2027-03")
    );
    assert_eq!(
        nb("Sorry, not this time. Please invite me again from May.").as_deref(),
        Some("2027-05")
    );
    assert_eq!(
        nb("Сейчас не могу. С апреля приглашайте!").as_deref(),
        Some("2027-04")
    );
    assert_eq!(
        nb("Не вийде. З лютого пишіть, тоді прийду.").as_deref(),
        Some("2027-02")
    );
    assert_eq!(
        nb("Nie dam rady. Od czerwca chętnie znowu.").as_deref(),
        Some("2027-06")
    );
    assert_eq!(
        nb("Gelemiyorum. Nisan'dan itibaren tekrar davet edin.").as_deref(),
        Some("2027-04")
    );
    assert_eq!(
        nb("ما بقدر هلق. من نيسان ابعتولي").as_deref(),
        Some("2027-04")
    );
    assert_eq!(
        nb("Let's try again in February!").as_deref(),
        Some("2027-02")
    );
}

#[test]
fn the_month_of_the_mail_is_next_years() {
    assert_eq!(nb("Ab Dezember gern wieder.").as_deref(), Some("2027-12"));
    assert_eq!(
        not_before_at("Ab Dezember gern wieder.", (2026, 9), Intent::Decline).as_deref(),
        Some("2026-12")
    );
}

#[test]
fn next_year_and_a_year_named() {
    assert_eq!(
        nb("Nächstes Jahr gerne wieder!").as_deref(),
        Some("2027-01")
    );
    assert_eq!(nb("Im neuen Jahr gern wieder.").as_deref(), Some("2027-01"));
    assert_eq!(
        nb("Please ask me again next year.").as_deref(),
        Some("2027-01")
    );
    assert_eq!(
        nb("Пишите в следующем году, тогда приду.").as_deref(),
        Some("2027-01")
    );
    assert_eq!(nb("W przyszłym roku chętnie!").as_deref(), Some("2027-01"));
    assert_eq!(nb("Seneye tekrar çağırın.").as_deref(), Some("2027-01"));
    assert_eq!(
        nb("خلوها للسنة الجاية، ابعتولي").as_deref(),
        Some("2027-01")
    );
    assert_eq!(
        nb("Ab 2028 fragen Sie gern wieder an.").as_deref(),
        Some("2028-01")
    );
}

#[test]
fn after_the_summer_holidays() {
    assert_eq!(
        nb("Nach den Sommerferien gerne wieder!").as_deref(),
        Some("summer_holidays")
    );
    assert_eq!(
        nb("After the summer holidays, invite me again.").as_deref(),
        Some("summer_holidays")
    );
    assert_eq!(
        nb("После летних каникул приглашайте.").as_deref(),
        Some("summer_holidays")
    );
    assert_eq!(
        nb("Po wakacjach chętnie.").as_deref(),
        Some("summer_holidays")
    );
    assert_eq!(
        nb("Yaz tatilinden sonra tekrar yazın.").as_deref(),
        Some("summer_holidays")
    );
    assert_eq!(
        nb("بعد العطلة الصيفية ابعتولي").as_deref(),
        Some("summer_holidays")
    );
    assert_eq!(
        nb("Vor den Sommerferien wird das nichts. Danach gern wieder!").as_deref(),
        Some("summer_holidays")
    );
}

#[test]
fn from_a_season() {
    assert_eq!(nb("Ab Frühjahr gern wieder!").as_deref(), Some("2027-03"));
    assert_eq!(
        nb("Invite me again from spring.").as_deref(),
        Some("2027-03")
    );
    assert_eq!(nb("С весны снова приглашайте.").as_deref(), Some("2027-03"));
    assert_eq!(nb("Od wiosny chętnie znowu.").as_deref(), Some("2027-03"));
    assert_eq!(
        nb("Ilkbahardan itibaren tekrar davet edin.").as_deref(),
        Some("2027-03")
    );
    assert_eq!(nb("من الربيع ابعتولي").as_deref(), Some("2027-03"));
    assert_eq!(
        nb("Ab Herbst bin ich gern wieder dabei.").as_deref(),
        Some("2027-09")
    );
}

#[test]
fn after_the_holidays_depends_on_when_the_mail_is_written() {
    assert_eq!(
        nb("Nach den Feiertagen gern wieder!").as_deref(),
        Some("2027-01")
    );
    assert_eq!(
        nb("After the holidays, invite me again.").as_deref(),
        Some("2027-01")
    );
    assert_eq!(
        nb("После праздников приглашайте!").as_deref(),
        Some("2027-01")
    );
    assert_eq!(nb("Po świętach chętnie znowu.").as_deref(), Some("2027-01"));
    assert_eq!(
        not_before_at("Nach den Ferien gern wieder!", (2027, 7), Intent::Decline).as_deref(),
        Some("summer_holidays")
    );
    assert_eq!(
        not_before_at("Nach den Ferien gern wieder!", (2027, 3), Intent::Decline),
        None
    );
}

#[test]
fn the_end_of_an_obstacle_followed_by_then() {
    assert_eq!(
        nb("Ich bin bis Ende Februar in Reha. Danach bin ich gern wieder dabei.").as_deref(),
        Some("2027-03")
    );
    assert_eq!(
        nb("Vor Mai wird das nichts. Danach gern!").as_deref(),
        Some("2027-05")
    );
    assert_eq!(
        nb("До конца января я в отъезде, потом пишите.").as_deref(),
        Some("2027-02")
    );
    // A "from" beats the end of an obstacle.
    assert_eq!(
        nb("Bis Ende März bin ich weg. Ab April gern wieder.").as_deref(),
        Some("2027-04")
    );
}

#[test]
fn a_time_alone_is_no_wish() {
    assert_eq!(
        nb("Ab Januar bin ich in Elternzeit, daher leider nicht."),
        None
    );
    assert_eq!(nb("We can't take part next year, sorry."), None);
    assert_eq!(nb("Am 18. Dezember sind wir leider verhindert."), None);
    assert_eq!(nb("Ich komme nicht."), None);
}

#[test]
fn only_a_refusal_reads_the_softer_words() {
    let s = "Wir könnten ab März gern einen Kurs anbieten.";
    assert_eq!(not_before_at(s, DEC, Intent::Cooperation), None);
    let s = "Ab März können wir gern loslegen, meldet euch dann bitte nochmal.";
    assert_eq!(
        not_before_at(s, DEC, Intent::Cooperation).as_deref(),
        Some("2027-03")
    );
    assert_eq!(
        not_before_at(
            "Ich dachte, das wäre erst im Januar?",
            DEC,
            Intent::Question
        ),
        None
    );
}

#[test]
fn an_acceptance_or_an_unsubscription_carries_no_wish() {
    assert_eq!(
        not_before_at("Ich komme, und ab März gern wieder!", DEC, Intent::Accept),
        None
    );
    assert_eq!(
        not_before_at(
            "Bitte austragen, ab Januar bin ich weg.",
            DEC,
            Intent::Unsubscribe
        ),
        None
    );
}

#[test]
fn quoted_lines_are_not_the_persons_words() {
    assert_eq!(nb("Leider nicht.\n> Ab März laden wir wieder ein."), None);
}
