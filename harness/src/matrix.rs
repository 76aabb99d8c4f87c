//! The matrix file: what to measure (runtimes × clients × patterns × workload) and how it expands into cells.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, YamlLocation};
use crate::fio::job::{ByteSize, FioDuration, FioOptions, IoEngine, JobName};

/// A parsed, validated matrix file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Matrix name: the first part of every cell name and the fio job name (`[A-Za-z0-9_-]`, not `global…`).
    pub name: JobName,
    /// What this matrix reproduces or checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Absolute directory the fio files live under; the harness picks every file name below it.
    pub target: TargetDir,
    /// Lab-only matrix: every cell is ignored unless `--ignored` is given.
    #[serde(default)]
    pub lab: bool,
    /// Runtimes to compare, in report order.
    pub runtimes: Vec<Runtime>,
    /// Numbers of concurrent fio clients, one cell each (e.g. `[1, 8, 64]`).
    pub clients: Vec<ClientCount>,
    /// Worker nodes the clients spread over, evenly (8 over 2 = 4 + 4).
    #[serde(default = "one_node")]
    pub nodes: NodeCount,
    /// The I/O every client performs.
    pub workload: Workload,
    /// Performance gates over this matrix's cells, one test each per client count (see `docs/gates.md`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<crate::gate::GateSpec>,
}

fn one_node() -> NodeCount {
    NodeCount(1)
}

/// The fio workload of one client.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Access patterns, one cell each.
    pub patterns: Vec<Pattern>,
    /// Block size (fio `bs`), e.g. `64k`.
    pub bs: ByteSize,
    /// Threads per client (fio `numjobs`).
    #[serde(default = "four")]
    pub threads: Threads,
    /// File size per thread (fio `size`), e.g. `32GiB`.
    pub size: ByteSize,
    /// O_DIRECT; the study used buffered I/O.
    #[serde(default)]
    pub direct: bool,
    /// fio I/O engine, from an allow-list.
    #[serde(default)]
    pub ioengine: IoEngine,
    /// Queue depth per thread.
    #[serde(default = "one")]
    pub iodepth: u32,
    /// Time-based run length; without it each thread moves `size` bytes once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<FioDuration>,
    /// Warm-up excluded from the numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<FioDuration>,
    /// How often each cell is measured.
    #[serde(default = "one")]
    pub repetitions: u32,
    /// Further fio options, from an allow-list (see the README).
    #[serde(default, skip_serializing_if = "FioOptions::is_empty")]
    pub options: FioOptions,
}

fn four() -> Threads {
    Threads(4)
}
fn one() -> u32 {
    1
}

/// fio access pattern (`rw=`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// Sequential read.
    Read,
    /// Random read.
    Randread,
    /// Sequential write.
    Write,
    /// Random write.
    Randwrite,
}

impl Pattern {
    /// fio's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Read => "read",
            Pattern::Randread => "randread",
            Pattern::Write => "write",
            Pattern::Randwrite => "randwrite",
        }
    }

    /// The study's label ("sequential read", ...).
    pub fn label(self) -> &'static str {
        match self {
            Pattern::Read => "sequential read",
            Pattern::Randread => "random read",
            Pattern::Write => "sequential write",
            Pattern::Randwrite => "random write",
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One named runtime of the matrix.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RuntimeDef", into = "RuntimeDef")]
#[schemars(with = "RuntimeDef")]
pub struct Runtime {
    /// Name used in cell names and reports.
    pub name: RuntimeName,
    /// Which fixture runs it and how.
    pub kind: RuntimeKind,
    /// Lab-only runtime: its cells are ignored unless `--ignored` is given.
    pub lab: bool,
    /// A missing optional runtime skips its cells (with the reason) instead of failing them.
    pub optional: bool,
    /// Client counts for this runtime only, instead of the matrix's (e.g. fewer for slow runtimes).
    pub clients: Option<Vec<ClientCount>>,
}

/// A runtime as written: a name and exactly one of `host`, `docker`, `kubernetes`, `microvm`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RuntimeDef {
    /// Name used in cell names and reports (`[a-z0-9-]`).
    name: RuntimeName,
    /// fio servers directly on the worker nodes: local network namespaces, or lab hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host: Option<HostRuntime>,
    /// fio servers in Docker containers under an OCI runtime handler (runc, runsc, kata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    docker: Option<DockerRuntime>,
    /// fio server pods on a Kubernetes cluster, with an optional RuntimeClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kubernetes: Option<KubernetesRuntime>,
    /// One qemu microVM per client with Kata's storage path (virtio-9p or virtio-fs), on this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    microvm: Option<MicrovmRuntime>,
    /// Lab-only runtime: its cells are ignored unless `--ignored` is given.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    lab: bool,
    /// A missing optional runtime skips its cells (with the reason) instead of failing them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    optional: bool,
    /// Client counts for this runtime only, instead of the matrix's `clients`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clients: Option<Vec<ClientCount>>,
}

