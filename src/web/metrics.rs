//! `/metrics` in the Prometheus text format (0.0.4): HTTP requests and latency counted in
//! process; messages, queue depth and inbound mail read from the database at scrape time, so
//! they are right for every daemon sharing one database.

use super::Shared;
use crate::store;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let mut lat = self.latency.lock().expect("metrics lock");
        let h = lat.entry(route.to_string()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }
}

/// Middleware: counts every request by method, route pattern (never the raw path: tokens must
/// not become label values) and status.
pub async fn track(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    st.metrics.observe(
        &method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `/metrics`; with `http.metrics_token` set, only for `Authorization: Bearer <token>`.
pub async fn metrics(State(st): State<Shared>, headers: axum::http::HeaderMap) -> Response {
    if let Some(want) = st.cfg.http.metrics_token.as_deref() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !super::auth::constant_time_eq(given.trim().as_bytes(), want.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need the bearer token of http.metrics_token\n",
            )
                .into_response();
        }
    }
    match render(&st).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("metrics: {e:#}");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response()
        }
    }
}

async fn render(st: &Shared) -> anyhow::Result<String> {
    let db = &st.db;
    let messages = store::metrics::deliveries_by_campaign(db).await?;
    let queue = store::metrics::queue_depth(db).await?;
    let inbound = store::metrics::inbound_by_kind(db).await?;
    let contacts = store::contacts::count(db).await?;

    let mut o = String::new();
    o.push_str("# HELP netzpost_messages_total Deliveries per campaign and status (sent, failed, bounced, queued, ...).\n# TYPE netzpost_messages_total gauge\n");
    for (campaign, status, n) in &messages {
        writeln!(
            o,
            "netzpost_messages_total{{campaign=\"{}\",status=\"{}\"}} {n}",
            label(campaign),
            label(status)
        )?;
    }
    o.push_str("# HELP netzpost_queue_depth Deliveries waiting to be sent.\n# TYPE netzpost_queue_depth gauge\n");
    writeln!(o, "netzpost_queue_depth {queue}")?;
    o.push_str("# HELP netzpost_inbound_messages_total Inbound messages by kind and intent.\n# TYPE netzpost_inbound_messages_total gauge\n");
    for (kind, intent, n) in &inbound {
        writeln!(
            o,
            "netzpost_inbound_messages_total{{kind=\"{}\",intent=\"{}\"}} {n}",
            label(kind),
            label(intent)
        )?;
    }
    o.push_str("# HELP netzpost_contacts Contacts stored.\n# TYPE netzpost_contacts gauge\n");
    writeln!(o, "netzpost_contacts {contacts}")?;

    o.push_str("# HELP netzpost_http_requests_total HTTP requests by method, route and status.\n# TYPE netzpost_http_requests_total counter\n");
    for ((method, route, status), n) in st.metrics.requests.lock().expect("metrics lock").iter() {
        writeln!(
            o,
            "netzpost_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
            label(method),
            label(route)
        )?;
    }
    o.push_str("# HELP netzpost_http_request_duration_seconds HTTP request latency by route.\n# TYPE netzpost_http_request_duration_seconds histogram\n");
    for (route, h) in st.metrics.latency.lock().expect("metrics lock").iter() {
        let r = label(route);
        for (i, b) in BUCKETS.iter().enumerate() {
            writeln!(
                o,
                "netzpost_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {}",
                h.counts[i]
            )?;
        }
        writeln!(
            o,
            "netzpost_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
            h.count
        )?;
        writeln!(
            o,
            "netzpost_http_request_duration_seconds_sum{{route=\"{r}\"}} {}",
            h.sum
        )?;
        writeln!(
            o,
            "netzpost_http_request_duration_seconds_count{{route=\"{r}\"}} {}",
            h.count
        )?;
    }
    Ok(o)
}
