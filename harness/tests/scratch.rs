use iogate::matrix::MatrixFile;
use std::path::Path;
#[test]
fn scratch() {
    let base = "name: t\ntarget: /tmp/x\nnodes: 2\nclients: [1, 8]\nruntimes:\n  - name: host\n    host: {}\n  - name: runc\n    docker:\n      handler: runc\nworkload:\n  patterns: [read]\n  bs: 64k\n  size: 1m\n";
    println!("OK? {:?}", MatrixFile::parse(Path::new("m.yaml"), base).map(|m| m.cells().len()));
    for (a, b) in [("bs: 64k", "bs: 0"), ("size: 1m", "size: 12 parsecs"), ("handler: runc", "handler: runc\n      bogus: 1"), ("host: {}", "hots: {}"), ("host: {}", "host: {}\n    docker: {}"), ("patterns: [read]", "patterns: [reed]"), ("clients: [1, 8]", "clients: []"), ("size: 1m", "size: 1m\n  options: { exec_prerun: 'x' }"), ("size: 1m", "size: 1m\n  frob: 2"), ("size: 1m", "size: 1m\n  options:\n    filename: ../../etc/passwd"), ("name: t", "name: global1")] {
        let y = base.replace(a, b);
        match MatrixFile::parse(Path::new("m.yaml"), &y) { Ok(_) => println!("ACCEPTED {b}"), Err(e) => println!("{b:?} => {e}") }
    }
}
