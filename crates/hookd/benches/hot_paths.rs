//! Micro-benchmarks of the pure functions on hookd's delivery hot path: signing every attempt
//! (one secret, and two during a rotation; from the secrets' text, and with the keys prepared
//! once as the delivery engine does), matching an event against the workspace's endpoints
//! (fan-out), and rendering the delivery body. `cargo bench -p hookd --bench hot_paths`.
//!
//! End-to-end throughput is `hookd-bench`'s job; these isolate the CPU cost of each step so a
//! change to one of them can be judged on its own.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hookd::domain::endpoint::Endpoint;
use hookd::domain::ids::{EndpointId, EventId};
use hookd::domain::payload;
use hookd::domain::secret::{KeyRing, SigningSecret};
use hookd::domain::time::Timestamp;
use hookd::signing;
use serde_json::value::RawValue;

const SIZES: [usize; 2] = [256, 4096];
const CATALOG: [&str; 9] = [
    "note.created",
    "post.created",
    "post.updated",
    "post.scheduled",
    "post.unscheduled",
    "source.created",
    "job.completed",
    "job.failed",
    "knowledge.indexed",
];

/// A delivery body whose `data` is a JSON object of `size` bytes.
fn data_of(size: usize) -> Box<RawValue> {
    let head = "{\"pad\":\"";
    let tail = "\"}";
    let pad = "x".repeat(size.saturating_sub(head.len() + tail.len()));
    RawValue::from_string(format!("{head}{pad}{tail}")).expect("valid JSON")
}

fn body_of(size: usize) -> Vec<u8> {
    payload::render(
        &EventId::generate(),
        "post.created",
        Timestamp::now(),
        None,
        &data_of(size),
    )
    .to_vec()
}

fn sign(c: &mut Criterion) {
    let mut group = c.benchmark_group("signing::sign");
    let secrets = [SigningSecret::generate(), SigningSecret::generate()];
    let msg_id = EventId::generate();
    let timestamp = Timestamp::now().as_unix_seconds();
    for size in SIZES {
        let body = body_of(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        for live in [1, 2] {
            group.bench_with_input(
                BenchmarkId::new(format!("{live}_secret"), size),
                &body,
                |b, body| {
                    b.iter(|| {
                        signing::sign(
                            black_box(&secrets[..live]),
                            black_box(msg_id.as_str()),
                            black_box(timestamp),
                            black_box(body),
                        )
                    })
                },
            );
        }
    }
    group.finish();
}

/// What an attempt pays with the keys prepared once per cached endpoint (the delivery engine's
/// path): the same signatures as `signing::sign`, without decoding each secret and hashing it
/// into the HMAC's state every time.
fn sign_prepared(c: &mut Criterion) {
    let mut group = c.benchmark_group("signing::Signer::sign");
    let ring = KeyRing::new(SigningSecret::generate());
    let now_ms = Timestamp::now().as_millis();
    let rings = [
        ring.clone(),
        ring.rotate(SigningSecret::generate(), now_ms, 3_600_000),
    ];
    let msg_id = EventId::generate();
    let timestamp = Timestamp::now().as_unix_seconds();
    for size in SIZES {
        let body = body_of(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        for (live, ring) in (1..).zip(&rings) {
            let signer = signing::Signer::new(ring);
            group.bench_with_input(
                BenchmarkId::new(format!("{live}_secret"), size),
                &body,
                |b, body| {
                    b.iter(|| {
                        signer.sign(
                            black_box(now_ms),
                            black_box(msg_id.as_str()),
                            black_box(timestamp),
                            black_box(body),
                        )
                    })
                },
            );
        }
    }
    group.finish();
}

/// 100 endpoints with a realistic mix: most subscribe to a few types, some are scoped to a
/// project, a few are disabled.
fn endpoints() -> Vec<Endpoint> {
    (0..100)
        .map(|i: usize| Endpoint {
            id: EndpointId::generate(),
            url: format!("https://hooks{i}.example.com/in"),
            name: format!("endpoint {i}"),
            events: (0..1 + i % 4)
                .map(|k| CATALOG[(i + k * 2) % CATALOG.len()].to_string())
                .collect(),
            is_active: !i.is_multiple_of(10),
            disabled_reason: None,
            project_id: i.is_multiple_of(3).then(|| format!("proj_{}", i % 5)),
            secret_last4: "abcd".into(),
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
            auth: None,
        })
        .collect()
}

fn fan_out(c: &mut Criterion) {
    let endpoints = endpoints();
    let mut group = c.benchmark_group("Endpoint::matches");
    group.throughput(Throughput::Elements(endpoints.len() as u64));
    for (label, event_type, project) in [
        ("100_endpoints/no_project", "post.created", None),
        ("100_endpoints/project", "job.failed", Some("proj_3")),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                endpoints
                    .iter()
                    .filter(|e| e.matches(black_box(event_type), black_box(project)))
                    .count()
            })
        });
    }
    group.finish();
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("payload::render");
    let id = EventId::generate();
    let created = Timestamp::now();
    for size in SIZES {
        let data = data_of(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            b.iter(|| {
                payload::render(
                    black_box(&id),
                    black_box("post.created"),
                    black_box(created),
                    black_box(Some("proj_1")),
                    black_box(data),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(hot_paths, sign, sign_prepared, fan_out, render);
criterion_main!(hot_paths);
