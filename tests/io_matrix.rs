//! One test per matrix cell: `cargo test --test io_matrix [FILTER] [-- --ignored]`.
//!
//! After the cells: one test per gate and client count (`smoke/gate/gvisor-read-bw-ge-5pct-of-host/c8`)
//! and one baseline check per cell (`smoke/baseline/host/c8/read`, against `snapshots/`; see
//! `docs/gates.md`). Matrices: every `matrices/*.yaml`, or only `$IOGATE_MATRIX`; lab cells need
//! `--ignored`. The harness itself is the library's (`iogate::harness`), shared with `iogate run`.

fn main() {
    iogate::harness::main(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}
