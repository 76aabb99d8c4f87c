//! A relay between `fio --client` and each `fio --server` that holds the client's opening
//! commands until its RUN, then connects to the server and hands them over in one write.
//!
//! Why: a fio server's connection loop (fio 3.33 and fio master, `server.c`
//! `handle_connection`) checks its socket without waiting and, finding nothing, sleeps up to 1 s
//! on a semaphore that only its own outgoing messages post. Unless told its clock source
//! ([`CLIENT_OPTIONS`](crate::fio::client::CLIENT_OPTIONS)), the client sends its job at once but
//! RUN about 0.13 s later; the server has parsed the job in 2 ms and is asleep when RUN arrives,
//! so every `fio --client` invocation lost about 1 s (seen with `strace -tt` on both ends). Even
//! 1 ms apart, a server under load may look in between. With the commands already waiting when
//! the server's connection process first looks ([`hand_over`]), it never sleeps before the run.
//!
//! The relay changes no byte in either direction; after RUN it only copies. It holds at most
//! [`HOLD_LIMIT`]: a client that waited for a reply before sending RUN would get its commands
//! through after that (and the server's old sleep), never a hang.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fio::addr::ServerAddr;

/// Longest the relay holds a client's commands waiting for its RUN.
pub(crate) const HOLD_LIMIT: Duration = Duration::from_secs(2);

/// Size of fio's `struct fio_net_cmd` header (`server.h`): version u16, opcode u16, flags u32,
/// tag u64, pdu_len u32, cmd_crc16 u16, pdu_crc16 u16, all little-endian.
const HEADER: usize = 24;
/// `FIO_NET_CMD_RUN` (`server.h`).
const OPCODE_RUN: u16 = 16;
/// `FIO_NET_CMD_TS` (`server.h`): a job's results, sent by the server when the job has ended.
const OPCODE_TS: u16 = 6;
/// A payload longer than this means the bytes are not fio's framing: stop holding.
const MAX_PDU: usize = 64 << 20;

/// Where the scan of a client's opening bytes stands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// No complete RUN command yet: keep holding.
    Hold,
    /// The bytes up to here end with a RUN command.
    Run,
    /// Not fio's framing (or an absurd length): hand over what there is and copy from now on.
    Foreign,
}

/// Scans complete commands in `bytes` for a RUN.
pub(crate) fn scan(bytes: &[u8]) -> Scan {
    let mut at = 0;
    while bytes.len() - at >= HEADER {
        let opcode = u16::from_le_bytes([bytes[at + 2], bytes[at + 3]]);
        let pdu = u32::from_le_bytes([
            bytes[at + 16],
            bytes[at + 17],
            bytes[at + 18],
            bytes[at + 19],
        ]) as usize;
        if pdu > MAX_PDU {
            return Scan::Foreign;
        }
        if bytes.len() - at < HEADER + pdu {
            return Scan::Hold;
        }
        at += HEADER + pdu;
        if opcode == OPCODE_RUN {
            return Scan::Run;
        }
    }
    Scan::Hold
}

/// Follows fio's framing in a byte stream read in arbitrary chunks, to see which commands pass.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    header: Vec<u8>,
    /// Payload bytes of the current command still to pass.
    skip: usize,
    /// Not fio's framing: stop looking.
    lost: bool,
}

impl Frames {
    /// Takes the next chunk of the stream; returns whether a complete header with `opcode`
    /// passed in it.
    pub(crate) fn saw(&mut self, mut chunk: &[u8], opcode: u16) -> bool {
        let mut seen = false;
        while !chunk.is_empty() && !self.lost {
            if self.skip > 0 {
                let n = self.skip.min(chunk.len());
                self.skip -= n;
                chunk = &chunk[n..];
                continue;
            }
            let n = (HEADER - self.header.len()).min(chunk.len());
            self.header.extend_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
            if self.header.len() == HEADER {
                let h = &self.header;
                let pdu = u32::from_le_bytes([h[16], h[17], h[18], h[19]]) as usize;
                seen |= u16::from_le_bytes([h[2], h[3]]) == opcode;
                self.lost = pdu > MAX_PDU;
                self.skip = pdu;
                self.header.clear();
            }
        }
        seen
    }
}

