//! The matrix file: what to measure (runtimes × clients × patterns × workload) and how it expands into cells.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, YamlLocation};
use crate::spec::gate::GateSpec;
use crate::spec::judge::JudgeSpec;
use crate::spec::locate::{locate_key, locate_runtime_key};
use crate::spec::options::{FioOptions, IoEngine, JobName};
use crate::spec::values::{ClientCount, NodeCount, Pattern, RuntimeName, TargetDir, Threads};
use crate::units::{ByteSize, FioDuration};

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
    pub gates: Vec<GateSpec>,
    /// How gates and baselines are decided: threshold, false-alarm rate, blocks, budget.
    #[serde(default)]
    pub judge: JudgeSpec,
}

fn one_node() -> NodeCount {
    NodeCount::try_from(1).expect("1 is a node count")
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
    /// Blocks (repetitions of each cell) measured before gates and baselines are decided; more
    /// are added while a decision is unclear, up to `judge.max_blocks`.
    #[serde(default = "one")]
    pub repetitions: u32,
    /// Further fio options, from an allow-list (see the README).
    #[serde(default, skip_serializing_if = "FioOptions::is_empty")]
    pub options: FioOptions,
}

fn four() -> Threads {
    Threads::try_from(4).expect("4 is a thread count")
}
fn one() -> u32 {
    1
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
    /// fio options for this runtime's cells, over the workload's (this runtime's value wins).
    pub options: FioOptions,
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
    /// fio options for this runtime's cells, from the same allow-list as `workload.options`;
    /// merged over the workload's, this runtime's value winning (e.g. a `thinktime` slowdown).
    #[serde(default, skip_serializing_if = "FioOptions::is_empty")]
    options: FioOptions,
}

impl TryFrom<RuntimeDef> for Runtime {
    type Error = String;
    fn try_from(def: RuntimeDef) -> Result<Self, String> {
        let kind = match (def.host, def.docker, def.kubernetes, def.microvm) {
            (Some(h), None, None, None) => RuntimeKind::Host(h),
            (None, Some(d), None, None) => RuntimeKind::Docker(d),
            (None, None, Some(k), None) => {
                if let (true, Some(class)) = (k.host_network, &k.runtime_class) {
                    return Err(format!(
                        "runtime `{}`: `host_network: true` with `runtime_class: {class}`: a \
                         sandboxed runtime (Kata's VM) has its own network stack and cannot join \
                         the node's; host_network is for the bare-metal reference, without a \
                         RuntimeClass",
                        def.name
                    ));
                }
                RuntimeKind::Kubernetes(k)
            }
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
            options: def.options,
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
            options: r.options,
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
    /// fio image; default: built by the harness from the host's fio. It needs `fio` and a `sh`
    /// with `grep`, `sed` and `uname` (the built one has busybox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// CPUs each server container may use (`docker run --cpus`), e.g. `0.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    /// Memory limit of each server container (`docker run --memory`), at least 6 MiB, e.g. `512MiB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryLimit>,
}

fn default_handler() -> String {
    "runc".to_owned()
}

impl DockerRuntime {
    /// Servers under the OCI runtime `handler`, in the harness's image, without limits.
    pub fn new(handler: &str) -> DockerRuntime {
        DockerRuntime {
            handler: handler.to_owned(),
            image: None,
            cpus: None,
            memory: None,
        }
    }
}

/// A CPU limit as `docker run --cpus` takes it: more than 0, at most 1024, up to two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "CpusInput", into = "f64")]
pub struct Cpus(u32);

#[derive(Deserialize)]
#[serde(untagged)]
enum CpusInput {
    Number(f64),
    Text(String),
}

impl JsonSchema for Cpus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cpus".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "CPUs (docker run --cpus): more than 0, at most 1024, up to two decimals, e.g. 0.5.",
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1024,
            "multipleOf": 0.01
        })
    }
}

impl TryFrom<CpusInput> for Cpus {
    type Error = String;
    fn try_from(input: CpusInput) -> Result<Self, String> {
        let expected = "expected CPUs from 0.01 to 1024 with at most two decimals, e.g. 0.5";
        let x = match input {
            CpusInput::Number(x) => x,
            CpusInput::Text(t) => t
                .trim()
                .parse()
                .map_err(|_| format!("invalid cpus {t:?}: {expected}"))?,
        };
        let hundredths = (x * 100.0).round();
        if !x.is_finite() || (x * 100.0 - hundredths).abs() > 1e-6 {
            return Err(format!("invalid cpus {x}: {expected}"));
        }
        if !(1.0..=102_400.0).contains(&hundredths) {
            return Err(format!("cpus {x} is out of range: {expected}"));
        }
        Ok(Cpus(hundredths as u32))
    }
}

