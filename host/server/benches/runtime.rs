//! Runtime benchmarks: the cost of one plugin call.
//!
//! - `instantiate_and_call`: a fresh store + sandbox, instantiate the trivial probe from its
//!   `InstancePre` (pooling allocator), call `probe`, drop — what every stateless call pays.
//! - `warm_instance_call`: the whole call path (budget admission, caps, counters,
//!   recording) for a plugin whose manifest allows reuse (`"instances": "reuse"`): the
//!   call takes the warm instance, runs, and puts it back.
//! - `call_live_instance`: `probe` on an instance kept alive between calls, outside the
//!   call path (no budget, no counters): the floor.
//!
//! Run: `cargo bench -p sanctuary --bench runtime`.

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use sanctuary::manifest::{Instances, Manifest};
use sanctuary::runtime::{HostServices, Runtime};
use sanctuary::system::Sampler;
use sanctuary_test_artifacts::FIXTURES;

fn trivial_probe() -> (Manifest, Vec<u8>) {
    let (_, wasm, manifest) = FIXTURES
        .iter()
        .find(|(n, _, _)| *n == "trivial-probe")
        .expect("the trivial-probe fixture is built");
    let manifest = Manifest::from_json(&std::fs::read_to_string(manifest).expect("manifest"))
        .expect("valid manifest");
    (manifest, std::fs::read(wasm).expect("component"))
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let data = tempfile::tempdir().expect("tempdir");
    let services = Arc::new(HostServices::new(None, Arc::new(Sampler::new())));
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm-cache");
    let runtime = Runtime::new(Some(&cache), data.path(), services).expect("runtime");
    let (manifest, bytes) = trivial_probe();
    let plugin = tokio
        .block_on(runtime.load(manifest.clone(), bytes.clone(), &serde_json::json!({})))
        .expect("load");
    let reusable = tokio
        .block_on(runtime.load(
            Manifest {
                instances: Instances::Reuse,
                ..manifest
            },
            bytes,
            &serde_json::json!({}),
        ))
        .expect("load");

    c.bench_function("instantiate_and_call", |b| {
        b.iter(|| {
            tokio
                .block_on(runtime.probe(&plugin))
                .expect("probe answers")
        })
    });

    c.bench_function("warm_instance_call", |b| {
        b.iter(|| {
            tokio
                .block_on(runtime.probe(&reusable))
                .expect("probe answers")
        })
    });
    assert_eq!(reusable.warm_instances(), 1, "the probe was served warm");

    let mut session = tokio
        .block_on(runtime.probe_session(&plugin))
        .expect("instantiate");
    c.bench_function("call_live_instance", |b| {
        b.iter(|| tokio.block_on(session.probe()).expect("probe answers"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
