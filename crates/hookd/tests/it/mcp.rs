#[suite_test]
async fn mcp_requests_share_the_keys_rate_limit() {
    let app = spawn_app_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 4;
    })
    .await;
    let session = RawSession::open(&app, &app.live_key).await;
    // Each tools/list is one MCP request plus the REST request it makes: the burst runs out.
    let mut refused = None;
    for id in 1..=10 {
        let (answer, _) = session
            .post(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#
            ))
            .await;
        if answer.status == 429 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("a 429 within ten requests");
    assert_eq!(
        refused.message["error"]["code"], "rate_limited",
        "{}",
        refused.body
    );
    // Another key has its own budget.
    let other = RawSession::open(&app, &app.test_key).await;
    let (answer, _) = other
        .post(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .await;
    assert_ne!(answer.status, 429, "{}", answer.body);
}
