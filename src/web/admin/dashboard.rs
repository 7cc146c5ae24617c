//! The dashboard: the activation funnel per topic and per campaign, and who became active
//! lately. The counts are `store::report`'s, the same the API's `/api/reports/funnel` and
//! `netzpost report funnel` give.

use super::{admin_of, internal, page};
use crate::store;
use crate::web::{report, Shared};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

/// The windows the dashboard offers, in days.
const DAYS: [i64; 3] = [30, 90, 365];

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/", get(dashboard))
}

async fn dashboard(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    // The window chosen (`?days=30`, 90 or 365; else since the first message sent).
    let days = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "days")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .filter(|d| DAYS.contains(d));
    let since = days.map(|d| store::now() - chrono::Duration::days(d));
    let data = async {
        let topics = store::report::topics(&st.db, st.cfg.silent_after_days, since).await?;
        let campaigns = store::report::campaigns(&st.db).await?;
        let recent = store::report::recent_activations(&st.db, 20).await?;
        let window = store::report::window(&st.db, since).await?;
        // Re-permission: who is due for a renewal request, and whose request is open.
        let cutoff = store::now() - chrono::Duration::days(st.cfg.renewal.silent_for_days);
        let mut renewal = store::consents::renewals_open(&st.db, None).await?;
        renewal.extend(store::consents::due_for_renewal(&st.db, None, cutoff).await?);
        Ok::<_, store::StoreError>((topics, campaigns, recent, window, renewal))
    }
    .await;
    let (mut topics, all_campaigns, mut recent, window, renewal) = match data {
        Ok(d) => d,
        Err(e) => return internal(&st, a.lang, e),
    };
    // A coordinator or helper sees their topics only.
    topics.retain(|t| a.sees(Some(t.id.0)));
    let renewal: Vec<_> = renewal
        .into_iter()
        .filter(|r| a.sees(Some(r.topic_id.0)))
        .collect();
    let mut campaigns = Vec::with_capacity(all_campaigns.len());
    for c in all_campaigns {
        if a.reaches(&st, store::auth::Named::Campaign(&c.name)).await {
            campaigns.push(c);
        }
    }
    if a.topics.is_some() {
        let mut mine = Vec::with_capacity(recent.len());
        for r in recent {
            if a.reaches(&st, store::auth::Named::Contact(r.contact_id.0))
                .await
            {
                mine.push(r);
            }
        }
        recent = mine;
    }
    // The bars are running totals of people; "silent" is the state now and stands beside them.
    let topics: Vec<serde_json::Value> = topics
        .into_iter()
        .map(|t| {
            let bars = report::bars(&report::stages(
                t.invited,
                t.replied,
                t.encounter,
                t.came,
                t.cooperation,
            ));
            json!({"funnel": t, "bars": bars})
        })
        .collect();
    let campaigns: Vec<serde_json::Value> = campaigns
        .into_iter()
        .map(|c| {
            let bars = report::bars(&report::stages(
                c.invited,
                c.replied,
                c.encounter,
                c.came,
                c.cooperation,
            ));
            json!({"funnel": c, "bars": bars})
        })
        .collect();
    page(
        &st,
        &a,
        "web/admin/dashboard.html.j2",
        "dashboard",
        json!({"topics": topics, "campaigns": campaigns, "recent": recent, "window": window,
               "renewal": renewal, "days": days.unwrap_or(0),
               "lang_param": a.q.strip_prefix("?lang=")}),
    )
}
