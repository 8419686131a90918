//! Restricted PDFs are read in a process of their own.
//!
//! A restricted document is stamped with each reader's name
//! ([`crate::watermark`]), which means parsing the uploaded PDF: its page
//! tree, its object streams, its page contents, decompressed. The parser
//! (hayro, through krilla) bounds none of that. A page tree that contains
//! itself recurses until the stack overflows, and a stack overflow aborts
//! the whole process, not one request; a content stream of a few megabytes
//! can inflate to gigabytes. In the room server, one such upload (a file
//! mailed in from outside, put up by the secretary in good faith) would end
//! the meeting for everyone.
//!
//! So the parsing runs in a child: the server's own binary, started as
//! `gavel-server pdf-worker`, with no runtime, no network and no
//! environment. It caps its own memory, CPU time and file writes, and never
//! dumps core (a core would hold secret pages), before it reads a byte; the
//! server kills it past a wall-clock limit and reads at most a bounded
//! answer. A PDF that breaks a limit is refused with the limit it broke, and
//! the room goes on. At most one worker per core runs at once.
//!
//! The protocol: the PDF's path as an argument, and the stamp line for a
//! copy; on success exit 0 and stdout is [`MAGIC`] then the stamped PDF (for
//! a check, [`MAGIC`] then the copy's size in decimal, which the server
//! holds to the same limit as a copy's). A PDF that cannot be stamped exits
//! [`REFUSED`] with the reason on stderr. Anything else (a signal, an
//! abort) is a limit broken or the parser failing, read from the status
//! and stderr.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The hidden subcommand that runs a worker.
pub const SUBCOMMAND: &str = "pdf-worker";
/// What a worker's answer starts with: a program that is not the worker
/// (a test binary started by mistake, an old build) cannot pass for one.
pub const MAGIC: &[u8] = b"GAVEL-PDF-WORKER 1\n";
/// A worker's exit code for "this PDF cannot be stamped" (reason on stderr).
pub const REFUSED: i32 = 3;
/// The most pages a restricted document may have.
pub const MAX_PAGES: usize = 10_000;

/// What one job may use: scaled to the PDF's size, so a large honest
/// document has room and a small bomb has little.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space, in bytes.
    pub memory: u64,
    /// CPU seconds.
    pub cpu_seconds: u64,
    /// The stamped copy's size, in bytes.
    pub output: u64,
}

impl Limits {
    /// For a PDF of `size` bytes: 512 MiB and 8× its size of memory, a
    /// minute and a second per MB of CPU, and a copy at most 4× its size
    /// and 16 MiB (the copy embeds the reader's font and recompresses the
    /// pages' contents).
    pub fn for_size(size: u64) -> Limits {
        Limits { memory: (512 << 20) + 8 * size, cpu_seconds: 60 + size / 1_000_000, output: (16 << 20) + 4 * size }
    }

    /// How long the server waits for a worker before killing it: its CPU
    /// time twice over (a worker waiting for a core is not idle), plus ten
    /// seconds.
    pub fn wall(&self) -> Duration {
        Duration::from_secs(2 * self.cpu_seconds + 10)
    }
}

/// Starts workers and reads their answers.
pub struct PdfWorker {
    program: PathBuf,
    slots: tokio::sync::Semaphore,
}

impl PdfWorker {
    /// Workers run as `program pdf-worker …`: the server's own binary.
    pub fn new(program: PathBuf) -> PdfWorker {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        PdfWorker { program, slots: tokio::sync::Semaphore::new(cores) }
    }

    /// Checks that the PDF at `pdf` can be stamped, by stamping it within
    /// the limits (at upload, and when a public document is made
    /// restricted): what would fail for its readers fails now.
    pub async fn check(&self, pdf: &Path) -> Result<()> {
        self.run(pdf, None).await.map(drop)
    }

    /// The PDF at `pdf` with `line` on every page.
    pub async fn stamp(&self, pdf: &Path, line: &str) -> Result<Vec<u8>> {
        self.run(pdf, Some(line)).await
    }