impl TryFrom<RuntimeDef> for Runtime {
    type Error = String;
    fn try_from(def: RuntimeDef) -> Result<Self, String> {
        let kind = match (def.host, def.docker, def.kubernetes, def.microvm) {
            (Some(h), None, None, None) => RuntimeKind::Host(h),
            (None, Some(d), None, None) => RuntimeKind::Docker(d),
            (None, None, Some(k), None) => RuntimeKind::Kubernetes(k),
            (None, None, None, Some(m)) => RuntimeKind::Microvm(m),
            _ => {
                return Err(format!(
                    "runtime `{}`: expected exactly one of `host: {{}}`, `docker: {{...}}`, `kubernetes: {{...}}`, \
                     `microvm: {{...}}`",
                    def.name
                ));
            }
        };
        Ok(Runtime {
            name: def.name,
            kind,
            lab: def.lab,
            optional: def.optional,
            clients: def.clients,
        })
    }
}

impl From<Runtime> for RuntimeDef {
    fn from(r: Runtime) -> RuntimeDef {
        let (mut host, mut docker, mut kubernetes) = (None, None, None);
        let mut microvm = None;
        match r.kind {
            RuntimeKind::Host(h) => host = Some(h),
            RuntimeKind::Docker(d) => docker = Some(d),
            RuntimeKind::Kubernetes(k) => kubernetes = Some(k),
            RuntimeKind::Microvm(m) => microvm = Some(m),
        }
        RuntimeDef {
            name: r.name,
            host,
            docker,
            kubernetes,
            microvm,
            lab: r.lab,
            optional: r.optional,
            clients: r.clients,
        }
    }
}

/// The fixture behind a runtime.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// fio servers directly on the worker nodes.
    Host(HostRuntime),
    /// fio servers in Docker containers.
    Docker(DockerRuntime),
    /// fio server pods on Kubernetes.
    Kubernetes(KubernetesRuntime),
    /// One qemu microVM per client (Kata's storage path on one machine).
    Microvm(MicrovmRuntime),
}

impl RuntimeKind {
    /// `host`, `docker`, `kubernetes` or `microvm`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RuntimeKind::Host(_) => "host",
            RuntimeKind::Docker(_) => "docker",
            RuntimeKind::Kubernetes(_) => "kubernetes",
            RuntimeKind::Microvm(_) => "microvm",
        }
    }
}

/// Host runtime options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostRuntime {
    /// Lab worker hosts already running `fio --server` on consecutive ports from `base_port`
    /// (one server per client slot). Empty: the harness starts servers in one local network
    /// namespace per worker node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// First fio server port on each lab host.
    #[serde(default = "default_fio_port")]
    pub base_port: u16,
}

fn default_fio_port() -> u16 {
    8765
}

/// Docker runtime options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DockerRuntime {
    /// OCI runtime handler registered with the engine (`runc`, `runsc`, `kata-runtime`, ...).
    #[serde(default = "default_handler")]
    pub handler: String,
    /// fio image; default: built by the harness from the host's fio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

fn default_handler() -> String {
    "runc".to_owned()
}

/// Kubernetes runtime options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesRuntime {
    /// kubeconfig context; default: the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// RuntimeClass for the server pods (`kata-qemu`, `gvisor`, ...); none means the node's default (runc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class: Option<String>,
    /// fio image the pods run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Run the fio servers in the node's network namespace (`hostNetwork`), ports 8765 + slot.
    #[serde(default)]
    pub host_network: bool,
    /// Where the target lives on the nodes.
    #[serde(default)]
    pub volume: KubernetesVolume,
    /// Worker nodes by name; clients spread evenly over them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_names: Vec<String>,
    /// Or: a label selector choosing the worker nodes, e.g. `iogate/worker=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<String>,
}

