//! Every signature verifies with the official Standard Webhooks library of another language:
//! real deliveries are collected from a loopback receiver and checked by the Python package
//! `standardwebhooks` (PyPI), with tampered copies as controls that must fail.
//!
//! Needs [`PACKAGE`]; without it `main.rs` reports the test ignored (under `CI`, fails the run).

use std::io::Write;
use std::process::Stdio;

use serde_json::{json, Value};

use crate::fixtures::{publish, WAIT};
use crate::harness::*;
use crate::Package;

/// The official Standard Webhooks library for Python, the version `.ci/run` installs.
pub const PACKAGE: Package = Package {
    name: "standardwebhooks",
    import: "import standardwebhooks.webhooks",
    pip_install: "python3 -m pip install 'standardwebhooks==1.*'",
};

/// Reads cases from stdin and prints one line per case: `ok` or `failed: <reason>`.
const VERIFIER: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
for case in json.load(sys.stdin):
    try:
        Webhook(case["secret"]).verify(case["body"], case["headers"])
        print("ok")
    except Exception as e:
        print("failed: %s: %s" % (type(e).__name__, e))
"#;

/// Runs the Python verifier over `cases` and returns its verdict per case.
fn verify_in_python(cases: &[Value]) -> Vec<String> {
    let mut child = crate::python()
        .args(["-c", VERIFIER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the Python interpreter");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(cases).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Python verifier crashed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn case(secret: &str, received: &Received) -> Value {
    let header = |name: &str| received.headers[name].to_str().unwrap().to_string();
    json!({
        "secret": secret,
        "body": std::str::from_utf8(&received.body).unwrap(),
        "headers": {
            "webhook-id": header("webhook-id"),
            "webhook-timestamp": header("webhook-timestamp"),
            "webhook-signature": header("webhook-signature"),
        },
    })
}

#[suite_test]
async fn signatures_verify_with_the_official_python_library() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .create_endpoint(&receiver.url, &["post.created", "job.completed"])
        .await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    let payloads = [
        json!({"type": "post.created", "data": {}}),
        json!({"type": "post.created", "projectId": "proj_1", "data": {"title": "Grüße \"quoted\" \\ / 🚀\n", "n": 12345678901234567890u64}}),
        json!({"type": "job.completed", "data": {"nested": {"list": [1, 2.5, null, true, "x"]}, "empty": []}}),
    ];
    for body in &payloads {
        publish(&app, &app.live_key, body).await;
    }
    let got = receiver.wait_for(payloads.len(), WAIT).await;

    // A rotated endpoint signs with both secrets: Python must accept either.
    let (status, rotated) = app
        .post_json(
            &app.live_key,
            &format!(
                "/v1/webhook-endpoints/{}/rotate-secret",
                endpoint["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["data"]["secret"].as_str().unwrap().to_string();
    publish(
        &app,
        &app.live_key,
        &json!({"type": "job.completed", "data": {"after": "rotation"}}),
    )
    .await;
    let got_rotated = receiver.wait_for(payloads.len() + 1, WAIT).await;
    let last = got_rotated.last().unwrap();

    let mut cases: Vec<Value> = got
        .iter()
        .take(payloads.len())
        .map(|r| case(&secret, r))
        .collect();
    cases.push(case(&secret, last));
    cases.push(case(&new_secret, last));
    let genuine = cases.len();
    // Controls: a changed body and a wrong secret must be rejected.
    let mut tampered = case(&secret, &got[0]);
    tampered["body"] = json!(tampered["body"]
        .as_str()
        .unwrap()
        .replace("post.created", "post.updated"));
    cases.push(tampered);
    let stranger = "whsec_".to_string() + &"ab".repeat(32);
    cases.push(case(&stranger, &got[0]));

    let verdicts = verify_in_python(&cases);
    assert_eq!(verdicts.len(), cases.len(), "{verdicts:?}");
    for (i, verdict) in verdicts.iter().enumerate() {
        if i < genuine {
            assert_eq!(verdict, "ok", "case {i} was rejected: {}", cases[i]);
        } else {
            assert!(
                verdict.starts_with("failed"),
                "control {i} was accepted: {}",
                cases[i]
            );
        }
    }
    println!(
        "the Python standardwebhooks library verified {genuine} deliveries and rejected 2 controls"
    );
}
