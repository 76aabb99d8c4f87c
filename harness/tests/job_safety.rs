//! fio job files: every value is checked and every option allow-listed before fio can see it.
//! fio runs commands and loads code named in job files, so each way in is tested here, through
//! the matrix file (the error names file, line and column, before any fio runs).

use std::path::Path;

use iogate::Error;
use iogate::fio::job::render;
use iogate::fixture::host_driven::job_spec;
use iogate::spec::MatrixFile;
use iogate::spec::check_option;
use rstest::rstest;

/// 257 characters: fio reads job lines with an 8 KiB buffer; iogate allows 256 per value.
const LONG_VALUE: &str = concat!(
    "rate: \"",
    "1111111111111111111111111111111111111111111111111111111111111111",
    "1111111111111111111111111111111111111111111111111111111111111111",
    "1111111111111111111111111111111111111111111111111111111111111111",
    "1111111111111111111111111111111111111111111111111111111111111111",
    "1\""
);

fn matrix(name: &str, workload_extra: &str) -> String {
    format!(
        "name: {name}
target: /var/tmp/iogate-test
clients: [2]
runtimes:
  - name: host
    host: {{}}
workload:
  patterns: [randread]
  bs: 64k
  size: 1m
  runtime: 2s
{workload_extra}"
    )
}

/// Where an option is written: the workload's `options` (line 13) or a runtime's (line 10).
#[derive(Debug, Clone, Copy)]
enum Place {
    Workload,
    Runtime,
}

/// A matrix with `option` in the workload's options or in the options of a second runtime, and
/// the line the option is on.
fn matrix_with_option(place: Place, option: &str) -> (String, u64) {
    match place {
        Place::Workload => (matrix("evil", &format!("  options:\n    {option}\n")), 13),
        Place::Runtime => (
            matrix("evil", "").replace(
                "    host: {}\n",
                &format!("    host: {{}}\n  - name: other\n    host: {{}}\n    options:\n      {option}\n"),
            ),
            10,
        ),
    }
}