/// How a Kubernetes runtime reaches the target directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KubernetesVolume {
    /// The matrix `target` as a hostPath on every node (a shared filesystem mounted on the hosts).
    #[default]
    HostPath,
    /// An existing PersistentVolumeClaim (ReadWriteMany when clients span nodes).
    Pvc {
        /// Claim name.
        claim: String,
    },
}

/// microVM runtime options, as written:
/// `microvm: { shared_fs: 9p, msize: 512000, cache: mmap, vcpus: 1, memory: 1GiB, accel: auto }`.
///
/// One qemu VM per client boots Debian's kernel with an initramfs the harness builds; the client's
/// directory is shared into the guest over virtio-9p or virtio-fs (virtiofsd), as Kata does, and the
/// guest runs `fio --server`. Defaults follow Kata: 9p `msize` 8192 with `cache: mmap` (Kata 1.x),
/// virtio-fs `cache: auto` (Kata 2.x).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "MicrovmDef", into = "MicrovmDef")]
#[schemars(with = "MicrovmDef")]
pub struct MicrovmRuntime {
    /// How the client's directory reaches the guest.
    pub shared_fs: SharedFs,
    /// Virtual CPUs per VM (1 to 64).
    pub vcpus: u32,
    /// Guest memory (256 MiB to 64 GiB, whole MiB).
    pub memory: ByteSize,
    /// Accelerator: `kvm` when it works, else `tcg` (`auto`), or forced.
    pub accel: Accel,
    /// How long a VM may take from qemu's start to a listening fio server; default 120 s.
    pub boot_timeout: Option<FioDuration>,
}

/// How a microVM sees its client's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedFs {
    /// virtio-9p (Kata 1.x's default): `mount -t 9p -o trans=virtio,version=9p2000.L,msize=…,cache=…`.
    NineP {
        /// Largest 9p message in bytes (4096 to 512000, Linux's virtio transport maximum).
        msize: u32,
        /// Guest cache mode: `none`, `loose`, `fscache` or `mmap`.
        cache: CacheMode,
    },
    /// virtio-fs with virtiofsd (Kata 2.x's default).
    VirtioFs {
        /// virtiofsd's cache policy: `auto`, `always`, `never` or `metadata`.
        cache: CacheMode,
    },
}

impl SharedFs {
    /// `9p` or `virtio-fs`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SharedFs::NineP { .. } => "9p",
            SharedFs::VirtioFs { .. } => "virtio-fs",
        }
    }

    /// The cache mode.
    pub fn cache(&self) -> CacheMode {
        match self {
            SharedFs::NineP { cache, .. } | SharedFs::VirtioFs { cache } => *cache,
        }
    }
}

/// The kind of shared file system, as written in `shared_fs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SharedFsKind {
    /// virtio-9p.
    #[serde(rename = "9p")]
    NineP,
    /// virtio-fs.
    #[serde(rename = "virtio-fs")]
    VirtioFs,
}

/// A shared file system's cache mode: 9p takes `none | loose | fscache | mmap`, virtio-fs
/// `auto | always | never | metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    /// 9p: no caching.
    None,
    /// 9p: cache data and metadata without coherence.
    Loose,
    /// 9p: loose plus a persistent fscache.
    Fscache,
    /// 9p: cache only mmap'ed pages (Kata 1.x).
    Mmap,
    /// virtio-fs: cache with timeouts (Kata 2.x's default).
    Auto,
    /// virtio-fs: cache everything.
    Always,
    /// virtio-fs: no caching.
    Never,
    /// virtio-fs: cache metadata only.
    Metadata,
}

impl CacheMode {
    /// The mode's name, as 9p's mount option or virtiofsd's `--cache`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::None => "none",
            CacheMode::Loose => "loose",
            CacheMode::Fscache => "fscache",
            CacheMode::Mmap => "mmap",
            CacheMode::Auto => "auto",
            CacheMode::Always => "always",
            CacheMode::Never => "never",
            CacheMode::Metadata => "metadata",
        }
    }
}

/// The accelerator a microVM runtime asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// KVM if a probe boot with it works, TCG otherwise (and every cell says so).
    #[default]
    Auto,
    /// KVM only: the runtime is unavailable without a working KVM.
    Kvm,
    /// TCG (emulation) even where KVM works.
    Tcg,
}