/// A byte stream to or from fio.
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn connect(addr: &ServerAddr) -> std::io::Result<Stream> {
        match addr {
            ServerAddr::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
            ServerAddr::Ip { host, port } => {
                let tcp = TcpStream::connect((host.as_str(), *port))?;
                tcp.set_nodelay(true)?;
                Ok(Stream::Tcp(tcp))
            }
        }
    }

    fn try_clone(&self) -> std::io::Result<Stream> {
        match self {
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
        }
    }

    fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tcp(s) => s.shutdown(how),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the relays share with their owner: a stop flag, every open stream (shut down on drop,
/// which ends any copy still blocked), and what went wrong.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    open: Mutex<Vec<Stream>>,
    errors: Mutex<Vec<String>>,
    /// When each relay's server sent its first job results, by relay.
    ended: Mutex<Vec<Option<Instant>>>,
    /// Why a hand-over ran at normal priority, if one did.
    unpromoted: Mutex<Option<String>>,
}

impl Shared {
    fn keep(&self, stream: &Stream) {
        if let Ok(clone) = stream.try_clone() {
            self.open
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(clone);
        }
    }

    fn note_unpromoted(&self, why: String) {
        let mut unpromoted = self.unpromoted.lock().unwrap_or_else(|e| e.into_inner());
        unpromoted.get_or_insert(why);
    }

    fn error(&self, message: String) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }
}

/// One relay per server, each on a Unix socket in a private directory. Dropping it stops every
/// relay and closes their connections.
pub(crate) struct Relays {
    dir: tempfile::TempDir,
    addrs: Vec<ServerAddr>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Relays {
    /// Starts a relay for each of `servers`, in order.
    pub(crate) fn start(servers: &[ServerAddr]) -> Result<Relays> {
        let dir = tempfile::Builder::new()
            .prefix("iogate-relay-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let shared = Arc::new(Shared {
            ended: Mutex::new(vec![None; servers.len()]),
            ..Shared::default()
        });
        let mut relays = Relays {
            addrs: Vec::with_capacity(servers.len()),
            threads: Vec::with_capacity(servers.len()),
            dir,
            shared,
        };
        for (k, server) in servers.iter().enumerate() {
            let path = relays.dir.path().join(format!("c{k}.sock"));
            let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
            let (server, shared) = (server.clone(), Arc::clone(&relays.shared));
            relays.threads.push(std::thread::spawn(move || {
                relay_one(k, &listener, &server, &shared);
            }));
            relays.addrs.push(ServerAddr::Unix(path));
        }
        Ok(relays)
    }

    /// Where `fio --client` connects for each server, in order.
    pub(crate) fn addrs(&self) -> &[ServerAddr] {
        &self.addrs
    }

    /// One line per relay, `relay → server`, for the client log.
    pub(crate) fn describe(&self, servers: &[ServerAddr]) -> String {
        self.addrs
            .iter()
            .zip(servers)
            .map(|(relay, server)| {
                format!(
                    "iogate: {} relays to {} (holds the opening commands until RUN)\n",
                    relay.fio_arg(),
                    server.fio_arg()
                )
            })
            .collect()
    }

    /// How far apart the servers sent their first job results: each server's jobs end a fixed
    /// time (ramp + runtime) after they start, so this is how far apart the clients started
    /// measuring. `None` unless every server sent results.
    pub(crate) fn ends_apart(&self) -> Option<Duration> {
        let ended = self.shared.ended.lock().unwrap_or_else(|e| e.into_inner());
        let ends: Option<Vec<Instant>> = ended.iter().copied().collect();
        let ends = ends?;
        Some(ends.iter().max()?.duration_since(*ends.iter().min()?))
    }

