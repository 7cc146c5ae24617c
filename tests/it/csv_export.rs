//! No spreadsheet formula in any CSV netzpost writes: exports, lists and the rejects of an
//! import, whatever a stranger typed into the subscribe form.

use crate::support::app::CLIENT;
use crate::support::{text, App};
use reqwest::StatusCode;

/// Every cell of a CSV text (`,` or `;`).
fn csv_cells(text: &str, delimiter: u8) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    r.records()
        .flat_map(|rec| rec.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

fn assert_no_formula(what: &str, cells: &[String], expected: &[&str]) {
    for c in cells {
        assert!(
            !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{what}: a cell starts like a formula: {c:?}"
        );
    }
    for e in expected {
        assert!(
            cells.iter().any(|c| c == e),
            "{what}: no cell {e:?} in {cells:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn contacts_export_list_and_rejects_csv_neutralise_spreadsheet_formulas() {
    let a = App::start().await;
    a.topic("nachbarschaft").await;
    // A stranger names themselves through the subscribe form.
    let name = "=HYPERLINK(\"http://evil.example\",\"klick\")";
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("email", "mallory@example.org")
        .append_pair("name", name)
        .finish();
    let (s, _) = a.post_form_from(CLIENT, "/s/nachbarschaft", &body).await;
    assert_eq!(s, StatusCode::OK);
    let file = a.write(
        "liste.csv",
        "email;name;Verein;notiz\n\
         erika@example.org;@SUM(1+1);+49 30 123;-2+3\n\
         =cmd|'/C calc'!A0;Kaputt;;\n",
    );
    let out = a.cli(&["contacts", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let out = a.cli(&["contacts", "export"]);
    assert!(out.status.success(), "{}", text(&out));
    let cells = csv_cells(&String::from_utf8_lossy(&out.stdout), b',');
    assert_no_formula(
        "contacts export",
        &cells,
        &[&format!("'{name}"), "'@SUM(1+1)", "'+49 30 123"],
    );
    let export = a.dir.path().join("export.csv");
    let out = a.cli(&["contacts", "export", "-o", export.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let cells = csv_cells(&std::fs::read_to_string(&export).unwrap(), b',');
    assert_no_formula("contacts export -o", &cells, &[&format!("'{name}")]);

    let out = a.cli(&["--format", "csv", "contacts", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    let cells = csv_cells(&String::from_utf8_lossy(&out.stdout), b',');
    assert_no_formula(
        "contacts list --format csv",
        &cells,
        &[&format!("'{name}"), "'@SUM(1+1)"],
    );

    let rejects =
        std::fs::read_to_string(format!("{}.rejects.csv", file.to_str().unwrap())).unwrap();
    assert_no_formula(
        "rejects",
        &csv_cells(&rejects, b','),
        &["'=cmd|'/C calc'!A0;Kaputt;;"],
    );
}
