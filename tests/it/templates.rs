//! Campaign templates that could hurt: includes outside `templates/`, and templates that loop
//! or print without end (refused by the CLI and the API within seconds; the daemon keeps
//! serving and stops on SIGTERM).

use crate::support::Workspace;

#[test]
fn template_includes_outside_templates_are_refused_at_create() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    std::fs::write(ws.path().join("geheim.txt"), "GEHEIM-INHALT").unwrap();
    let attempts = [
        r#"{% include "../../etc/passwd" %}"#,
        r#"{% include "/etc/passwd" %}"#,
        r#"{% include "../geheim.txt" %}"#,
        r#"{% include "../../geheim.txt" %}"#,
        r#"{% include "mail/../../geheim.txt" %}"#,
        r#"{% extends "../../etc/passwd" %}"#,
        r#"{% import "../../etc/passwd" as x %}"#,
        r#"{% from "/etc/passwd" import x %}"#,
        r#"{% include "..\\..\\etc\\passwd" %}"#,
        r#"{% include "%2e%2e/%2e%2e/etc/passwd" %}"#,
    ];
    for (i, body) in attempts.iter().enumerate() {
        for field in ["--body", "--subject"] {
            let name = format!("boese-{i}-{}", &field[2..]);
            let mut args = vec![
                "campaigns",
                "create",
                &name,
                "--kind",
                "newsletter",
                "--topic",
                "nachbarschaft",
            ];
            if field == "--subject" {
                args.extend(["--subject", body, "--body", "Hallo"]);
            } else {
                args.extend(["--body", body]);
            }
            let out = ws.run(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                !out.status.success(),
                "{field} {body:?} was accepted:\n{stdout}{err}"
            );
            assert!(!err.contains("root:") && !err.contains("GEHEIM"), "{err}");
        }
    }
    // And through the library: the renderer refuses the same at validation.
    let r = netzpost::outbound::render::Renderer::new(None).unwrap();
    for body in attempts {
        assert!(
            r.validate(netzpost::outbound::render::MailKind::Newsletter, "x", body)
                .is_err(),
            "{body}"
        );
    }
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM campaigns"),
        0,
        "nothing created"
    );
}

/// 10^10 iterations: stopped by the fuel.
const LOOP_BOMB: &str =
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";

/// About 3 MB of text for little work: stopped by the output limit, not by the fuel.
const TEXT_BOMB: &str = "{% for i in range(3000) %}{{ \"y\" * 1000 }}{% endfor %}";

fn create_args<'a>(name: &'a str, body: &'a str) -> Vec<&'a str> {
    vec![
        "campaigns",
        "create",
        name,
        "--kind",
        "newsletter",
        "--topic",
        "nachbarschaft",
        "--body",
        body,
    ]
}

/// A campaign body that loops 100,000 x 100,000 times (or prints megabytes) would take the
/// daemon to gigabytes of memory and make it deaf to SIGTERM: rendering runs on a fuel budget and
/// an output limit, so `campaigns create` refuses such a template within seconds, with a clear
/// error, and stores nothing.
#[test]
fn campaigns_create_refuses_a_template_that_loops_or_prints_without_end() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    for (name, body, says) in [
        ("schleife", LOOP_BOMB, "too much work"),
        ("textflut", TEXT_BOMB, "too long"),
        ("im-betreff", "Hallo", "too much work"),
    ] {
        let started = std::time::Instant::now();
        let mut args = create_args(name, body);
        if name == "im-betreff" {
            args.extend(["--subject", LOOP_BOMB]);
        }
        let out = ws.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: created: {stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        assert!(
            stderr.contains(name),
            "{name}: names the campaign: {stderr}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM campaigns"), 0);
    // A normal template still passes.
    ws.ok(&create_args("normal", "Hallo {{ contact.name }}!"));
}

/// The same through the API of a running daemon: the request gets 422 with the reason, the
/// daemon keeps serving and stops on SIGTERM.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_refuses_a_looping_template_and_the_daemon_still_stops_on_sigterm() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    let token = ws.ok(&["tokens", "create", "skript"]).trim().to_string();
    let mut daemon = ws.serve_logging(&ws.path().join("var/serve.log"), "info");
    let base = daemon.listening();
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let r = http
        .post(format!("{base}/api/campaigns"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "name": "bombe", "kind": "newsletter", "topic": "nachbarschaft", "body": LOOP_BOMB,
        }))
        .timeout(std::time::Duration::from_secs(60))
        .send()
        .await
        .expect("an answer within a minute");
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("too much work"), "{body}");
    println!("refused after {:?}: {body}", started.elapsed());
    // Still serving.
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert!(r.status().is_success());
    let status = daemon.terminate(std::time::Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "serve did not stop cleanly on SIGTERM ({status:?}):\n{}",
        daemon.log_text()
    );
    let campaigns = ws.sql_i64("SELECT COUNT(*) FROM campaigns");
    assert_eq!(campaigns, 0);
}