impl From<Cpus> for f64 {
    fn from(c: Cpus) -> f64 {
        c.get()
    }
}

impl Cpus {
    /// The number of CPUs.
    pub fn get(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    /// As Docker's `NanoCpus` (what `--cpus` sets): billionths of a CPU.
    pub fn nano_cpus(self) -> i64 {
        i64::from(self.0) * 10_000_000
    }
}

impl std::fmt::Display for Cpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// A container memory limit (`docker run --memory`): at least 6 MiB, Docker's minimum.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "ByteSize", into = "ByteSize")]
#[schemars(with = "ByteSize")]
pub struct MemoryLimit(ByteSize);

/// Docker's smallest memory limit.
const MIN_CONTAINER_MEMORY: u64 = 6 << 20;

impl TryFrom<ByteSize> for MemoryLimit {
    type Error = String;
    fn try_from(size: ByteSize) -> Result<Self, String> {
        if size.bytes() < MIN_CONTAINER_MEMORY {
            return Err(format!(
                "memory {size} is below Docker's minimum: expected at least 6MiB"
            ));
        }
        Ok(MemoryLimit(size))
    }
}

impl From<MemoryLimit> for ByteSize {
    fn from(m: MemoryLimit) -> ByteSize {
        m.0
    }
}

impl MemoryLimit {
    /// The limit.
    pub fn size(self) -> ByteSize {
        self.0
    }
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
    /// fio image the pods run. It needs `fio` and a `sh` with `gzip`, `base64`, `grep`, `sed`,
    /// `wc` and `uname` (the image `iogate image` builds has busybox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Run the fio servers in the node's network namespace (`hostNetwork`), ports 8765 + slot.
    #[serde(default)]
    pub host_network: bool,
    /// Worker nodes by name; clients spread evenly over them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_names: Vec<String>,
    /// Or: a label selector choosing the worker nodes, e.g. `iogate/worker=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<String>,
    /// The node the fio client Job runs on (`nodeName`; it must have the image). Default: any
    /// node but the cell's workers, so the client never competes with the servers it measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_node: Option<String>,
    /// CPU and memory each fio server pod requests (default `cpu: 100m, memory: 128Mi`); the
    /// kubelet admits a pod only if its node has them free, plus the RuntimeClass's overhead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<PodResources>,
    /// CPU and memory limits of each fio server pod (default none: a memory limit also caps the
    /// page cache buffered I/O runs through). Under Kata they size each pod's VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<PodResources>,
}

/// CPU and memory of a pod, as Kubernetes quantities (`500m`, `2`, `512Mi`, `2Gi`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodResources {
    /// CPU, e.g. `500m` or `2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    /// Memory, e.g. `512Mi` or `2Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
}

/// A Kubernetes resource quantity: a positive decimal number with an optional suffix (`m`, `k`,
/// `M`, `G`, `T`, `Ki`, `Mi`, `Gi`, `Ti`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct Quantity(String);

impl Quantity {
    /// The quantity as Kubernetes writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Quantity {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        const SUFFIXES: [&str; 9] = ["Ki", "Mi", "Gi", "Ti", "m", "k", "M", "G", "T"];
        let number = SUFFIXES
            .iter()
            .find_map(|s| text.strip_suffix(s))
            .unwrap_or(&text);
        let valid = !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit() || c == '.')
            && number.parse::<f64>().is_ok_and(|x| x > 0.0);
        if valid {
            Ok(Quantity(text))
        } else {
            Err(format!(
                "invalid quantity {text:?}: expected a positive number with an optional suffix \
                 (m, k, M, G, T, Ki, Mi, Gi, Ti), e.g. 500m or 2Gi"
            ))
        }
    }
}