/// Largest 9p `msize` Linux's virtio transport accepts; the guest silently lowers larger values.
pub const MAX_9P_MSIZE: u32 = 512_000;

/// A microVM runtime as written (flat, validated into [`MicrovmRuntime`]).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MicrovmDef {
    /// `9p` (virtio-9p) or `virtio-fs` (virtiofsd).
    shared_fs: SharedFsKind,
    /// 9p only: largest message in bytes, 4096 to 512000; default 8192 (Kata 1.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    msize: Option<u32>,
    /// Cache mode: 9p `none | loose | fscache | mmap` (default `mmap`), virtio-fs
    /// `auto | always | never | metadata` (default `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache: Option<CacheMode>,
    /// Virtual CPUs per VM, 1 to 64.
    #[serde(default = "one")]
    vcpus: u32,
    /// Guest memory, 256 MiB to 64 GiB in whole MiB; default 1GiB.
    #[serde(default = "default_vm_memory")]
    memory: ByteSize,
    /// `auto` (KVM if a probe boot works, else TCG), `kvm` or `tcg`.
    #[serde(default)]
    accel: Accel,
    /// Boot-to-ready limit per VM; default 120s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    boot_timeout: Option<FioDuration>,
}

fn default_vm_memory() -> ByteSize {
    ByteSize::new(1 << 30).expect("non-zero")
}

impl TryFrom<MicrovmDef> for MicrovmRuntime {
    type Error = String;
    fn try_from(def: MicrovmDef) -> Result<Self, String> {
        let shared_fs = match def.shared_fs {
            SharedFsKind::NineP => {
                let msize = def.msize.unwrap_or(8192);
                if !(4096..=MAX_9P_MSIZE).contains(&msize) {
                    return Err(format!(
                        "microvm: msize {msize} is out of range: expected 4096 to {MAX_9P_MSIZE} \
                         (Linux's virtio 9p transport lowers anything larger without failing)"
                    ));
                }
                let cache = def.cache.unwrap_or(CacheMode::Mmap);
                if !matches!(
                    cache,
                    CacheMode::None | CacheMode::Loose | CacheMode::Fscache | CacheMode::Mmap
                ) {
                    return Err(format!(
                        "microvm: cache `{}` is not a 9p cache mode: expected none, loose, fscache or mmap",
                        cache.as_str()
                    ));
                }
                SharedFs::NineP { msize, cache }
            }
            SharedFsKind::VirtioFs => {
                if def.msize.is_some() {
                    return Err("microvm: `msize` applies to `shared_fs: 9p` only".into());
                }
                let cache = def.cache.unwrap_or(CacheMode::Auto);
                if !matches!(
                    cache,
                    CacheMode::Auto | CacheMode::Always | CacheMode::Never | CacheMode::Metadata
                ) {
                    return Err(format!(
                        "microvm: cache `{}` is not a virtio-fs cache mode: expected auto, always, never or metadata",
                        cache.as_str()
                    ));
                }
                SharedFs::VirtioFs { cache }
            }
        };
        if !(1..=64).contains(&def.vcpus) {
            return Err(format!(
                "microvm: vcpus {} is out of range: expected 1 to 64",
                def.vcpus
            ));
        }
        let mem = def.memory.bytes();
        if !((256 << 20)..=(64 << 30)).contains(&mem) || !mem.is_multiple_of(1 << 20) {
            return Err(format!(
                "microvm: memory {} is out of range: expected 256MiB to 64GiB in whole MiB",
                def.memory
            ));
        }
        if let Some(t) = def.boot_timeout
            && !(1..=3600).contains(&t.get().as_secs())
        {
            return Err(format!(
                "microvm: boot_timeout {t} is out of range: expected 1s to 1h"
            ));
        }
        Ok(MicrovmRuntime {
            shared_fs,
            vcpus: def.vcpus,
            memory: def.memory,
            accel: def.accel,
            boot_timeout: def.boot_timeout,
        })
    }
}

