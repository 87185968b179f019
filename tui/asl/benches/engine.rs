//! Engine throughput, single thread, history recorded into an in-memory sink:
//! - `pass_chain_10`: a 10-state Pass chain (10 transitions per execution);
//! - `map_100`: a Map over 100 items with a one-state Pass processor (101 transitions);
//! - `scones_workflow`: the real scones definition with trivial in-process handlers
//!   (executions/s).
//!
//! Run: `cargo bench -p scones-asl --bench engine`. Criterion reports elements/s, which
//! for the first two is state transitions per second.
//!
//! Time is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time:
//! this machine has 2 cores shared with other builds, and CPU time of the (single)
//! thread running the current-thread runtime is what the engine actually costs. Set
//! `SCONES_BENCH_WALL=1` for wall-clock time instead.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use std::sync::Arc;

use criterion::{Criterion, Throughput};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use scones_asl::{
    Engine, ExecutionSpec, InvokeError, InvokeRequest, LambdaRegistry, StateMachine, SystemClock,
    VecSink, render_template,
};

fn pass_chain(n: usize) -> StateMachine {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = json!({"Type": "Pass"});
        if i + 1 == n {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), s);
    }
    StateMachine::from_value(&json!({"StartAt": "S0", "States": states})).expect("valid chain")
}

fn map_over_items() -> StateMachine {
    StateMachine::from_value(&json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}}))
    .expect("valid map")
}

fn scones() -> (StateMachine, LambdaRegistry) {
    type Reply = BoxFuture<'static, Result<Vec<u8>, InvokeError>>;
    let vars = scones_workflow::definition::variables("aws", str::to_owned);
    let text = render_template(scones_workflow::definition::DEFINITION, &vars).expect("renders");
    let machine = StateMachine::parse(&text).expect("valid scones definition");
    let mut registry = LambdaRegistry::new();
    registry.register(
        "serialize-image-data",
        Arc::new(|r: InvokeRequest| -> Reply {
            let mut v: Value = serde_json::from_slice(&r.payload).unwrap_or_default();
            v["image_data"] = json!("iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAIAAAD8GO2jAAAA");
            Box::pin(async move { Ok(v.to_string().into_bytes()) })
        }),
    );
    registry.register(
        "classify-image",
        Arc::new(|r: InvokeRequest| -> Reply {
            let mut v: Value = serde_json::from_slice(&r.payload).unwrap_or_default();
            v["inferences"] = json!([0.97, 0.03]);
            Box::pin(async move { Ok(v.to_string().into_bytes()) })
        }),
    );
    registry.register(
        "filter-low-confidence",
        Arc::new(|r: InvokeRequest| -> Reply { Box::pin(async move { Ok(r.payload) }) }),
    );
    (machine, registry)
}

fn bench<M: criterion::measurement::Measurement>(c: &mut Criterion<M>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let chain = pass_chain(10);
    let engine = Engine::new(LambdaRegistry::new(), Arc::new(SystemClock));
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(10));
    g.bench_function("pass_chain_10", |b| {
        b.iter(|| {
            let sink = Arc::new(VecSink::new());
            let o = rt.block_on(engine.execute(
                &chain,
                ExecutionSpec::local("bench", "e", json!({"k": "v"})),
                sink.clone(),
            ));
            assert_eq!(sink.events().len(), 22);
            o
        })
    });

    let map = map_over_items();
    let items: Vec<Value> = (0..100).map(|i| json!({"i": i})).collect();
    let input = json!({"items": items});
    g.throughput(Throughput::Elements(101));
    g.bench_function("map_100", |b| {
        b.iter(|| {
            let sink = Arc::new(VecSink::new());
            rt.block_on(engine.execute(
                &map,
                ExecutionSpec::local("bench", "e", input.clone()),
                sink,
            ))
        })
    });

    let (scones, registry) = scones();
    let scones_engine = Engine::new(registry, Arc::new(SystemClock));
    let input = json!({"s3_bucket": "scones-local", "s3_key": "test/bicycle_s_000513.png"});
    g.throughput(Throughput::Elements(1));
    g.bench_function("scones_workflow", |b| {
        b.iter(|| {
            let sink = Arc::new(VecSink::new());
            let o = rt.block_on(scones_engine.execute(
                &scones,
                ExecutionSpec::local("scones", "e", input.clone()),
                sink,
            ));
            assert_eq!(o.status.as_str(), "SUCCEEDED");
            o
        })
    });
    g.finish();
}

/// CPU time consumed by the calling thread.
#[derive(Clone, Copy)]
struct ThreadCpuTime;

fn thread_cpu_now() -> std::time::Duration {
    // Time since the thread started: only differences are used.
    cpu_time::ThreadTime::now().as_duration()
}

impl criterion::measurement::Measurement for ThreadCpuTime {
    type Intermediate = std::time::Duration;
    type Value = std::time::Duration;

    fn start(&self) -> Self::Intermediate {
        thread_cpu_now()
    }

    fn end(&self, start: Self::Intermediate) -> Self::Value {
        thread_cpu_now().saturating_sub(start)
    }

    fn add(&self, a: &Self::Value, b: &Self::Value) -> Self::Value {
        *a + *b
    }

    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }

    fn to_f64(&self, v: &Self::Value) -> f64 {
        v.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        criterion::measurement::WallTime.formatter()
    }
}

fn cpu_benches() {
    let mut c = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .configure_from_args();
    bench(&mut c);
}

fn wall_benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

fn main() {
    if std::env::var_os("SCONES_BENCH_WALL").is_some() {
        wall_benches();
    } else {
        cpu_benches();
    }
    Criterion::default().configure_from_args().final_summary();
}