    async fn run(&self, pdf: &Path, line: Option<&str>) -> Result<Vec<u8>> {
        let size = match tokio::fs::metadata(pdf).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::error!(path = %pdf.display(), "a document's file is missing from the room's disk");
                return Err(Error::FileMissing);
            }
            Err(e) => return Err(e.into()),
        };
        let limits = Limits::for_size(size);
        let _slot = self.slots.acquire().await.map_err(|e| Error::Internal(e.into()))?;
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.arg(SUBCOMMAND).arg(pdf);
        cmd.arg(limits.memory.to_string()).arg(limits.cpu_seconds.to_string());
        // The line (a reader's name) goes in on stdin: any account on the
        // machine may read a process's arguments.
        if line.is_some() {
            cmd.arg(LINE_ON_STDIN);
        }
        cmd.env_clear();
        #[cfg(windows)]
        if let Some(root) = std::env::var_os("SYSTEMROOT") {
            cmd.env("SYSTEMROOT", root);
        }
        cmd.stdin(if line.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child =
            cmd.spawn().map_err(|e| Error::Internal(anyhow::anyhow!("cannot start the PDF worker {}: {e}", self.program.display())))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(Error::Internal(anyhow::anyhow!("the PDF worker's output was not piped")));
        };
        if let (Some(line), Some(mut stdin)) = (line, child.stdin.take()) {
            // A line is far smaller than a pipe's buffer: written at once.
            use tokio::io::AsyncWriteExt;
            // A worker gone before it read it (it could not start, or is
            // not ours) is told by its exit and its answer, below.
            if let Err(e) = stdin.write_all(line.as_bytes()).await
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(Error::Internal(anyhow::anyhow!("giving the PDF worker its line: {e}")));
            }
        }
        let most = MAGIC.len() as u64 + limits.output;
        // Its messages, read on their own (the first 16 KiB kept, the rest
        // drained), so that a worker writing many never blocks on them.
        let messages = tokio::spawn(async move {
            let mut stderr = stderr;
            let mut kept = Vec::new();
            (&mut stderr).take(16 * 1024).read_to_end(&mut kept).await?;
            tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await?;
            Ok::<_, std::io::Error>(kept)
        });
        let answer = async {
            let mut out = Vec::new();
            stdout.take(most + 1).read_to_end(&mut out).await?;
            // Past the cap the worker is killed at once, not waited for.
            if out.len() as u64 <= most {
                return Ok::<_, std::io::Error>((out, Some(child.wait().await?)));
            }
            Ok((out, None))
        };
        let outcome = tokio::time::timeout(limits.wall(), answer).await;
        let (out, status) = match outcome {
            Err(_) => {
                let _ = child.kill().await;
                return Err(refused(format!("reading it took longer than {} s", limits.wall().as_secs())));
            }
            Ok(read) => read.map_err(|e| Error::Internal(anyhow::anyhow!("reading the PDF worker's answer: {e}")))?,
        };
        let Some(status) = status else {
            let _ = child.kill().await;
            return Err(too_large(&limits));
        };
        // The worker has ended, so its stderr has too.
        let err = match tokio::time::timeout(Duration::from_secs(5), messages).await {
            Ok(Ok(Ok(kept))) => kept,
            _ => vec![],
        };
        let err = String::from_utf8_lossy(&err);
        if status.success() {
            let Some(answer) = out.strip_prefix(MAGIC) else {
                return Err(Error::Internal(anyhow::anyhow!(
                    "{} did not answer as Gavel's PDF worker: is it the gavel-server binary?",
                    self.program.display()
                )));
            };
            if line.is_some() {
                return Ok(answer.to_vec());
            }
            // A check answers with the size the copy had.
            let size = std::str::from_utf8(answer).ok().and_then(|n| n.trim().parse::<u64>().ok());
            return match size {
                Some(size) if size > limits.output => Err(too_large(&limits)),
                Some(_) => Ok(vec![]),
                None => Err(Error::Internal(anyhow::anyhow!("the PDF worker's check gave no size"))),
            };
        }
        if status.code() == Some(REFUSED) {
            return Err(refused(err.trim().to_string()));
        }
        Err(refused(broken_why(status, &err, &limits)))
    }
}

/// Why a worker that ended on its own without answering did so, in words.
fn broken_why(status: std::process::ExitStatus, err: &str, limits: &Limits) -> String {
    if err.contains("overflowed its stack") {
        return "its structure is nested too deeply, or loops back on itself".into();
    }
    if err.contains("memory allocation") {
        return format!("reading it needed more than {} of memory", megabytes(limits.memory));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if status.signal() == Some(libc::SIGXCPU) || status.signal() == Some(libc::SIGKILL) {
            return format!("reading it took more than {} s of the processor's time", limits.cpu_seconds);
        }
    }
    tracing::warn!(%status, stderr = %err.chars().take(2000).collect::<String>(), "the PDF worker failed");
    format!("the PDF reader failed on it ({status})")
}

fn too_large(limits: &Limits) -> Error {
    refused(format!("its stamped copy would be larger than {}", megabytes(limits.output)))
}

fn refused(why: String) -> Error {
    Error::Unstampable(why)
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", bytes.div_ceil(1_000_000))
}