impl From<MicrovmRuntime> for MicrovmDef {
    fn from(m: MicrovmRuntime) -> MicrovmDef {
        let (shared_fs, msize) = match m.shared_fs {
            SharedFs::NineP { msize, .. } => (SharedFsKind::NineP, Some(msize)),
            SharedFs::VirtioFs { .. } => (SharedFsKind::VirtioFs, None),
        };
        MicrovmDef {
            shared_fs,
            msize,
            cache: Some(m.shared_fs.cache()),
            vcpus: m.vcpus,
            memory: m.memory,
            accel: m.accel,
            boot_timeout: m.boot_timeout,
        }
    }
}

impl MicrovmRuntime {
    /// A runtime with Kata's defaults for `shared_fs` (1 vCPU, 1 GiB, `accel: auto`).
    pub fn new(shared_fs: SharedFsKind) -> MicrovmRuntime {
        MicrovmDef {
            shared_fs,
            msize: None,
            cache: None,
            vcpus: 1,
            memory: default_vm_memory(),
            accel: Accel::Auto,
            boot_timeout: None,
        }
        .try_into()
        .expect("defaults are valid")
    }
}

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                let check: fn(&str) -> bool = $check;
                if check(&s) {
                    Ok(Self(s))
                } else {
                    Err(format!("invalid value {s:?}: expected {}", $expected))
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_string!(
    /// A runtime's name: lowercase letters, digits and `-`, at most 32 characters.
    RuntimeName,
    |s| !s.is_empty()
        && s.len() <= 32
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
    "a runtime name of 1 to 32 characters from [a-z0-9-]"
);

/// The absolute directory fio files live under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct TargetDir(PathBuf);

impl TryFrom<String> for TargetDir {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        crate::fio::job::check_value(&s).map_err(|e| format!("target {s:?}: {e}"))?;
        let path = PathBuf::from(&s);
        let plain = path.components().all(|c| {
            matches!(
                c,
                std::path::Component::RootDir | std::path::Component::Normal(_)
            )
        });
        if !path.is_absolute() || !plain || s.contains(':') || path.parent().is_none() {
            return Err(format!(
                "invalid target {s:?}: expected an absolute directory below / without `..`, `.` or `:`"
            ));
        }
        Ok(TargetDir(path))
    }
}

impl From<TargetDir> for String {
    fn from(t: TargetDir) -> String {
        t.0.to_string_lossy().into_owned()
    }
}

impl TargetDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

macro_rules! bounded_count {
    ($(#[$doc:meta])* $name:ident, $max:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(try_from = "u32", into = "u32")]
        pub struct $name(u32);

        impl TryFrom<u32> for $name {
            type Error = String;
            fn try_from(n: u32) -> Result<Self, String> {
                if (1..=$max).contains(&n) {
                    Ok(Self(n))
                } else {
                    Err(format!("invalid value {n}: expected {}", $expected))
                }
            }
        }

        impl From<$name> for u32 {
            fn from(n: $name) -> u32 {
                n.0
            }
        }

        impl $name {
            /// The number.
            pub fn get(self) -> u32 {
                self.0
            }
        }
    };
}

bounded_count!(
    /// Concurrent fio clients in one cell.
    ClientCount,
    1024,
    "a client count from 1 to 1024"
);
bounded_count!(
    /// fio threads per client (`numjobs`).
    Threads,
    256,
    "a thread count from 1 to 256"
);
bounded_count!(
    /// Worker nodes clients spread over.
    NodeCount,
    64,
    "a node count from 1 to 64"
);

/// One measurement: a runtime, a client count and a pattern.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Stable, filterable name: `matrix/runtime/c<clients>/pattern`.
    pub name: String,
    /// The matrix's name.
    pub matrix: String,
    /// The runtime this cell runs under.
    pub runtime: Runtime,
    /// Number of clients.
    pub clients: u32,
    /// Clients per worker node; only nodes with at least one client are listed.
    pub placement: Vec<u32>,
    /// The access pattern.
    pub pattern: Pattern,
    /// The workload every client runs.
    pub workload: Workload,
    /// Ignored unless `--ignored` (lab matrix or lab runtime).
    pub lab: bool,
    /// The matrix target directory.
    pub target: PathBuf,
}

impl Cell {
    /// Number of worker nodes this cell uses.
    pub fn nodes(&self) -> u32 {
        self.placement.len() as u32
    }

    /// Where client `index` keeps its files: one directory per (runtime, clients, client),
    /// shared by every pattern so files are laid out once and reused.
    pub fn client_dir(&self, index: u32) -> PathBuf {
        self.target
            .join(self.runtime.name.as_str())
            .join(format!("c{}", self.clients))
            .join(format!("client{index}"))
    }

