//! Times parsing a 64-client × 4-thread fio json+ document, merging its 256 latency histograms and
//! taking p50/p90/p99/p99.9 — the work done once per cell after a client-mode run.
//!
//! `cargo run --release -p iogate-harness --example merge_bench` (goal: < 100 ms).
//!
//! The document is synthetic only in its size: the per-thread entries are the real ones of
//! `tests/fixtures/fio/client-mode-2servers.json`, replicated as 64 clients of 4 threads.

use std::path::Path;
use std::time::{Duration, Instant};

use iogate::fio::output;

const CLIENTS: usize = 64;
const THREADS: usize = 4;
const RUNS: usize = 15;
const PERCENTILES: [f64; 4] = [50.0, 90.0, 99.0, 99.9];

fn main() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fio/client-mode-2servers.json");
    let text = std::fs::read_to_string(&fixture).expect("client-mode fixture");
    let doc = build_document(&text);
    println!(
        "document: {} client_stats entries, {:.0} KiB of JSON",
        CLIENTS * THREADS,
        doc.len() as f64 / 1024.0
    );

    let mut times = Vec::with_capacity(RUNS);
    let mut last = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = output::parse(&doc).expect("synthetic document parses");
        let merged = out.read_clat();
        last = PERCENTILES
            .iter()
            .map(|&p| merged.percentile(p).expect("non-empty"))
            .collect::<Vec<u64>>();
        times.push(start.elapsed());
        assert_eq!(out.jobs.len(), CLIENTS * THREADS);
        std::hint::black_box(&merged);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "parse + merge + p50/p90/p99/p99.9: median {:.2} ms (min {:.2}, max {:.2}) over {RUNS} runs",
        ms(times[RUNS / 2]),
        ms(times[0]),
        ms(times[RUNS - 1])
    );
    println!("percentiles (ns): {PERCENTILES:?} -> {last:?}");
}

/// A `client_stats` document with `CLIENTS × THREADS` thread entries, cycling through the fixture's
/// real entries, plus fio's "All clients" entry (which the parser skips).
fn build_document(fixture: &str) -> String {
    let start = fixture.find("\n{").expect("JSON in fixture") + 1;
    let doc: serde_json::Value = serde_json::from_str(&fixture[start..]).expect("fixture JSON");
    let entries = doc["client_stats"].as_array().expect("client_stats");
    let (threads, all_clients): (Vec<_>, Vec<_>) = entries
        .iter()
        .cloned()
        .partition(|e| e["jobname"] != output::ALL_CLIENTS);
    let mut stats = Vec::with_capacity(CLIENTS * THREADS + 1);
    for client in 0..CLIENTS {
        for thread in 0..THREADS {
            let mut entry = threads[(client * THREADS + thread) % threads.len()].clone();
            entry["jobname"] = format!("c{client}").into();
            entry["hostname"] = format!("client-{client:02}").into();
            entry["port"] = (18765 + client as u64).into();
            stats.push(entry);
        }
    }
    stats.extend(all_clients);
    let out = serde_json::json!({
        "fio version": doc["fio version"],
        "client_stats": stats,
    });
    // fio writes pretty-printed JSON; so do we, after a server log line as in client mode.
    format!(
        "<client-00> Starting 4 threads\n{}\n",
        serde_json::to_string_pretty(&out).unwrap()
    )
}
