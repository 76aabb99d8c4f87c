//! The microVM fixture for real: qemu VMs booting Debian's kernel with the harness's initramfs, the
//! client directory shared over virtio-9p or virtio-fs, fio servers in the guests driven by the
//! host's fio client. Needs qemu-system-x86, busybox-static and virtiofsd (`.ci/setup-microvm`);
//! boots under TCG where KVM does not work (about 4 s per VM here).

use std::path::Path;
use std::sync::Mutex;

use iogate::fixture::microvm::{self, MicrovmFixture, assets, vm};
use iogate::fixture::{CellDir, Fixture, RuntimeInfo};
use iogate::run::Measurement;
use iogate::spec::{Cell, MatrixFile, RuntimeKind};

/// VMs of this process boot one cell at a time (2 cores; TCG is CPU-bound).
static SERIAL: Mutex<()> = Mutex::new(());

fn cell(target: &Path, microvm: &str, pattern: &str) -> Cell {
    let text = format!(
        "name: vmtest
target: {}
clients: [1]
runtimes:
  - name: vm
    microvm: {microvm}
workload:
  patterns: [{pattern}]
  bs: 64k
  threads: 2
  size: 8m
  runtime: 2s
",
        target.display()
    );
    let m = MatrixFile::parse(Path::new("vmtest.yaml"), &text).unwrap_or_else(|e| panic!("{e}"));
    m.cells().remove(0)
}

fn fixture(cell: &Cell) -> MicrovmFixture {
    let RuntimeKind::Microvm(spec) = &cell.runtime.kind else {
        panic!("not a microvm runtime")
    };
    MicrovmFixture::new(spec.clone())
}

fn cell_dir(run: &Path, cell: &Cell) -> CellDir {
    let dir = CellDir {
        run_dir: run.to_owned(),
        rel: Path::new("cells").join(cell.slug()),
    };
    std::fs::create_dir_all(dir.abs()).unwrap();
    dir
}

/// qemu and virtiofsd processes this test process started that are still running.
fn our_vm_processes() -> String {
    duct::cmd!("pgrep", "-a", "-f", vm::process_marker())
        .unchecked()
        .read()
        .unwrap_or_default()
}

fn check_info(info: &RuntimeInfo, fs: &str) {
    assert_eq!(info.kind, "microvm");
    let handler = info.handler.as_deref().unwrap();
    assert!(
        handler == format!("qemu-tcg+{fs}") || handler == format!("qemu-kvm+{fs}"),
        "{handler}"
    );
    let notes = info.notes.join("\n");
    if handler.starts_with("qemu-tcg") {
        assert!(notes.contains(microvm::EMULATED_NOTE), "{notes}");
    } else {
        assert!(!notes.contains(microvm::EMULATED_NOTE), "{notes}");
    }
    assert!(
        info.version.as_deref().unwrap().contains("QEMU"),
        "{info:?}"
    );
}