    /// A file-system-safe form of the name (`smoke__runc__c8__read`).
    pub fn slug(&self) -> String {
        self.name.replace('/', "__")
    }
}

/// Spreads `clients` over `nodes` as evenly as possible, earlier nodes first (8 over 2 = [4, 4]).
pub fn spread(clients: u32, nodes: u32) -> Vec<u32> {
    let used = clients.min(nodes).max(1);
    (0..used)
        .map(|i| clients / used + u32::from(i < clients % used))
        .collect()
}

/// A matrix file as read: the parsed matrix, its path and the hash of its bytes.
#[derive(Debug, Clone)]
pub struct MatrixFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The parsed matrix.
    pub matrix: Matrix,
    /// SHA-256 of the file's bytes, hex.
    pub hash: String,
    /// The file's text (copied into every run directory).
    pub text: String,
}

impl MatrixFile {
    /// Reads and validates a matrix file.
    pub fn load(path: impl AsRef<Path>) -> Result<MatrixFile> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Parses and validates matrix text; `path` is used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<MatrixFile> {
        let matrix: Matrix = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            Error::Matrix {
                location: YamlLocation {
                    path: path.to_owned(),
                    line,
                    column,
                },
                message: first_line(&e.to_string()),
            }
        })?;
        matrix.check(path, text)?;
        let hash = format!("{:x}", Sha256::digest(text.as_bytes()));
        Ok(MatrixFile {
            path: path.to_owned(),
            matrix,
            hash,
            text: text.to_owned(),
        })
    }

    /// A matrix built in Rust (e.g. from `#[rstest]` fixtures): rendered to YAML, then read back
    /// with every check a file gets; the path is `<rust:NAME>`.
    pub fn from_matrix(matrix: &Matrix) -> Result<MatrixFile> {
        let text = serde_saphyr::to_string(matrix).map_err(|e| Error::Matrix {
            location: YamlLocation {
                path: PathBuf::from(format!("<rust:{}>", matrix.name)),
                line: 0,
                column: 0,
            },
            message: e.to_string(),
        })?;
        Self::parse(Path::new(&format!("<rust:{}>", matrix.name)), &text)
    }

    /// Every cell, runtime-major: runtime × clients × pattern, in declaration order.
    pub fn cells(&self) -> Vec<Cell> {
        let m = &self.matrix;
        let mut cells = Vec::new();
        for runtime in &m.runtimes {
            for clients in runtime.clients.as_ref().unwrap_or(&m.clients) {
                for pattern in &m.workload.patterns {
                    let clients = clients.get();
                    cells.push(Cell {
                        name: format!("{}/{}/c{clients}/{pattern}", m.name, runtime.name),
                        matrix: m.name.to_string(),
                        runtime: runtime.clone(),
                        clients,
                        placement: spread(clients, m.nodes.get()),
                        pattern: *pattern,
                        workload: m.workload.clone(),
                        lab: m.lab || runtime.lab,
                        target: m.target.path().to_owned(),
                    });
                }
            }
        }
        cells
    }
}

