//! fio job files, rendered by the harness only from a validated [`JobSpec`] (see `spec::options`
//! for what a matrix may put into one).

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::spec::{Pattern, Workload, check_option, check_value};

/// What one client's job file says: the job name, the access pattern and the workload.
#[derive(Debug, Clone, Copy)]
pub struct JobSpec<'a> {
    /// The fio job (section) name: the matrix name, validated when the matrix was read.
    pub name: &'a str,
    /// The access pattern.
    pub pattern: Pattern,
    /// The workload every client runs.
    pub workload: &'a Workload,
}

/// Renders the job file one client runs, with its files under `client_dir` (as that client sees
/// the directory: a container or VM may mount it elsewhere).
pub fn render(spec: &JobSpec<'_>, client_dir: &str) -> Result<String> {
    let w = spec.workload;

    check_value(client_dir)
        .map_err(|e| Error::UnsafeJob(format!("client directory {client_dir:?}: {e}")))?;
    let mut job = String::new();
    let mut line = |key: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(job, "{key}={value}");
    };
    line("ioengine", &w.ioengine.as_str());
    line("rw", &spec.pattern.as_str());
    line("bs", &w.bs.bytes());
    line("size", &w.size.bytes());
    line("numjobs", &w.threads.get());
    line("iodepth", &w.iodepth);
    line("direct", &u8::from(w.direct));
    line("thread", &1);
    // A fio server prefixes generated file names with the client's address by default; the
    // files must not depend on which process drives the server (a relay, a restarted pool, the
    // layout pod and the measuring pod in a cluster), or each would lay them out again.
    line("unique_filename", &0);
    if let Some(runtime) = w.runtime {
        line("time_based", &1);
        line("runtime", &runtime);
    }
    if let Some(ramp) = w.ramp {
        line("ramp_time", &ramp);
    }
    let mut directory = client_dir.to_owned();
    for (name, value) in w.options.iter() {
        check_option(name, value).map_err(Error::UnsafeJob)?;
        match name {
            "directory" => directory = format!("{}/{value}", client_dir.trim_end_matches('/')),
            "filename" => line(
                name,
                &format!("{}/{value}", client_dir.trim_end_matches('/')),
            ),
            _ => line(name, &value),
        }
    }
    line("directory", &directory);
    Ok(format!("[{}]\n{job}", spec.name))
}

/// The job file that only lays out `client_dir`'s files for [`render`]'s job (fio's
/// `create_only`: the setup phase, no I/O measured), so laying out and measuring can have
/// deadlines of their own.
pub fn render_layout(spec: &JobSpec<'_>, client_dir: &str) -> Result<String> {
    Ok(render(spec, client_dir)? + "create_only=1\n")
}
