//! One test per matrix cell: `cargo test --test io_matrix [FILTER] [-- --ignored]`.
//!
//! Matrix files: every `matrices/*.yaml`, or only `$IOGATE_MATRIX`. Lab cells (lab matrices or
//! runtimes) are ignored unless `--ignored` is given. Cells never overlap: a lock around each cell
//! holds across test threads and processes (nextest). Results go to `target/iogate/<matrix>/<run-id>/`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use iogate::matrix::{Cell, MatrixFile};
use iogate::result::Status;
use iogate::run::Session;
use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// Sessions by matrix name, opened by the first cell of each matrix that runs.
type Sessions = Mutex<BTreeMap<String, Arc<Mutex<Session>>>>;

fn sessions() -> &'static Sessions {
    static SESSIONS: OnceLock<Sessions> = OnceLock::new();
    SESSIONS.get_or_init(Sessions::default)
}

fn matrix_files() -> Vec<PathBuf> {
    if let Some(one) = std::env::var_os("IOGATE_MATRIX") {
        return vec![PathBuf::from(one)];
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("matrices");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn run_cell(matrix: &MatrixFile, cell: &Cell) -> Result<Completion, Failed> {
    let session = {
        let mut all = sessions().lock().unwrap_or_else(|p| p.into_inner());
        match all.get(cell.matrix.as_str()) {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(Mutex::new(Session::open(matrix.clone()).map_err(|e| e.to_string())?));
                all.insert(cell.matrix.clone(), s.clone());
                s
            }
        }
    };
    let mut session = session.lock().unwrap_or_else(|p| p.into_inner());
    let record = session.run_cell(cell).map_err(|e| e.to_string())?;
    let reason = record.reason.clone().unwrap_or_default();
    match record.status {
        Status::Passed => {
            let lat = record.lat_ns.expect("a passed cell has latencies");
            println!(
                "{}: {:.1} MiB/s, {:.0} IOPS, p50 {} µs, p99 {} µs",
                cell.name,
                record.bw_bytes.unwrap_or_default() / 1048576.0,
                record.iops.unwrap_or_default(),
                lat.p50 / 1000,
                lat.p99 / 1000
            );
            Ok(Completion::Completed)
        }
        Status::Skipped => Ok(Completion::ignored_with(reason)),
        Status::Failed => Err(format!("{}\n(results: {})", reason, session.dir().display()).into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for path in matrix_files() {
        let matrix = match MatrixFile::load(&path) {
            Ok(m) => m,
            Err(e) => {
                let name = format!("matrix/{}", path.display());
                trials.push(Trial::test(name, move || Err(e.to_string().into())));
                continue;
            }
        };
        for cell in matrix.cells() {
            let (m, lab) = (matrix.clone(), cell.lab);
            trials.push(
                Trial::ignorable_test(cell.name.clone(), move || run_cell(&m, &cell)).with_ignored_flag(lab),
            );
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    for session in sessions().lock().unwrap_or_else(|p| p.into_inner()).values() {
        let session = session.lock().unwrap_or_else(|p| p.into_inner());
        let summary_path = session.dir().join("summary.json");
        if let Ok(summary) = iogate::result::Summary::load(&summary_path) {
            println!("\n{} — completion latency (µs)\n", summary.matrix);
            println!("{}", iogate::report::latency_table(&summary));
            println!("{} — aggregate bandwidth\n", summary.matrix);
            println!("{}", iogate::report::bandwidth_table(&summary));
            println!("results: {}", session.dir().display());
        }
    }
    conclusion.exit();
}