    /// Why a relay handed its commands over at normal priority, if one did (see [`hand_over`]).
    pub(crate) fn unpromoted(&self) -> Option<String> {
        self.shared
            .unpromoted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What went wrong in any relay, one sentence each.
    pub(crate) fn errors(&self) -> Vec<String> {
        self.shared
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Relays {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for stream in self
            .shared
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            stream.shutdown(Shutdown::Both);
        }
        // A relay still waiting in accept is woken by a connection of our own.
        for addr in &self.addrs {
            if let ServerAddr::Unix(path) = addr {
                let _ = UnixStream::connect(path);
            }
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Serves one client connection: hold until RUN, connect, hand over, then copy both ways, noting
/// when the server's first job results pass (relay `k`).
fn relay_one(k: usize, listener: &UnixListener, server: &ServerAddr, shared: &Arc<Shared>) {
    let Ok((client, _)) = listener.accept() else {
        return;
    };
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let mut client = Stream::Unix(client);
    shared.keep(&client);
    let held = match hold_until_run(&mut client, shared) {
        Ok(held) => held,
        Err(e) => {
            shared.error(format!(
                "relay to {}: reading the client: {e}",
                server.fio_arg()
            ));
            return;
        }
    };
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let mut upstream = match hand_over(server, &held, shared) {
        Ok(upstream) => upstream,
        Err(message) => {
            shared.error(message);
            client.shutdown(Shutdown::Both);
            return;
        }
    };
    shared.keep(&upstream);
    let (Ok(mut down_from), Ok(mut down_to)) = (upstream.try_clone(), client.try_clone()) else {
        shared.error(format!(
            "relay to {}: could not clone a socket",
            server.fio_arg()
        ));
        return;
    };
    let noted = Arc::clone(shared);
    let down = std::thread::spawn(move || {
        let mut frames = Frames::default();
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            let n = match down_from.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            if frames.saw(&chunk[..n], OPCODE_TS) {
                let mut ended = noted.ended.lock().unwrap_or_else(|e| e.into_inner());
                ended[k].get_or_insert_with(Instant::now);
            }
            if down_to.write_all(&chunk[..n]).is_err() {
                break;
            }
        }
        down_to.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut client, &mut upstream);
    upstream.shutdown(Shutdown::Write);
    let _ = down.join();
}

/// Connects to `server` and writes `held` in one go, from a short-lived thread raised to
/// real-time priority when this process may (root or `CAP_SYS_NICE`).
///
/// Why: the connection wakes the server, which accepts and forks a connection process; if that
/// process looks at its socket before the commands are in it, it sleeps 1 s (see the module
/// docs). A normal thread is often preempted right after `connect` by the server it has just
/// woken, and under load a server then started its run 1 s after the others: in 28 of 88 runC
/// c8 cells of 22 `cell_overhead` runs, and in 0 of 64 cells of 16 runs with this thread. A
/// real-time thread is not preempted by the server, and its write takes microseconds against the
/// milliseconds of the server's fork. The thread ends with the write, so its priority goes with it.
/// When the priority cannot be raised, it notes why in `shared`, before it connects.
fn hand_over(
    server: &ServerAddr,
    held: &[u8],
    shared: &Shared,
) -> std::result::Result<Stream, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                if let Err(why) = raise_to_realtime() {
                    shared.note_unpromoted(why);
                }
                let mut upstream = Stream::connect(server)
                    .map_err(|e| format!("relay could not connect to {}: {e}", server.fio_arg()))?;
                upstream
                    .write_all(held)
                    .map_err(|e| format!("relay to {}: sending the job: {e}", server.fio_arg()))?;
                Ok(upstream)
            })
            .join()
            .unwrap_or_else(|_| Err("the relay's hand-over thread panicked".to_owned()))
    })
}