/// The worker's last argument when it is to stamp: the line comes on stdin.
const LINE_ON_STDIN: &str = "-";

/// The longest line the worker reads from stdin.
const MAX_LINE: u64 = 4096;

/// The worker itself: `gavel-server pdf-worker PDF MEMORY CPU_SECONDS [-]`,
/// with `-` the line to stamp on stdin (none: a check). Returns the process's exit code. It runs before the server's
/// runtime or logging start, and sets its limits before reading the PDF.
pub fn main(args: impl Iterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.collect();
    let number = |i: usize| args.get(i).and_then(|a| a.to_str()).and_then(|a| a.parse::<u64>().ok());
    let (Some(pdf), Some(memory), Some(cpu)) = (args.first(), number(1), number(2)) else {
        eprintln!("usage: gavel-server {SUBCOMMAND} PDF MEMORY_BYTES CPU_SECONDS [-] (the line to stamp on stdin)");
        return 2;
    };
    let line = match args.get(3) {
        None => None,
        Some(a) if a == LINE_ON_STDIN => {
            use std::io::Read;
            let mut line = String::new();
            if let Err(e) = std::io::stdin().lock().take(MAX_LINE).read_to_string(&mut line) {
                eprintln!("cannot read the line to stamp: {e}");
                return 2;
            }
            Some(line)
        }
        Some(_) => {
            eprintln!("the line to stamp comes on stdin, after the argument {LINE_ON_STDIN}");
            return 2;
        }
    };
    if let Err(e) = confine(memory, cpu) {
        eprintln!("cannot set the PDF worker's limits: {e}");
        return 2;
    }
    let original = match std::fs::read(pdf) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {}: {e}", Path::new(pdf).display());
            return 2;
        }
    };
    // Quiet: a parser's panic is a reason sent back, not a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    // A check stamps with a line as long as a real one, and keeps nothing.
    let stamped = job(&original, line.as_deref().unwrap_or("Bản của Nguyễn Văn Kiểm Tra · 00:00 01/01/2000 · không sao chép"));
    match stamped {
        Ok(copy) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A check keeps nothing and says how large the copy was.
            let size = copy.len().to_string();
            let body: &[u8] = if line.is_some() { &copy } else { size.as_bytes() };
            match out.write_all(MAGIC).and_then(|()| out.write_all(body)).and_then(|()| out.flush()) {
                Ok(()) => 0,
                Err(_) => 2,
            }
        }
        Err(e) => {
            eprintln!("{e:#}");
            REFUSED
        }
    }
}

/// What a worker does with a PDF: its stamped copy, or why there is none.
/// The parser panics on some damaged PDFs (an `unwrap` inside hayro, found
/// by the property test below): that is a refusal with a reason like any
/// other, not a crash.
pub fn job(original: &[u8], line: &str) -> anyhow::Result<Vec<u8>> {
    let stamped = std::panic::catch_unwind(|| crate::watermark::stamp(original, line, MAX_PAGES));
    match stamped {
        Ok(stamped) => stamped,
        Err(panic) => {
            let why = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            anyhow::bail!("the PDF reader failed on it ({})", why.unwrap_or_else(|| "no reason given".into()))
        }
    }
}

/// The worker's own limits: memory and CPU as given, no file written, no
/// core dumped.
#[cfg(unix)]
fn confine(memory: u64, cpu_seconds: u64) -> std::io::Result<()> {
    // (A closure: the resource's type differs between C libraries.)
    let set = |resource, soft: u64, hard: u64| -> std::io::Result<()> {
        let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
        // SAFETY: setrlimit reads the struct it is given and changes only this process's limits.
        match unsafe { libc::setrlimit(resource, &limit) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    };
    set(libc::RLIMIT_AS, memory, memory)?;
    // SIGXCPU at the soft limit, SIGKILL a second later.
    set(libc::RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)?;
    set(libc::RLIMIT_CORE, 0, 0)?;
    set(libc::RLIMIT_FSIZE, 0, 0)?;
    Ok(())
}

/// On Windows the server's wall-clock limit and output cap hold; memory and
/// CPU are not capped.
#[cfg(not(unix))]
fn confine(_memory: u64, _cpu_seconds: u64) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_grow_with_the_pdf_and_the_wait_covers_the_cpu_time() {
        let small = Limits::for_size(1_000);
        let large = Limits::for_size(100_000_000);
        assert!(large.memory > small.memory && large.cpu_seconds > small.cpu_seconds && large.output > small.output);
        assert_eq!(large.cpu_seconds, 160);
        assert!(large.wall() > Duration::from_secs(2 * large.cpu_seconds));
        assert_eq!(megabytes(small.output), "17 MB");
    }
}