fn runs_fio_in_a_vm(microvm: &str, fs: &str, pattern: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let cell = cell(&tmp.path().join("target"), microvm, pattern);
    let mut fixture = fixture(&cell);
    fixture.sweep().unwrap();
    let info = fixture.preflight().unwrap_or_else(|e| panic!("{e}"));
    check_info(&info, fs);
    eprintln!("{info:#?}");
    let dir = cell_dir(&tmp.path().join("run"), &cell);
    let raw = fixture.run(&cell, 1, &dir);
    fixture.release();
    assert_eq!(our_vm_processes(), "", "VM processes left after a run");
    let raw = raw.unwrap_or_else(|e| panic!("{e}"));
    let output = iogate::fio::output::parse_file(&dir.run_dir.join(&raw.json)).unwrap();
    assert_eq!(
        output.jobs.len(),
        2,
        "1 client × 2 threads: {:?}",
        output.jobs
    );
    for job in &output.jobs {
        assert_eq!(job.jobname, "vmtest");
        assert_eq!(job.error, 0);
    }
    let m = Measurement::from_output(&cell, &output).unwrap_or_else(|e| panic!("{e}"));
    assert!(m.bw_bytes > 0.0 && m.ios > 0, "{m:?}");
    // The guest wrote its files into the client's host directory, through the share.
    let files: Vec<_> = std::fs::read_dir(cell.client_dir(0))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for log in &raw.logs {
        assert!(dir.run_dir.join(log).is_file(), "{}", log.display());
    }
    let console = std::fs::read_to_string(dir.path("r1.vm0.console.log")).unwrap();
    assert!(console.contains(assets::READY_MARKER), "{console}");
    let mount = if fs == "9p" {
        " /data 9p "
    } else {
        " /data virtiofs "
    };
    assert!(console.contains(mount), "{console}");
    assert_eq!(fixture.last_boot_times().len(), 1);
    // The runtime directory (QMP and virtiofsd sockets) is gone.
    let left: Vec<_> = std::fs::read_dir(vm::runtime_base())
        .map(|d| {
            d.flatten()
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    let marker = vm::process_marker();
    assert!(left.iter().all(|p| !p.starts_with(&marker)), "{left:?}");
}

#[test]
fn nine_p_vm_runs_fio() {
    runs_fio_in_a_vm(
        "{ shared_fs: 9p, msize: 512000, cache: mmap }",
        "9p",
        "randread",
    );
}

#[test]
fn virtio_fs_vm_runs_fio() {
    runs_fio_in_a_vm(
        "{ shared_fs: virtio-fs, cache: auto }",
        "virtio-fs",
        "write",
    );
}

fn fails_with_console_tail(microvm: &str, kernel_args: &[&str], expect: &[&str]) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let cell = cell(&tmp.path().join("target"), microvm, "read");
    let mut fixture = fixture(&cell).with_kernel_args(kernel_args.iter().copied());
    fixture.preflight().unwrap_or_else(|e| panic!("{e}"));
    let dir = cell_dir(&tmp.path().join("run"), &cell);
    let err = fixture
        .run(&cell, 1, &dir)
        .expect_err("the VM must not come up")
        .to_string();
    eprintln!("{err}");
    assert_eq!(
        our_vm_processes(),
        "",
        "VM processes left after a failed boot"
    );
    assert!(err.contains("last lines of its serial console"), "{err}");
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(dir.path("r1.vm0.console.log").is_file());
}

#[test]
fn a_guest_whose_init_exits_fails_with_the_console_tail() {
    // busybox without an applet as init: it prints its help and exits: the kernel panics ("Attempted to kill init"), qemu exits (-no-reboot).
    fails_with_console_tail(
        "{ shared_fs: virtio-fs }",
        &["rdinit=/bin/busybox"],
        &["qemu exited", "Attempted to kill init"],
    );
}

#[test]
fn a_vm_that_does_not_boot_in_time_fails_with_the_console_tail() {
    fails_with_console_tail(
        "{ shared_fs: 9p, boot_timeout: 1s }",
        &[],
        &["did not boot in time", "after qemu started"],
    );
}

#[test]
fn assets_are_cached_by_content_hash() {
    let base = assets::assets_base();
    let (first, _) = assets::ensure(&base).unwrap_or_else(|e| panic!("{e}"));
    let mtime = std::fs::metadata(&first.initrd)
        .unwrap()
        .modified()
        .unwrap();
    let (second, built) = assets::ensure(&base).unwrap();
    assert!(!built, "the second build must be a no-op");
    assert_eq!(first, second);
    assert_eq!(
        std::fs::metadata(&second.initrd)
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    assert_eq!(first.dir.file_name().unwrap().to_string_lossy(), first.hash);
    assert!(first.kernel.is_file() && first.initrd.is_file());
}

#[test]
fn microvm_options_are_validated() {
    let parse = |microvm: &str| {
        let text = format!(
            "name: v\ntarget: /tmp/x\nclients: [1]\nruntimes:\n  - name: vm\n    microvm: {microvm}\n\
             workload:\n  patterns: [read]\n  bs: 64k\n  size: 1m\n"
        );
        MatrixFile::parse(Path::new("v.yaml"), &text).map_err(|e| e.to_string())
    };
    assert!(parse("{ shared_fs: 9p }").is_ok());
    assert!(
        parse("{ shared_fs: virtio-fs, cache: never, vcpus: 2, memory: 512MiB, accel: tcg }")
            .is_ok()
    );
    for (bad, why) in [
        ("{ shared_fs: 9p, msize: 524288 }", "512000"),
        ("{ shared_fs: 9p, cache: auto }", "not a 9p cache mode"),
        (
            "{ shared_fs: virtio-fs, cache: mmap }",
            "not a virtio-fs cache mode",
        ),
        (
            "{ shared_fs: virtio-fs, msize: 8192 }",
            "applies to `shared_fs: 9p` only",
        ),
        ("{ shared_fs: 9p, memory: 64MiB }", "memory"),
        ("{ shared_fs: 9p, vcpus: 0 }", "vcpus"),
        ("{ shared_fs: 9p, accel: hvf }", "hvf"),
        ("{ shared_fs: nfs }", "nfs"),
        ("{ shared_fs: 9p, bogus: 1 }", "bogus"),
    ] {
        let err = parse(bad).expect_err(bad);
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn sweep_kills_what_dead_harness_processes_left_and_spares_live_ones() {
    let base = vm::runtime_base();
    std::fs::create_dir_all(&base).unwrap();
    // A harness process that no longer exists (pid above pid_max), and this live one.
    let dead = base.join("4194305-1-0");
    let live = std::path::PathBuf::from(format!("{}999", vm::process_marker()));
    let mut children = Vec::new();
    for dir in [&dead, &live] {
        std::fs::create_dir_all(dir).unwrap();
        // Stands in for a qemu whose command line names its runtime directory.
        let child = std::process::Command::new("sh")
            .args(["-c", "sleep 60"])
            .arg(dir.join("qmp.sock"))
            .spawn()
            .unwrap();
        children.push(child);
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    vm::sweep().unwrap();
    let mut dead_child = children.remove(0);
    let mut live_child = children.remove(0);
    let status = (0..50).find_map(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        dead_child.try_wait().unwrap()
    });
    assert!(
        status.is_some(),
        "the dead harness's process survived the sweep"
    );
    assert!(
        !dead.exists(),
        "the dead harness's directory survived the sweep"
    );
    assert!(
        live_child.try_wait().unwrap().is_none(),
        "a live harness's process was killed"
    );
    assert!(live.exists(), "a live harness's directory was removed");
    let _ = live_child.kill();
    let _ = live_child.wait();
    std::fs::remove_dir_all(&live).unwrap();
}