/// Puts the calling thread under `SCHED_FIFO` at the lowest real-time priority.
fn raise_to_realtime() -> std::result::Result<(), String> {
    use thread_priority::unix::{
        RealtimeThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        thread_priority::ThreadPriority::Min,
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .map_err(|e| match e {
        thread_priority::Error::OS(code) => std::io::Error::from_raw_os_error(code).to_string(),
        other => format!("{other:?}"),
    })
}

/// Reads the client's bytes until they hold a complete RUN command, the client stops sending, or
/// [`HOLD_LIMIT`] passes; returns them.
fn hold_until_run(client: &mut Stream, shared: &Shared) -> std::io::Result<Vec<u8>> {
    let Stream::Unix(socket) = client else {
        unreachable!("clients connect over the relay's Unix socket")
    };
    let deadline = Instant::now() + HOLD_LIMIT;
    let mut held = Vec::new();
    let mut chunk = [0u8; 64 << 10];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || shared.stop.load(Ordering::SeqCst) {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        match socket.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                held.extend_from_slice(&chunk[..n]);
                if scan(&held) != Scan::Hold {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    socket.set_read_timeout(None)?;
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(opcode: u16, pdu: &[u8]) -> Vec<u8> {
        let mut c = vec![0u8; HEADER];
        c[0..2].copy_from_slice(&97u16.to_le_bytes());
        c[2..4].copy_from_slice(&opcode.to_le_bytes());
        c[16..20].copy_from_slice(&(pdu.len() as u32).to_le_bytes());
        c.extend_from_slice(pdu);
        c
    }

    #[test]
    fn scan_holds_until_a_complete_run() {
        let probe = command(10, &[1; 136]);
        let job = command(3, &[7; 1024]);
        let run = command(OPCODE_RUN, &[]);
        let mut bytes = [probe, job].concat();
        assert_eq!(scan(&bytes), Scan::Hold);
        bytes.extend_from_slice(&run[..10]);
        assert_eq!(scan(&bytes), Scan::Hold, "a partial RUN header");
        bytes.extend_from_slice(&run[10..]);
        assert_eq!(scan(&bytes), Scan::Run);
    }

    #[test]
    fn frames_see_a_command_split_anywhere_and_skip_payloads() {
        let mut text = vec![0u8; 40];
        text[2..4].copy_from_slice(&OPCODE_TS.to_le_bytes()); // payload bytes, not a header
        let stream = [
            command(5, &text),
            command(9, &[1; 300]),
            command(OPCODE_TS, &[2; 5000]),
            command(12, &[]),
        ]
        .concat();
        let ts_header_ends = command(5, &text).len() + command(9, &[1; 300]).len() + HEADER;
        for cut in [1, 7, 24, 100, ts_header_ends - 1, ts_header_ends] {
            let mut frames = Frames::default();
            let (a, b) = stream.split_at(cut.min(stream.len()));
            let seen = (frames.saw(a, OPCODE_TS), frames.saw(b, OPCODE_TS));
            assert_eq!(
                seen,
                (cut >= ts_header_ends, cut < ts_header_ends),
                "cut at {cut}"
            );
        }
        let mut frames = Frames::default();
        assert!(
            stream
                .chunks(3)
                .filter(|c| frames.saw(c, OPCODE_TS))
                .count()
                == 1,
            "one TS, however small the chunks"
        );
    }

    #[test]
    fn scan_does_not_take_a_payload_byte_for_a_run() {
        // A job whose payload holds RUN's opcode where a header would have it.
        let mut pdu = vec![0u8; 64];
        pdu[2..4].copy_from_slice(&OPCODE_RUN.to_le_bytes());
        let job = command(3, &pdu);
        assert_eq!(scan(&job[..HEADER + 30]), Scan::Hold);
        assert_eq!(scan(&job), Scan::Hold);
    }

    /// A stand-in fio server on a Unix socket and a relay in front of it.
    fn upstream_and_relay() -> (tempfile::TempDir, UnixListener, Relays) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("server.sock");
        let upstream = UnixListener::bind(&path).expect("bind the stand-in server");
        let relays = Relays::start(&[ServerAddr::Unix(path)]).expect("start a relay");
        (dir, upstream, relays)
    }

    fn connect(relays: &Relays) -> UnixStream {
        let ServerAddr::Unix(path) = &relays.addrs()[0] else {
            unreachable!("relays listen on Unix sockets")
        };
        UnixStream::connect(path).expect("connect to the relay")
    }

    fn read_exactly(stream: &mut UnixStream, len: usize) -> Vec<u8> {
        stream
            .set_read_timeout(Some(HOLD_LIMIT + Duration::from_secs(5)))
            .expect("a read timeout");
        let mut got = vec![0u8; len];
        stream.read_exact(&mut got).expect("the relayed bytes");
        got
    }

    #[test]
    fn relay_hands_over_the_commands_unchanged_once_run_arrives_and_copies_replies_back() {
        let (_dir, upstream, relays) = upstream_and_relay();
        let mut client = connect(&relays);
        let opening = [command(10, &[1; 136]), command(3, &[7; 4096])].concat();
        client
            .write_all(&opening)
            .expect("send the opening commands");
        let run = command(OPCODE_RUN, &[]);
        client.write_all(&run).expect("send RUN");
        let (mut server, _) = upstream.accept().expect("the relay connects after RUN");
        let sent = [opening, run].concat();
        assert_eq!(read_exactly(&mut server, sent.len()), sent);
        server.write_all(b"results").expect("reply");
        assert_eq!(read_exactly(&mut client, 7), b"results");
        assert!(relays.errors().is_empty(), "{:?}", relays.errors());
    }

    #[test]
    fn relay_hands_over_at_real_time_priority_when_the_process_may_and_says_so_when_not() {
        let may = std::thread::spawn(raise_to_realtime)
            .join()
            .expect("probe thread");
        let (_dir, upstream, relays) = upstream_and_relay();
        let mut client = connect(&relays);
        client
            .write_all(&command(OPCODE_RUN, &[]))
            .expect("send RUN");
        let (mut server, _) = upstream.accept().expect("the relay connects after RUN");
        read_exactly(&mut server, HEADER);
        assert_eq!(relays.unpromoted().is_none(), may.is_ok(), "{may:?}");
        assert!(relays.errors().is_empty(), "{:?}", relays.errors());
    }

    #[test]
    fn relay_hands_over_without_run_after_its_hold_limit() {
        let (_dir, upstream, relays) = upstream_and_relay();
        let mut client = connect(&relays);
        let probe = command(10, &[1; 136]);
        client
            .write_all(&probe)
            .expect("send a probe and wait for its reply");
        let (mut server, _) = upstream.accept().expect("the relay gives up holding");
        assert_eq!(read_exactly(&mut server, probe.len()), probe);
    }

    #[test]
    fn relay_reports_a_server_that_is_gone() {
        let (_dir, upstream, relays) = upstream_and_relay();
        drop(upstream);
        let mut client = connect(&relays);
        client
            .write_all(&command(OPCODE_RUN, &[]))
            .expect("send RUN");
        let mut rest = Vec::new();
        client
            .set_read_timeout(Some(HOLD_LIMIT + Duration::from_secs(5)))
            .expect("a read timeout");
        let _ = client.read_to_end(&mut rest);
        assert!(
            rest.is_empty(),
            "nothing comes back from a server that is gone"
        );
        let errors = relays.errors();
        assert!(
            errors.iter().any(|e| e.contains("could not connect")),
            "{errors:?}"
        );
    }

    #[test]
    fn scan_gives_up_on_foreign_bytes() {
        let mut junk = vec![0u8; HEADER];
        junk[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(scan(&junk), Scan::Foreign);
    }
}
