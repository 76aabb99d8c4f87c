//! Parsing real fio 3.33 json+ outputs (`tests/fixtures/fio/`, made by `regenerate.sh` there) and
//! recomputing fio's own percentiles from the latency bins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use iogate::Error;
use iogate::fio::histogram::{Histogram, fio_threshold};
use iogate::fio::output::{self, FioOutput, JobStats};

const FIXTURES: &[&str] = &[
    "plain-randread-4jobs.json",
    "write-seq.json",
    "with-notes.txt",
    "status-interval.json",
    "mixed-randrw.json",
    "client-mode-2servers.json",
];

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fio")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap()
}

fn parse_fixture(name: &str) -> FioOutput {
    output::parse_file(&fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The last JSON document of a fixture, read independently of the parser under test.
fn last_document(text: &str) -> serde_json::Value {
    let start = if text.starts_with('{') {
        0
    } else {
        text.find("\n{").expect("a line starting with '{'") + 1
    };
    serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<serde_json::Value>()
        .map(|doc| doc.unwrap())
        .last()
        .unwrap()
}

/// The per-thread entries fio reported (`jobs`, or `client_stats` without "All clients").
fn raw_jobs(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    if let Some(clients) = doc.get("client_stats") {
        clients
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["jobname"] != "All clients")
            .cloned()
            .collect()
    } else {
        doc["jobs"].as_array().unwrap().clone()
    }
}

fn total_bins(job: &JobStats) -> u64 {
    job.read.clat.total() + job.write.clat.total()
}

#[test]
fn plain_randread_4jobs_parses_every_thread() {
    let out = parse_fixture("plain-randread-4jobs.json");
    assert_eq!(out.fio_version, "fio-3.33");
    assert_eq!(out.jobs.len(), 4);
    for job in &out.jobs {
        assert_eq!(job.jobname, "t");
        assert_eq!((job.hostname.as_deref(), job.port), (None, None));
        assert_eq!(job.error, 0);
        assert!(job.read.total_ios > 0);
        assert_eq!(job.read.clat_n, job.read.total_ios);
        assert_eq!(job.read.clat.total(), job.read.clat_n);
        assert_eq!(job.read.io_bytes, job.read.total_ios * 64 * 1024);
        assert!(job.read.bw_bytes > 0 && job.read.iops > 0.0 && job.read.runtime_ms > 0);
        assert!(job.write.clat.is_empty());
        assert_eq!(job.write.total_ios, 0);
    }
}

#[test]
fn write_seq_has_write_bins_only() {
    let out = parse_fixture("write-seq.json");
    assert_eq!(out.jobs.len(), 2);
    for job in &out.jobs {
        assert!(job.read.clat.is_empty());
        assert!(job.write.total_ios > 0);
        assert_eq!(job.write.clat.total(), job.write.clat_n);
        assert_eq!(job.write.io_bytes, job.write.total_ios * 16 * 1024);
    }
}

#[test]
fn notes_before_json_are_skipped() {
    let text = fixture_text("with-notes.txt");
    assert!(
        text.starts_with("note: "),
        "the fixture should begin with fio's note line"
    );
    let out = output::parse(&text).unwrap();
    assert_eq!(out.jobs.len(), 1);
    assert_eq!(out.jobs[0].jobname, "n");
    assert!(out.jobs[0].read.total_ios > 0);

    // Also an error line and blank lines before, and a message after, as `--output` files can have.
    let noisy = format!("fio: some warning\n\n{text}fio: file hash not empty on exit\n");
    assert_eq!(output::parse(&noisy).unwrap(), out);
}

#[test]
fn nan_in_fio_json_is_reported_as_such() {
    let text = fixture_text("with-notes.txt");
    let broken = text.replacen("\"iops\" : ", "\"iops\" : -nan, \"x\" : ", 1);
    let err = output::parse(&broken).unwrap_err();
    assert!(
        err.contains("invalid JSON at line") && err.contains("nan"),
        "{err}"
    );
}

#[test]
fn status_interval_uses_the_last_document() {
    let text = fixture_text("status-interval.json");
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(docs.len() >= 2, "fixture has {} documents", docs.len());
    let out = output::parse(&text).unwrap();
    assert_eq!(out.jobs.len(), 1);
    let last = &docs.last().unwrap()["jobs"][0]["read"];
    assert_eq!(
        out.jobs[0].read.total_ios,
        last["total_ios"].as_u64().unwrap()
    );
    assert_eq!(
        out.jobs[0].read.clat_n,
        last["clat_ns"]["N"].as_u64().unwrap()
    );
    let first = &docs[0]["jobs"][0]["read"];
    assert!(out.jobs[0].read.total_ios > first["total_ios"].as_u64().unwrap());
}

#[test]
fn truncated_last_document_is_an_error() {
    let text = fixture_text("status-interval.json");
    let cut = &text[..text.len() - 200];
    let err = output::parse(cut).unwrap_err();
    assert!(err.contains("cut off"), "{err}");
    assert!(err.contains("died"), "{err}");

    // A single document cut off, too.
    let single = fixture_text("plain-randread-4jobs.json");
    let err = output::parse(&single[..single.len() / 2]).unwrap_err();
    assert!(err.contains("cut off"), "{err}");
}

#[test]
fn mixed_unified_reporting_maps_to_read() {
    let out = parse_fixture("mixed-randrw.json");
    assert_eq!(out.jobs.len(), 1);
    let job = &out.jobs[0];
    assert!(job.read.total_ios > 0);
    assert_eq!(job.read.clat.total(), job.read.clat_n);
    assert_eq!(job.write, Default::default());
}

#[test]
fn client_mode_skips_all_clients_and_keeps_hosts() {
    let out = parse_fixture("client-mode-2servers.json");
    assert_eq!(
        out.jobs.len(),
        4,
        "2 servers × 2 threads, without 'All clients'"
    );
    assert!(out.jobs.iter().all(|j| j.jobname != output::ALL_CLIENTS));
    let mut ports: Vec<u64> = out.jobs.iter().map(|j| j.port.unwrap()).collect();
    ports.sort();
    assert_eq!(ports, vec![18765, 18765, 18766, 18766]);
    assert!(
        out.jobs
            .iter()
            .all(|j| j.hostname.as_deref() == Some("127.0.0.1"))
    );
    for job in &out.jobs {
        let expected = if job.port == Some(18765) { "c1" } else { "c2" };
        assert_eq!(job.jobname, expected);
    }
}

#[test]
fn client_mode_merge_total_is_sum_of_n() {
    let out = parse_fixture("client-mode-2servers.json");
    let merged = out.read_clat();
    let sum_n: u64 = out.jobs.iter().map(|j| j.read.clat_n).sum();
    assert_eq!(merged.total(), sum_n);

    // fio's own "All clients" entry has the same N (but no bins to merge).
    let doc = last_document(&fixture_text("client-mode-2servers.json"));
    let all = doc["client_stats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["jobname"] == "All clients")
        .unwrap();
    assert_eq!(all["read"]["clat_ns"]["N"].as_u64().unwrap(), sum_n);
    assert!(all["read"]["clat_ns"].get("bins").is_none());

    // The merged percentiles lie within the range of the per-job ones.
    for p in [50.0, 90.0, 99.0] {
        let per_job: Vec<u64> = out
            .jobs
            .iter()
            .map(|j| j.read.clat.percentile(p).unwrap())
            .collect();
        let m = merged.percentile(p).unwrap();
        assert!(
            *per_job.iter().min().unwrap() <= m && m <= *per_job.iter().max().unwrap(),
            "p{p}: merged {m}, per job {per_job:?}"
        );
    }
}

#[test]
fn percentiles_from_bins_equal_fios_own_for_every_job() {
    let mut checked = 0;
    for name in FIXTURES {
        let text = fixture_text(name);
        let out = output::parse(&text).unwrap();
        let raw = raw_jobs(&last_document(&text));
        assert_eq!(out.jobs.len(), raw.len(), "{name}");
        for (job, raw) in out.jobs.iter().zip(&raw) {
            for (dir, stats) in [
                ("read", &job.read),
                ("mixed", &job.read),
                ("write", &job.write),
            ] {
                let Some(percentiles) = raw[dir]["clat_ns"].get("percentile") else {
                    continue;
                };
                let percentiles = percentiles.as_object().unwrap();
                assert_eq!(percentiles.len(), 17, "{name}: fio's default list");
                for (key, want) in percentiles {
                    let p: f64 = key.parse().unwrap();
                    let want = want.as_u64().unwrap();
                    assert_eq!(
                        stats.clat.percentile(p),
                        Some(want),
                        "{name} job {} {dir} p{key}",
                        job.jobname
                    );
                    checked += 1;
                }
            }
        }
    }
    // 4 + 2 + 1 + 1 + 1 + 4 jobs × 17 percentiles.
    assert_eq!(checked, 13 * 17);
}

#[test]
fn cdf_and_buckets_match_fio_jsonplus_clat2csv() {
    let script = Path::new("/usr/bin/fio_jsonplus_clat2csv");
    assert!(
        script.exists(),
        "{} is missing: it ships with fio (`apt-get install fio`, or `bash .ci/setup`)",
        script.display()
    );
    let fixture = fixture_path("plain-randread-4jobs.json");
    let dir = std::env::temp_dir().join(format!("iogate-clat2csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let status = std::process::Command::new("python3")
        .arg(script)
        .arg(&fixture)
        .arg(dir.join("out.csv"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "fio_jsonplus_clat2csv failed: {status}");

    let out = parse_fixture("plain-randread-4jobs.json");
    for (index, job) in out.jobs.iter().enumerate() {
        let csv = std::fs::read_to_string(dir.join(format!("out_job{index}.csv"))).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').map(str::trim).collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (count_col, cum_col, pct_col) = (
            col("read_clat_ns_count"),
            col("read_clat_ns_cumulative"),
            col("read_clat_ns_percentile"),
        );
        // (bucket, count, cumulative, fraction) for the rows that have read clat data.
        let rows: Vec<(u64, u64, u64, f64)> = lines
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| {
                let v: Vec<&str> = l.split(',').map(str::trim).collect();
                if v[count_col].is_empty() {
                    return None;
                }
                Some((
                    v[0].parse().unwrap(),
                    v[count_col].parse().unwrap(),
                    v[cum_col].parse().unwrap(),
                    v[pct_col].parse().unwrap(),
                ))
            })
            .collect();
        let buckets: Vec<(u64, u64)> = job.read.clat.iter().collect();
        let cdf = job.read.clat.cdf();
        assert_eq!(rows.len(), buckets.len(), "job {index}");
        let mut running = 0;
        for (((ns, count, cumulative, fraction), (b_ns, b_count)), (c_ns, c_fraction)) in
            rows.iter().zip(&buckets).zip(&cdf)
        {
            running += b_count;
            assert_eq!((ns, count), (b_ns, b_count), "job {index}");
            assert_eq!(*cumulative, running, "job {index} bucket {ns}");
            assert_eq!(ns, c_ns);
            assert!(
                (fraction - c_fraction).abs() < 1e-9,
                "job {index} bucket {ns}: {fraction} vs {c_fraction}"
            );
        }
        assert_eq!(cdf.last().unwrap().1, 1.0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bins_not_summing_to_n_is_an_error_naming_the_job() {
    let text = fixture_text("plain-randread-4jobs.json");
    let doc = last_document(&text);
    let n = doc["jobs"][0]["read"]["clat_ns"]["N"].as_u64().unwrap();
    let needle = format!("\"N\" : {n},");
    assert!(text.contains(&needle));
    let broken = text.replacen(&needle, &format!("\"N\" : {},", n + 1), 1);
    let err = output::parse(&broken).unwrap_err();
    assert!(err.contains("job 't' (entry #0)"), "{err}");
    assert!(
        err.contains(&format!("add up to {n} but clat_ns.N is {}", n + 1)),
        "{err}"
    );

    // parse_file wraps it as Error::FioOutput with the path.
    let path = std::env::temp_dir().join(format!("iogate-broken-{}.json", std::process::id()));
    std::fs::write(&path, &broken).unwrap();
    match output::parse_file(&path) {
        Err(Error::FioOutput { path: p, message }) => {
            assert_eq!(p, path);
            assert!(message.contains("clat_ns.N"), "{message}");
        }
        other => panic!("expected Error::FioOutput, got {other:?}"),
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn plain_json_without_bins_is_an_error() {
    let doc = r#"{"fio version": "fio-3.33", "jobs": [{"jobname": "x", "error": 0,
        "read": {"io_bytes": 4096, "bw_bytes": 4096, "bw": 4, "iops": 1.0, "runtime": 1000,
                 "total_ios": 1, "clat_ns": {"N": 1, "percentile": {"50.000000": 1000}}}}]}"#;
    let err = output::parse(doc).unwrap_err();
    assert!(
        err.contains("no clat_ns.bins") && err.contains("json+"),
        "{err}"
    );
}

#[test]
fn bw_only_document_converts_kib_per_s() {
    let text = fixture_text("plain-randread-4jobs.json");
    let without: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("\"bw_bytes\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!without.contains("bw_bytes"));
    let out = output::parse(&without).unwrap();
    let doc = last_document(&text);
    for (job, raw) in out.jobs.iter().zip(doc["jobs"].as_array().unwrap()) {
        let kib = raw["read"]["bw"].as_u64().unwrap();
        assert_eq!(job.read.bw_bytes, kib * 1024);
    }
}

#[test]
fn pre_3_0_output_is_rejected() {
    let doc = r#"{"fio version": "fio-2.2.10", "jobs": [{"jobname": "x", "error": 0,
        "read": {"io_bytes": 4, "bw": 4, "iops": 1.0, "runtime": 1000,
                 "clat": {"min": 1, "max": 2, "mean": 1.5, "stdev": 0.5}}}]}"#;
    let err = output::parse(doc).unwrap_err();
    assert!(err.contains("fio < 3.0 not supported"), "{err}");

    // Same shape without a version string: caught by the missing `clat_ns`.
    let unversioned = doc.replace("fio-2.2.10", "");
    let err = output::parse(&unversioned).unwrap_err();
    assert!(err.contains("fio < 3.0 not supported"), "{err}");
}

#[test]
fn no_json_at_all_says_what_fio_printed() {
    let err = output::parse("fio: failed parsing bs=4q\n").unwrap_err();
    assert!(
        err.contains("no JSON document") && err.contains("bs=4q"),
        "{err}"
    );
    assert!(output::parse("").unwrap_err().contains("empty"));
    match output::parse_file(Path::new("/nonexistent/iogate/fio.json")) {
        Err(Error::Io { .. }) => {}
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn histogram_serializes_like_fio_bins() {
    let out = parse_fixture("write-seq.json");
    let doc = last_document(&fixture_text("write-seq.json"));
    let bins = &doc["jobs"][0]["write"]["clat_ns"]["bins"];
    let ours = serde_json::to_value(&out.jobs[0].write.clat).unwrap();
    assert_eq!(&ours, bins);
    let back: Histogram = serde_json::from_value(bins.clone()).unwrap();
    assert_eq!(back, out.jobs[0].write.clat);
}

#[test]
fn merged_percentiles_use_fios_threshold_on_sum_of_n() {
    // Merging then walking equals walking a histogram built from all jobs' bins at once, and the
    // walk stops at the first bucket reaching fio_threshold(p, ΣN).
    let out = parse_fixture("plain-randread-4jobs.json");
    let merged = out.read_clat();
    let all: Histogram = out.jobs.iter().flat_map(|j| j.read.clat.iter()).collect();
    assert_eq!(merged, all);
    let n = merged.total();
    let by_bucket: BTreeMap<u64, u64> = merged.iter().collect();
    for p in [50.0, 90.0, 99.0, 99.9] {
        let key = merged.percentile(p).unwrap();
        let at_or_below: u64 = by_bucket.range(..=key).map(|(_, c)| c).sum();
        let below: u64 = by_bucket.range(..key).map(|(_, c)| c).sum();
        let threshold = fio_threshold(p, n);
        assert!(below < threshold && threshold <= at_or_below, "p{p}");
    }
    assert!(total_bins(&out.jobs[0]) > 0);
}
