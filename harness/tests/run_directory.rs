//! The run directory shared by sessions: several sessions (threads, nextest processes) joining
//! one run, and a run that refuses a second matrix.

use iogate::error::Error;
use iogate::run::Session;
use iogate::spec::MatrixFile;

fn matrix(dir: &std::path::Path, clients: u32) -> MatrixFile {
    let path = dir.join(format!("m{clients}.yaml"));
    std::fs::write(
        &path,
        format!(
            "name: shared
target: {}
clients: [{clients}]
runtimes:
  - name: host
    host: {{}}
workload:
  patterns: [read]
  bs: 64k
  size: 4m
",
            dir.join("target").display()
        ),
    )
    .unwrap();
    MatrixFile::load(&path).unwrap()
}

fn environment(run: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("environment.json")).unwrap()).unwrap()
}

#[test]
fn sessions_opened_at_once_all_join_one_intact_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path(), 1);
    let results = dir.path().join("results");
    std::thread::scope(|scope| {
        let opened: Vec<_> = (0..16)
            .map(|_| scope.spawn(|| Session::open_in(&results, "r1", file.clone())))
            .collect();
        for session in opened {
            let session = session.join().unwrap().unwrap();
            assert_eq!(session.dir(), results.join("shared/r1"));
        }
    });
    let run = results.join("shared/r1");
    assert_eq!(environment(&run)["matrix_hash"], file.hash.as_str());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["cells"], serde_json::json!([]));
    let strays: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".iogate-"))
        .collect();
    assert!(strays.is_empty(), "temp files left behind: {strays:?}");
}

#[test]
fn joining_a_run_keeps_its_start_and_the_runtimes_others_found() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path(), 1);
    let results = dir.path().join("results");
    let first = Session::open_in(&results, "r1", file.clone()).unwrap();
    let mut env = environment(first.dir());
    env["started_at"] = "2026-01-01T00:00:00Z".into();
    env["runtimes"]["runc"] = serde_json::json!({ "handler": "runc" });
    std::fs::write(first.dir().join("environment.json"), env.to_string()).unwrap();

    let second = Session::open_in(&results, "r1", file).unwrap();
    let joined = environment(second.dir());
    assert_eq!(joined["started_at"], "2026-01-01T00:00:00Z");
    assert_eq!(joined["runtimes"]["runc"]["handler"], "runc");
}

#[test]
fn a_run_refuses_a_second_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let one = matrix(dir.path(), 1);
    let four = matrix(dir.path(), 4);
    Session::open_in(&results, "r1", one.clone()).unwrap();
    let error = Session::open_in(&results, "r1", four.clone())
        .err()
        .expect("a second matrix in the same run must be refused");
    assert!(matches!(error, Error::RunMismatch { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("shared/r1"), "{message}");
    assert!(message.contains(&one.hash) && message.contains(&four.hash));
    assert!(message.contains("IOGATE_RUN_ID"), "{message}");
    assert_eq!(
        environment(&results.join("shared/r1"))["matrix_hash"],
        one.hash.as_str()
    );
}
