//! The `Store` contract for integrations and their call log, on whichever backend the test binary
//! runs: case-insensitive name uniqueness among connected integrations only, patches that leave
//! untouched fields alone, disconnect kept visible to `find`, and tenant scoping of everything.

use hookd::domain::ids::{ApiKeyId, CallId, IntegrationId};
use hookd::domain::integration::{
    AuthView, CallErrorCode, CallVia, HeaderView, HttpMethod, Integration, IntegrationCall,
    IntegrationPatch, Sealed, StoredIntegration,
};
use hookd::domain::tenant::{Mode, Tenant};
use hookd::domain::time::Timestamp;
use hookd::store::{DynStore, IntegrationFilter, PageRequest, StoreError};

use crate::harness::{suite_test, TestDatabase};

async fn open() -> (DynStore, TestDatabase) {
    let db = TestDatabase::create().await;
    let config = crate::harness::test_config(&db.url);
    let store = hookd::app::open_store(&config).await.expect("open store");
    (store, db)
}

async fn tenant(store: &DynStore, name: &str, mode: Mode) -> Tenant {
    let ws = store.create_workspace(name).await.unwrap();
    Tenant {
        workspace_id: ws.id,
        mode,
    }
}

fn integration(name: &str) -> StoredIntegration {
    let now = Timestamp::now();
    StoredIntegration {
        integration: Integration {
            id: IntegrationId::generate(),
            name: name.into(),
            description: Some("Stores a summary of each run.".into()),
            url: "https://reports.example.com/v1".into(),
            secret_query_params: Vec::new(),
            method: HttpMethod::Post,
            // Not the default (the configured method alone), so it round-trips as a list.
            allowed_methods: vec![HttpMethod::Post, HttpMethod::Get],
            allowed_path_prefixes: vec!["/runs".into()],
            allow_caller_headers: true,
            headers: [(
                "X-Team".to_string(),
                HeaderView {
                    value_last4: Some("ting".into()),
                },
            )]
            .into(),
            auth: AuthView::Bearer {
                token_last4: Some("9876".into()),
            },
            content_type: "application/json".into(),
            timeout_ms: 10_000,
            created_at: now,
            updated_at: now,
            disconnected_at: None,
        },
        url_sealed: "https://reports.example.com/v1".into(),
        headers_sealed: vec![1, 2, 3],
        auth_sealed: vec![4, 5, 6],
    }
}

fn page(limit: u32) -> PageRequest {
    PageRequest::new(limit, None)
}

fn by_name(name: &str, include_disconnected: bool) -> IntegrationFilter {
    IntegrationFilter {
        name: Some(name.into()),
        include_disconnected,
    }
}

#[suite_test]
async fn integrations_round_trip_and_names_are_unique_ignoring_case() {
    let (store, _db) = open().await;
    let t = tenant(&store, "acme", Mode::Live).await;
    let first = integration("Über Reports");
    store.insert_integration(&t, &first).await.unwrap();
    let found = store
        .find_integration(&t, &first.integration.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.integration, first.integration);
    assert_eq!(
        (found.headers_sealed, found.auth_sealed),
        (vec![1, 2, 3], vec![4, 5, 6])
    );

    let duplicate = store
        .insert_integration(&t, &integration("über REPORTS"))
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    let listed = store
        .list_integrations(&t, &by_name("ÜBER reports", false), &page(10))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    // Disconnected: still found (for 410), hidden from lists unless asked, name free again.
    assert!(store
        .disconnect_integration(&t, &first.integration.id, Timestamp::now())
        .await
        .unwrap());
    assert!(!store
        .disconnect_integration(&t, &first.integration.id, Timestamp::now())
        .await
        .unwrap());
    let gone = store
        .find_integration(&t, &first.integration.id)
        .await
        .unwrap()
        .unwrap();
    assert!(gone.integration.disconnected_at.is_some());
    assert!(store
        .update_integration(
            &t,
            &first.integration.id,
            &IntegrationPatch::default(),
            Timestamp::now()
        )
        .await
        .unwrap()
        .is_none());
    let hidden = store
        .list_integrations(&t, &by_name("über reports", false), &page(10))
        .await
        .unwrap();
    assert!(hidden.items.is_empty());
    store
        .insert_integration(&t, &integration("Über Reports"))
        .await
        .unwrap();
    let all = store
        .list_integrations(&t, &by_name("über reports", true), &page(10))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
}