impl From<Quantity> for String {
    fn from(q: Quantity) -> String {
        q.0
    }
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
pub(crate) const MAX_9P_MSIZE: u32 = 512_000;

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

impl Matrix {
    /// Checks that need the whole document; reports the line of the offending key.
    pub(crate) fn check(&self, path: &Path, text: &str) -> Result<()> {
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
        if let Some(problem) = self.judge.problem() {
            return fail("max_blocks", problem);
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
        if let Some((key, message)) = self.workload.options.inert() {
            return fail(key, message);
        }
        for r in &self.runtimes {
            if let Some((key, message)) = self.workload.options.overridden_by(&r.options).inert() {
                let (line, column) = locate_runtime_key(text, r.name.as_str(), key);
                return Err(Error::Matrix {
                    location: YamlLocation {
                        path: path.to_owned(),
                        line,
                        column,
                    },
                    message: format!("runtime `{}`: {message}", r.name),
                });
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
        Ok(())
    }
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
    ) -> Result<Matrix> {
        Ok(Matrix {
            name: JobName::try_from(name.to_owned()).map_err(Error::invalid("matrix name"))?,
            description: None,
            target: TargetDir::try_from(target.to_owned()).map_err(Error::invalid("target"))?,
            lab: false,
            runtimes,
            clients: clients
                .iter()
                .map(|&c| ClientCount::try_from(c))
                .collect::<std::result::Result<_, _>>()
                .map_err(Error::invalid("client count"))?,
            nodes: NodeCount::try_from(nodes).map_err(Error::invalid("node count"))?,
            workload,
            gates: Vec::new(),
            judge: JudgeSpec::default(),
        })
    }
}

impl Runtime {
    /// A runtime of any kind, not lab-only, not optional.
    pub fn new(name: &str, kind: RuntimeKind) -> Result<Runtime> {
        Ok(Runtime {
            name: RuntimeName::try_from(name.to_owned()).map_err(Error::invalid("runtime name"))?,
            kind,
            lab: false,
            optional: false,
            clients: None,
            options: FioOptions::default(),
        })
    }

    /// fio servers on this machine, one network namespace per worker node.
    pub fn host(name: &str) -> Result<Runtime> {
        Self::new(name, RuntimeKind::Host(HostRuntime::default()))
    }

    /// fio servers in Docker containers under the OCI runtime `handler` (`runc`, `runsc`, ...).
    pub fn docker(name: &str, handler: &str) -> Result<Runtime> {
        Self::new(name, RuntimeKind::Docker(DockerRuntime::new(handler)))
    }
}

impl Workload {
    /// The study's workload shape (4 threads, buffered, psync, queue depth 1) with the given
    /// patterns, block size and size per thread, e.g. `Workload::new(&[Pattern::Read], "64k", "32GiB")`.
    pub fn new(patterns: &[Pattern], bs: &str, size: &str) -> Result<Workload> {
        Ok(Workload {
            patterns: patterns.to_vec(),
            bs: bs.parse().map_err(Error::invalid("block size"))?,
            threads: four(),
            size: size.parse().map_err(Error::invalid("size"))?,
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
    pub fn timed(mut self, runtime: &str, ramp: Option<&str>) -> Result<Workload> {
        self.runtime = Some(runtime.parse().map_err(Error::invalid("runtime"))?);
        self.ramp = ramp
            .map(str::parse)
            .transpose()
            .map_err(Error::invalid("ramp"))?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_are_hundredths_from_one_to_1024() {
        let cpus = |x: f64| Cpus::try_from(CpusInput::Number(x));
        assert_eq!(cpus(0.01).unwrap().nano_cpus(), 10_000_000);
        assert_eq!(cpus(0.29).unwrap().to_string(), "0.29");
        assert_eq!(cpus(1024.0).unwrap().get(), 1024.0);
        for bad in [0.0, 0.004, 0.015, -0.5, 1024.01, f64::NAN, f64::INFINITY] {
            assert!(cpus(bad).is_err(), "{bad}");
        }
        assert!(Cpus::try_from(CpusInput::Text("1.5".into())).is_ok());
        assert!(Cpus::try_from(CpusInput::Text("1,5".into())).is_err());
    }

    #[test]
    fn memory_limits_start_at_docker_minimum() {
        let limit = |bytes: u64| MemoryLimit::try_from(ByteSize::new(bytes).unwrap());
        assert_eq!(limit(6 << 20).unwrap().size().bytes(), 6 << 20);
        assert!(limit((6 << 20) - 1).is_err());
        assert!(limit(4096).is_err());
    }
}