impl Matrix {
    /// Checks that need the whole document; reports the line of the offending key.
    fn check(&self, path: &Path, text: &str) -> Result<()> {
        let fail = |key: &str, message: String| {
            let (line, column) = locate_key(text, key);
            Err(Error::Matrix {
                location: YamlLocation {
                    path: path.to_owned(),
                    line,
                    column,
                },
                message,
            })
        };
        if self.runtimes.is_empty() {
            return fail("runtimes", "expected at least one runtime".into());
        }
        if self.workload.patterns.is_empty() {
            return fail(
                "patterns",
                "expected at least one of read, randread, write, randwrite".into(),
            );
        }
        if self.workload.repetitions == 0 || self.workload.repetitions > 100 {
            return fail("repetitions", "expected repetitions from 1 to 100".into());
        }
        if self.workload.iodepth == 0 || self.workload.iodepth > 4096 {
            return fail("iodepth", "expected iodepth from 1 to 4096".into());
        }
        if self.workload.bs > self.workload.size {
            return fail(
                "bs",
                format!(
                    "block size {} is larger than size {}",
                    self.workload.bs, self.workload.size
                ),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.runtimes {
            if !seen.insert(r.name.as_str()) {
                return fail(
                    "runtimes",
                    format!(
                        "runtime name {:?} appears twice; expected unique names",
                        r.name.as_str()
                    ),
                );
            }
        }
        let lists = std::iter::once(&self.clients)
            .chain(self.runtimes.iter().filter_map(|r| r.clients.as_ref()));
        for list in lists {
            if list.is_empty() || list.windows(2).any(|p| p[0] >= p[1]) {
                return fail(
                    "clients",
                    "expected a non-empty list of client counts in increasing order, e.g. [1, 8, 64]".into(),
                );
            }
        }
        crate::gate::check_gates(self, path, text)
    }
}

/// Line and column of the first `key:` in `text`, for checks that run after parsing.
fn locate_key(text: &str, key: &str) -> (u64, u64) {
    let needle = format!("{key}:");
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        if trimmed.starts_with(&needle) {
            let column = line.len() - trimmed.len() + 1;
            return (i as u64 + 1, column as u64);
        }
    }
    (0, 0)
}

/// serde-saphyr's message without its own `error: line N column M:` prefix (the location is reported separately).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    match line.strip_prefix("error: line ") {
        Some(rest) => rest.split_once(": ").map_or(line, |(_, m)| m).to_owned(),
        None => line.to_owned(),
    }
}

/// The JSON Schema of the matrix format, for editors.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Matrix);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

/// Constructors for matrices written in Rust; each value gets the same checks as in YAML.
impl Matrix {
    /// A matrix of `runtimes` × `clients` × the workload's patterns, over `nodes` worker nodes.
    pub fn new(
        name: &str,
        target: &str,
        runtimes: Vec<Runtime>,
        clients: &[u32],
        nodes: u32,
        workload: Workload,
    ) -> std::result::Result<Matrix, String> {
        Ok(Matrix {
            name: JobName::try_from(name.to_owned())?,
            description: None,
            target: TargetDir::try_from(target.to_owned())?,
            lab: false,
            runtimes,
            clients: clients
                .iter()
                .map(|&c| ClientCount::try_from(c))
                .collect::<std::result::Result<_, _>>()?,
            nodes: NodeCount::try_from(nodes)?,
            workload,
            gates: Vec::new(),
        })
    }
}

impl Runtime {
    /// A runtime of any kind, not lab-only, not optional.
    pub fn new(name: &str, kind: RuntimeKind) -> std::result::Result<Runtime, String> {
        Ok(Runtime {
            name: RuntimeName::try_from(name.to_owned())?,
            kind,
            lab: false,
            optional: false,
            clients: None,
        })
    }

    /// fio servers on this machine, one network namespace per worker node.
    pub fn host(name: &str) -> std::result::Result<Runtime, String> {
        Self::new(name, RuntimeKind::Host(HostRuntime::default()))
    }

    /// fio servers in Docker containers under the OCI runtime `handler` (`runc`, `runsc`, ...).
    pub fn docker(name: &str, handler: &str) -> std::result::Result<Runtime, String> {
        Self::new(
            name,
            RuntimeKind::Docker(DockerRuntime {
                handler: handler.to_owned(),
                image: None,
            }),
        )
    }
}

impl Workload {
    /// The study's workload shape (4 threads, buffered, psync, queue depth 1) with the given
    /// patterns, block size and size per thread, e.g. `Workload::new(&[Pattern::Read], "64k", "32GiB")`.
    pub fn new(
        patterns: &[Pattern],
        bs: &str,
        size: &str,
    ) -> std::result::Result<Workload, String> {
        Ok(Workload {
            patterns: patterns.to_vec(),
            bs: bs.parse()?,
            threads: four(),
            size: size.parse()?,
            direct: false,
            ioengine: IoEngine::default(),
            iodepth: 1,
            runtime: None,
            ramp: None,
            repetitions: 1,
            options: FioOptions::default(),
        })
    }

    /// Makes the run time-based: `runtime` of measurement after `ramp` of warm-up (e.g. "3s", "1s").
    pub fn timed(
        mut self,
        runtime: &str,
        ramp: Option<&str>,
    ) -> std::result::Result<Workload, String> {
        self.runtime = Some(runtime.parse()?);
        self.ramp = ramp.map(str::parse).transpose()?;
        Ok(self)
    }
}