fn rejection(text: &str) -> (u64, String) {
    match MatrixFile::parse(Path::new("evil.yaml"), text) {
        Err(Error::Matrix { location, message }) => {
            assert_eq!(location.path, Path::new("evil.yaml"));
            (location.line, message)
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[rstest]
#[case::newline_starts_a_section(
    "rate: \"1m\\n[evil]\\nexec_prerun=touch /tmp/pwned\"",
    "control character"
)]
#[case::carriage_return("rate: \"1m\\rexec_prerun=x\"", "control character")]
#[case::nul_byte("rate: \"1m\\u0000x\"", "control character")]
#[case::open_bracket("rate: \"[evil]\"", "`[ ]` open fio sections")]
#[case::close_bracket("rate: \"1m]\"", "`[ ]` open fio sections")]
#[case::semicolon_comment("rate: \"1m;x\"", "start comments")]
#[case::hash_comment("rate: \"1m # x\"", "start comments")]
#[case::env_expansion("rate: \"${HOME}\"", "expands environment variables")]
#[case::over_256_characters(LONG_VALUE, "at most 256")]
#[case::exec_prerun("exec_prerun: \"touch /tmp/pwned\"", "runs a shell command")]
#[case::exec_postrun("exec_postrun: \"touch /tmp/pwned\"", "runs a shell command")]
#[case::include("include: /etc/fio/evil.fio", "reads another job file")]
#[case::ioengine_option("ioengine: /tmp/evil.so", "dlopen")]
#[case::write_bw_log("write_bw_log: /tmp/bw", "log files")]
#[case::write_lat_log("write_lat_log: lat", "log files")]
#[case::write_iolog("write_iolog: /tmp/iolog", "log files")]
#[case::read_iolog("read_iolog: /tmp/iolog", "log files")]
#[case::replay_redirect("replay_redirect: /dev/sda", "outside the harness")]
#[case::replay_no_stall("replay_no_stall: 1", "log files")]
#[case::cgroup("cgroup: evil", "cgroups")]
#[case::uid("uid: 0", "changes the user")]
#[case::gid("gid: 0", "changes the user")]
#[case::trigger("trigger: \"touch /tmp/pwned\"", "triggers run commands")]
#[case::verify_state_save("verify_state_save: 1", "state files")]
#[case::filename_absolute("filename: /etc/passwd", "outside the target")]
#[case::filename_dotdot("filename: ../../etc/passwd", "outside the target")]
#[case::filename_colon("filename: \"a:/etc/passwd\"", "outside the target")]
#[case::directory_absolute("directory: /etc", "outside the target")]
#[case::directory_dotdot("directory: ../other-runtime", "outside the target")]
#[case::unknown_option("stonewall: 1", "not on the allow-list")]
#[case::typed_field_as_option("numjobs: 64", "set by the harness")]
#[case::thinktime_spin("thinktime_spin: 3us", "hangs")]
#[case::thinktime_without_unit("thinktime: 200", "with a unit")]
#[case::thinktime_iotime_without_unit("thinktime_iotime: 1", "with a unit")]
#[case::thinktime_in_hours("thinktime: 1h", "with a unit")]
#[case::thinktime_zero("thinktime: 0ms", "out of range")]
#[case::thinktime_over_an_hour("thinktime: 3601s", "out of range")]
#[case::thinktime_iotime_alone("thinktime_iotime: 800ms", "does nothing without `thinktime`")]
#[case::thinktime_blocks_alone("thinktime_blocks: 8", "does nothing without `thinktime`")]
fn unsafe_fio_options_are_rejected_with_their_line(
    #[case] option: &str,
    #[case] expected: &str,
    #[values(Place::Workload, Place::Runtime)] place: Place,
) {
    let (text, option_line) = matrix_with_option(place, option);
    let (line, message) = rejection(&text);
    assert_eq!(line, option_line, "the offending option's line: {message}");
    assert!(
        message.contains(expected),
        "{message:?} should say {expected:?}"
    );
}

#[rstest]
#[case::external_engine("ioengine: \"external:/tmp/evil.so\"")]
#[case::exec_engine("ioengine: exec")]
#[case::path_engine("ioengine: /tmp/evil.so")]
#[case::unknown_engine("ioengine: rbd")]
fn ioengines_off_the_allow_list_are_rejected(#[case] engine: &str) {
    let (line, message) = rejection(&matrix("evil", &format!("  {engine}\n")));
    assert_eq!(line, 12);
    assert!(message.contains("unknown variant"), "{message}");
    assert!(
        message.contains("psync") && message.contains("io_uring"),
        "lists the allowed engines: {message}"
    );
}

#[rstest]
#[case::space("\"a b\"")]
#[case::slash("a/b")]
#[case::bracket("\"a]\"")]
#[case::global_section("global")]
#[case::global_prefix("globals-x")]
#[case::global_uppercase("GLOBAL1")]
fn job_names_are_plain_and_never_global(#[case] name: &str) {
    let (line, message) = rejection(&matrix(name, ""));
    assert_eq!(line, 1, "{message}");
    assert!(
        message.contains("[A-Za-z0-9_-]") || message.contains("[global]"),
        "{message}"
    );
}

#[test]
fn target_with_metacharacters_is_rejected() {
    let text = matrix("ok", "").replace("/var/tmp/iogate-test", "\"/var/tmp/${HOME}\"");
    let (line, message) = rejection(&text);
    assert_eq!(line, 2);
    assert!(message.contains("environment variables"), "{message}");
}

#[test]
fn allowed_options_render_under_the_client_directory() {
    let text = matrix(
        "smoke",
        "  ramp: 1s\n  options:\n    rate: 10m\n    fsync: 4\n    directory: sub\n    norandommap: true\n",
    );
    let file = MatrixFile::parse(Path::new("ok.yaml"), &text).unwrap();
    let cells = file.cells();
    let job = render(
        &job_spec(&cells[0]),
        &cells[0].client_dir(1).display().to_string(),
    )
    .unwrap();
    insta::assert_snapshot!(job);
    assert!(job.contains("directory=/var/tmp/iogate-test/host/c2/client1/sub\n"));
}

#[test]
fn rendered_job_has_one_section_and_only_known_keys() {
    let file = MatrixFile::parse(Path::new("ok.yaml"), &matrix("smoke", "")).unwrap();
    for cell in file.cells() {
        let job = render(&job_spec(&cell), "/data").unwrap();
        let sections = job.lines().filter(|l| l.starts_with('[')).count();
        assert_eq!(sections, 1, "{job}");
        for line in job.lines().skip(1) {
            let (key, value) = line.split_once('=').expect("key=value");
            assert!(
                !key.is_empty() && !value.contains(['[', ']', ';', '#', '$']),
                "{line}"
            );
        }
    }
}

#[test]
fn client_directory_from_a_fixture_is_checked_too() {
    let file = MatrixFile::parse(Path::new("ok.yaml"), &matrix("smoke", "")).unwrap();
    let cell = &file.cells()[0];
    let err = render(&job_spec(cell), "/data\nexec_prerun=touch /tmp/pwned").unwrap_err();
    assert!(matches!(err, Error::UnsafeJob(_)), "{err}");
}

#[test]
fn options_added_from_rust_get_the_same_checks() {
    let mut options = iogate::spec::FioOptions::default();
    assert!(options.insert("rate", "1m").is_ok());
    assert!(options.insert("exec_prerun", "id").is_err());
    assert!(check_option("rate", "1m\nexec_prerun=id").is_err());
}

#[test]
fn time_options_with_units_are_accepted_in_workload_and_runtime() {
    for options in [
        "{ thinktime: 200ms, thinktime_iotime: 800ms }",
        "{ thinktime: 50us, thinktime_blocks: 16 }",
        "{ thinktime: 1s, thinktime_iotime: 3600s }",
    ] {
        let in_workload = matrix("ok", &format!("  options: {options}\n"));
        let in_runtime = matrix("ok", "").replace(
            "    host: {}\n",
            &format!("    host: {{}}\n  - name: other\n    host: {{}}\n    options: {options}\n"),
        );
        for text in [in_workload, in_runtime] {
            MatrixFile::parse(Path::new("ok.yaml"), &text)
                .unwrap_or_else(|e| panic!("{options}: {e}\n{text}"));
        }
    }
}

#[test]
fn overridden_runtime_renders_the_merged_options() {
    let text = matrix("smoke", "  options: { invalidate: 0, rate: 10m }\n").replace(
        "    host: {}\n",
        "    host: {}\n  - name: slowed\n    host: {}\n    options: { rate: 5m, thinktime: 200ms, thinktime_iotime: 800ms }\n",
    );
    let file = MatrixFile::parse(Path::new("ok.yaml"), &text).unwrap();
    let cells = file.cells();
    let slowed = cells
        .iter()
        .find(|c| c.runtime.name.as_str() == "slowed")
        .unwrap();
    let job = render(
        &job_spec(slowed),
        &slowed.client_dir(0).display().to_string(),
    )
    .unwrap();
    insta::assert_snapshot!(job);
    let host = cells
        .iter()
        .find(|c| c.runtime.name.as_str() == "host")
        .unwrap();
    let unslowed = render(&job_spec(host), "/data").unwrap();
    assert!(
        unslowed.contains("rate=10m\n") && !unslowed.contains("thinktime"),
        "{unslowed}"
    );
}
