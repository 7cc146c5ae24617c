//! /healthz and /metrics: the queue, campaign and request figures, behind an optional bearer
//! token.

use crate::support::{App, Backend};
use netzpost::store;
use reqwest::StatusCode;

each_db!(async healthz_and_metrics);

async fn healthz_and_metrics(backend: Backend) {
    let a = App::on(backend).await;
    let (s, body) = a.get("/healthz").await;
    assert_eq!(s, 200);
    assert_eq!(body, "ok\n");
    let t = a.topic("nachbarschaft").await;
    a.get("/s/nachbarschaft").await;
    let (s, body) = a.get("/metrics").await;
    assert_eq!(s, 200);
    assert!(body.contains("netzpost_queue_depth 0"), "{body}");
    assert!(
        body.contains(
            "netzpost_http_requests_total{method=\"GET\",route=\"/s/{topic}\",status=\"200\"} 1"
        ),
        "{body}"
    );
    assert!(body.contains(
        "netzpost_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 1"
    ));
    // Campaign and inbound figures come from the database.
    a.contact("m@example.org", vec![t]).await;
    let (campaign, _) = a.invitation(t).await;
    let k = store::campaigns::by_id(&a.db, campaign.into())
        .await
        .unwrap();
    store::campaigns::enqueue(
        &a.db,
        &k,
        netzpost::store::campaigns::Caps {
            invitation_every_days: 0,
            max_messages_per_30_days: 100,
            silent_after_days: 180,
            rest_after_declines: 0,
            rest_days: 0,
        },
    )
    .await
    .unwrap();
    let (_, body) = a.get("/metrics").await;
    assert!(body.contains("netzpost_queue_depth 1"), "{body}");
    assert!(
        body.contains("netzpost_messages_total{campaign=\"einladung-cafe\",status=\"queued\"} 1"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_want_the_bearer_token_when_one_is_configured() {
    let open = App::start().await;
    let r = open.http.get(open.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "open by default");

    let token = "metrics-token-5f2c1e9a";
    let a = App::start_with(|c| c.http.metrics_token = Some(token.into())).await;
    let get = |auth: Option<String>| {
        let mut req = a.http.get(a.url("/metrics"));
        if let Some(v) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, v);
        }
        req.send()
    };
    for wrong in [
        None,
        Some("Bearer falsch".to_string()),
        Some(token.to_string()),
    ] {
        let r = get(wrong.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(!r.text().await.unwrap().contains("netzpost_"), "{wrong:?}");
    }
    let r = get(Some(format!("Bearer {token}"))).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("netzpost_"));
}
