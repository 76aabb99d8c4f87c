//! microVM boot time and virtio-fs vs virtio-9p bandwidth, from one run.
//!
//! `cargo run --release -p iogate-harness --example microvm_boot [size] [runtime] [virtio-fs cache]`
//! (defaults: 32MiB per thread, 3s, auto). For each pattern, one cell with one VM (4 fio threads, 64k
//! blocks, buffered) over virtio-9p (msize 512000, cache=mmap) and one over virtio-fs
//! (virtiofsd, cache=auto unless given). Prints each VM's boot-to-ready time (qemu start → guest fio server
//! listening) and the virtio-fs / 9p bandwidth ratio per pattern. Under TCG (no working KVM) the
//! numbers are emulated: the ratio between the two shared file systems is what to read.

use std::path::Path;
use std::time::Duration;

use iogate::fixture::microvm::MicrovmFixture;
use iogate::fixture::{CellDir, Fixture};
use iogate::run::Measurement;
use iogate::spec::{MatrixFile, RuntimeKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let size = args.next().unwrap_or_else(|| "32MiB".into());
    let runtime = args.next().unwrap_or_else(|| "3s".into());
    let vfs_cache = args.next().unwrap_or_else(|| "auto".into());
    let work = std::env::temp_dir().join(format!("iogate-microvm-boot-{}", std::process::id()));
    let text = format!(
        "name: microvmboot
target: {}
clients: [1]
runtimes:
  - name: vm-9p
    microvm: {{ shared_fs: 9p, msize: 512000, cache: mmap }}
  - name: vm-virtiofs
    microvm: {{ shared_fs: virtio-fs, cache: {vfs_cache} }}
workload:
  patterns: [read, randread, write, randwrite]
  bs: 64k
  threads: 4
  size: {size}
  runtime: {runtime}
",
        work.join("target").display()
    );
    let matrix = MatrixFile::parse(Path::new("microvm_boot.yaml"), &text)?;
    let cells = matrix.cells();
    let mut boots: Vec<(String, Duration)> = Vec::new();
    let mut bw: Vec<(String, String, f64)> = Vec::new();
    let mut fixtures: Vec<(String, MicrovmFixture)> = Vec::new();
    for cell in &cells {
        let name = cell.runtime.name.to_string();
        if !fixtures.iter().any(|(n, _)| *n == name) {
            let RuntimeKind::Microvm(spec) = &cell.runtime.kind else {
                unreachable!("microvm runtimes only")
            };
            let mut fixture = MicrovmFixture::new(spec.clone());
            fixture.sweep()?;
            let info = fixture.preflight()?;
            println!(
                "{name}: {} — {}",
                info.handler.as_deref().unwrap_or("?"),
                info.notes.join(" | ")
            );
            fixtures.push((name.clone(), fixture));
        }
        let fixture = &mut fixtures
            .iter_mut()
            .find(|(n, _)| *n == name)
            .expect("added")
            .1;
        let dir = CellDir {
            run_dir: work.join("run"),
            rel: Path::new("cells").join(cell.slug()),
        };
        std::fs::create_dir_all(dir.abs())?;
        let raw = fixture.run(cell, 1, &dir)?;
        let output = iogate::fio::output::parse_file(&dir.run_dir.join(&raw.json))?;
        let m = Measurement::from_output(cell, &output)?;
        for t in fixture.last_boot_times() {
            boots.push((name.clone(), *t));
        }
        println!(
            "  {:<28} boot {:>5.2} s   {:>8.1} MiB/s",
            cell.name,
            fixture
                .last_boot_times()
                .first()
                .map_or(0.0, Duration::as_secs_f64),
            m.bw_bytes / f64::from(1 << 20)
        );
        bw.push((name, cell.pattern.to_string(), m.bw_bytes));
    }

    println!("\nboot-to-ready (qemu start → guest fio server listening):");
    for fs in ["vm-9p", "vm-virtiofs"] {
        let mut t: Vec<f64> = boots
            .iter()
            .filter(|(n, _)| n == fs)
            .map(|(_, d)| d.as_secs_f64())
            .collect();
        t.sort_by(f64::total_cmp);
        if let (Some(lo), Some(hi)) = (t.first(), t.last()) {
            println!(
                "  {fs:<12} median {:.2} s (min {lo:.2}, max {hi:.2}, {} boots)",
                t[t.len() / 2],
                t.len()
            );
        }
    }
    println!("\nvirtio-fs / 9p bandwidth, per pattern:");
    for pattern in ["read", "randread", "write", "randwrite"] {
        let get = |fs: &str| {
            bw.iter()
                .find(|(n, p, _)| n == fs && p == pattern)
                .map(|b| b.2)
        };
        if let (Some(p9), Some(vfs)) = (get("vm-9p"), get("vm-virtiofs")) {
            println!(
                "  {pattern:<10} 9p {:>8.1} MiB/s   virtio-fs {:>8.1} MiB/s   ratio {:.2}×",
                p9 / f64::from(1 << 20),
                vfs / f64::from(1 << 20),
                vfs / p9
            );
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