#[suite_test]
async fn patches_change_only_what_they_name() {
    let (store, _db) = open().await;
    let t = tenant(&store, "acme", Mode::Live).await;
    let stored = integration("Orders");
    let id = stored.integration.id.clone();
    store.insert_integration(&t, &stored).await.unwrap();
    store
        .insert_integration(&t, &integration("Billing"))
        .await
        .unwrap();

    let patch = IntegrationPatch {
        url: Some("https://orders.example.com/v2".parse().unwrap()),
        timeout_ms: Some(500),
        auth: Some(Sealed {
            sealed: vec![9, 9],
            view: AuthView::None,
        }),
        ..IntegrationPatch::default()
    };
    let updated = store
        .update_integration(&t, &id, &patch, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.url, "https://orders.example.com/v2");
    assert_eq!(updated.timeout_ms, 500);
    assert_eq!(updated.auth, AuthView::None);
    assert_eq!(updated.name, "Orders");
    assert_eq!(updated.headers, stored.integration.headers);
    // Fields the patch left out are kept.
    assert_eq!(updated.description, stored.integration.description);
    assert_eq!(updated.allowed_methods, stored.integration.allowed_methods);
    assert_eq!(
        updated.allowed_path_prefixes,
        stored.integration.allowed_path_prefixes
    );
    assert!(updated.allow_caller_headers);
    let reread = store.find_integration(&t, &id).await.unwrap().unwrap();
    assert_eq!(
        (reread.headers_sealed, reread.auth_sealed),
        (vec![1, 2, 3], vec![9, 9])
    );

    let rename = IntegrationPatch {
        name: Some("BILLING".into()),
        ..IntegrationPatch::default()
    };
    let taken = store
        .update_integration(&t, &id, &rename, Timestamp::now())
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");

    // The call policy and description: set, cleared, and back to the default method.
    let policy = IntegrationPatch {
        description: Some(None),
        allowed_methods: Some(None),
        allowed_path_prefixes: Some(Vec::new()),
        allow_caller_headers: Some(false),
        method: Some(HttpMethod::Put),
        ..IntegrationPatch::default()
    };
    let updated = store
        .update_integration(&t, &id, &policy, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.description, None);
    // Unset follows the configured method.
    assert_eq!(updated.allowed_methods, vec![HttpMethod::Put]);
    assert!(updated.allowed_path_prefixes.is_empty());
    assert!(!updated.allow_caller_headers);
    let set = IntegrationPatch {
        description: Some(Some("Bills customers.".into())),
        allowed_methods: Some(Some(vec![HttpMethod::Get, HttpMethod::Delete])),
        allowed_path_prefixes: Some(vec!["/invoices".into()]),
        ..IntegrationPatch::default()
    };
    let updated = store
        .update_integration(&t, &id, &set, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("Bills customers."));
    assert_eq!(
        updated.allowed_methods,
        vec![HttpMethod::Get, HttpMethod::Delete]
    );
    assert_eq!(updated.allowed_path_prefixes, vec!["/invoices".to_string()]);
    let reread = store.find_integration(&t, &id).await.unwrap().unwrap();
    assert_eq!(reread.integration, updated);
}

#[suite_test]
async fn integrations_and_call_logs_are_scoped_to_their_tenant() {
    let (store, _db) = open().await;
    let live = tenant(&store, "acme", Mode::Live).await;
    let test = Tenant {
        workspace_id: live.workspace_id.clone(),
        mode: Mode::Test,
    };
    let other = tenant(&store, "other", Mode::Live).await;
    let stored = integration("Shared name");
    let id = stored.integration.id.clone();
    store.insert_integration(&live, &stored).await.unwrap();
    // The same name in another mode or workspace is another integration.
    store
        .insert_integration(&test, &integration("Shared name"))
        .await
        .unwrap();
    store
        .insert_integration(&other, &integration("Shared name"))
        .await
        .unwrap();

    let mut calls = Vec::new();
    for status in [Some(200), None] {
        let call = IntegrationCall {
            id: CallId::generate(),
            integration_id: id.clone(),
            api_key_id: ApiKeyId::generate(),
            via: if status.is_some() {
                CallVia::Mcp
            } else {
                CallVia::Api
            },
            method: HttpMethod::Post,
            url: "https://reports.example.com/v1/x".into(),
            status,
            duration_ms: 12,
            error_code: status.is_none().then_some(CallErrorCode::UpstreamTimeout),
            error: status
                .is_none()
                .then(|| "timed out after 500 ms".to_string()),
            request_body: "{}".into(),
            response_body: "ok".into(),
            truncated: false,
            created_at: Timestamp::now(),
        };
        store.insert_integration_call(&live, &call).await.unwrap();
        calls.push(call);
    }
    let log = store
        .list_integration_calls(&live, &id, &page(1))
        .await
        .unwrap();
    assert!(log.has_more);
    assert_eq!(log.items, vec![calls[1].clone()], "newest first");

    for foreign in [&test, &other] {
        assert!(store
            .find_integration(foreign, &id)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .update_integration(foreign, &id, &IntegrationPatch::default(), Timestamp::now())
            .await
            .unwrap()
            .is_none());
        assert!(!store
            .disconnect_integration(foreign, &id, Timestamp::now())
            .await
            .unwrap());
        let log = store
            .list_integration_calls(foreign, &id, &page(10))
            .await
            .unwrap();
        assert!(log.items.is_empty());
        let listed = store
            .list_integrations(foreign, &IntegrationFilter::default(), &page(10))
            .await
            .unwrap();
        assert!(listed.items.iter().all(|i| i.id != id));
    }
}
