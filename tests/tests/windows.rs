//! The tablet agent built for Windows, run under Wine: it joins a room on
//! loopback over QUIC, keeps the pack, serves the meeting to the tablet's
//! browser and follows it live, reads from its cache while the room is
//! gone, and links up again when the room comes back.
//!
//! Wine is not Windows, but it runs the very `.exe` a Windows tablet gets,
//! through the Win32 calls that binary makes: file handles and their sharing
//! rules, Winsock, the paths. That is how the agent's flush of a read-only
//! handle (refused on Windows with "Access denied") was found.

use gavel_shared::model::Document;
use gavel_shared::protocol::{Change, Command};
use gavel_tests::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

const LONG: Duration = Duration::from_secs(180);

/// Wine 8 lacks `ProcessPrng` (bcryptprimitives.dll), which Rust's standard
/// library takes its random numbers from on Windows 10 and later. This
/// stand-in, put beside the program, answers from `RtlGenRandom`, which
/// Wine has (as Windows does).
const PROCESS_PRNG: &str = r#"
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
"#;

/// A Wine of its own: a fresh prefix, and the agent's `.exe` in a folder
/// beside the stand-in DLL. The prefix's processes stop when it is dropped.
struct Wine {
    wine: PathBuf,
    prefix: tempfile::TempDir,
    program: PathBuf,
    _folder: tempfile::TempDir,
}

impl Wine {
    fn new() -> anyhow::Result<Wine> {
        let wine =
            ["/usr/bin/wine64", "/usr/lib/wine/wine64", "/usr/bin/wine"].iter().map(PathBuf::from).find(|p| p.is_file()).ok_or_else(
                || anyhow::anyhow!("this test runs the Windows agent under Wine: install wine64 (scripts/setup --tests does)"),
            )?;
        let exe = windows_agent_binary()?;
        let folder = tempfile::tempdir()?;
        let program = folder.path().join("gavel-agent.exe");
        std::fs::copy(&exe, &program)?;
        let source = folder.path().join("prng.c");
        std::fs::write(&source, PROCESS_PRNG)?;
        let out = std::process::Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-o"])
            .arg(folder.path().join("bcryptprimitives.dll"))
            .arg(&source)
            .arg("-ladvapi32")
            .output()
            .map_err(|e| anyhow::anyhow!("MinGW's gcc (scripts/setup --tests installs it): {e}"))?;
        anyhow::ensure!(out.status.success(), "the ProcessPrng stand-in did not build: {}", String::from_utf8_lossy(&out.stderr));
        Ok(Wine { wine, prefix: tempfile::tempdir()?, program, _folder: folder })
    }

    /// The agent with `args`, in this prefix. Mono and Gecko are switched
    /// off, so that making the prefix never tries to download them.
    fn agent(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.wine);
        cmd.arg(&self.program)
            .args(args)
            .env("WINEPREFIX", self.prefix.path())
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree=;mshtml=")
            // AGENT_LOG=gavel_agent=debug shows the agent's own log.
            .env("RUST_LOG", std::env::var("AGENT_LOG").unwrap_or_else(|_| "warn".into()))
            .env_remove("GAVEL_PLAIN_UDP")
            .env_remove("DISPLAY")
            .kill_on_drop(true);
        cmd
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        let server = self.wine.with_file_name(if self.wine.ends_with("wine64") { "wineserver64" } else { "wineserver" });
        let server = if server.is_file() { server } else { PathBuf::from("wineserver") };
        let _ = std::process::Command::new(server).arg("-k").env("WINEPREFIX", self.prefix.path()).status();
    }
}

/// A Unix path as the Windows program sees it (Wine's `Z:` drive is `/`).
fn windows_path(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

/// Reads `doc` through the agent's local port (checking it whole), and opens
/// the meeting on its local WebSocket, past the snapshot.
async fn reads_and_follows(
    http: &reqwest::Client,
    (local, key): (std::net::SocketAddr, &str),
    s: &Assembly,
    doc: &Document,
) -> anyhow::Result<Ws> {
    let r = http.get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id)).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(sha256_hex(&r.bytes().await?), doc.sha256);
    let mut ws = Ws::connect(local, Some(key)).await?;
    ws.hello(s.meeting, None).await?;
    while ws.snapshot.is_none() {
        ws.recv().await?;
    }
    Ok(ws)
}

/// Waits until the agent's own status (`/api/agent`) satisfies `done`.
async fn agent_status_until(
    http: &reqwest::Client,
    local: std::net::SocketAddr,
    done: impl Fn(&serde_json::Value) -> bool,
) -> anyhow::Result<()> {
    let wait = async {
        loop {
            let status: serde_json::Value = http.get(format!("http://{local}/api/agent")).send().await?.json().await?;
            if done(&status) {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(LONG, wait).await.map_err(|_| anyhow::anyhow!("the agent's status never came to that"))?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_windows_agent_joins_keeps_the_pack_and_serves_the_meeting_under_wine() -> anyhow::Result<()> {
    let wine = Wine::new()?;
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let addrs = server.addrs();
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Tờ trình số 12.pdf", pack_pdf(12, 128 * 1024, 31, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let join = s.join_args(0, server.quic_addr, &server.fingerprint, &windows_path(cache.path()));
    let join: Vec<&str> = join.iter().map(String::as_str).collect();

    // Fetch once: the pack is kept, sealed, in the cache (the same format on
    // every system: opened here, on Linux, with the PIN).
    let once = [&join[..], &["--once"]].concat();
    let out = tokio::time::timeout(LONG, wine.agent(&once).stdin(Stdio::null()).output()).await??;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Wine's Winsock refuses an option quinn's socket sets (WSAEOPNOTSUPP),
    // as some Windows stacks do: this run goes over the agent's plain UDP
    // socket, the path such tablets take.
    assert!(stderr.contains("the link runs on a plain UDP socket"), "which socket the agent used: {stderr}");
    assert!(stdout.contains("signed-in name=\"Đại biểu 0000\""), "{stdout}");
    assert!(stdout.contains(&format!("pack complete documents=1 bytes={}", doc.size)), "{stdout}\n{stderr}");
    assert_eq!(sha256_hex(&s.kept_document(0, cache.path(), &doc.sha256)?), doc.sha256);

    // Serving: the tablet's browser reads the document from the cache and
    // follows the meeting live, relayed over QUIC.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let listen = format!("127.0.0.1:{port}");
    let serve = [&join[..], &["--listen", &listen]].concat();
    let mut agent = wine.agent(&serve).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
    let mut lines = tokio::io::BufReader::new(agent.stdout.take().expect("stdout")).lines();
    let (_, key) = tokio::time::timeout(LONG, async {
        while let Some(line) = lines.next_line().await? {
            if line.starts_with("serving ") {
                return served_at(&line);
            }
        }
        anyhow::bail!("the agent ended before serving")
    })
    .await??;
    let local: std::net::SocketAddr = listen.parse()?;
    let http = tablet_client(&key);
    let mut ws = reads_and_follows(&http, (local, &key), &s, &doc).await?;
    let add =
        Command::AddItem { title: "Ý kiến đại biểu".into(), presenter: String::new(), summary: String::new(), position: None };
    let a = s.admin.command(s.meeting, "wine-add", &add).await?;
    let seq = a.body["seq"].as_u64().expect("a seq");
    let added = ws.wait_for(|e| matches!(e.change, Change::ItemAdded { .. })).await?;
    assert_eq!(added.seq, seq);

    // The room goes away: the document still reads from the cache, and the
    // last known agenda is still served.
    server.stop().await?;
    agent_status_until(&http, local, |status| status["online"] == false).await?;
    let ws = reads_and_follows(&http, (local, &key), &s, &doc).await?;
    assert_eq!(ws.snapshot.as_ref().map(|st| st.seq), Some(seq), "the last known agenda");

    // It comes back on the same address: the agent links up again by itself
    // (its UDP socket survived the unreachable port) and catches up.
    let _server = TestServer::start_again(data.path(), addrs).await?;
    let add =
        Command::AddItem { title: "Sau khi khởi động lại".into(), presenter: String::new(), summary: String::new(), position: None };
    let a = s.admin.command(s.meeting, "wine-after", &add).await?;
    let after = a.body["seq"].as_u64().expect("a seq");
    agent_status_until(&http, local, |status| status["online"] == true && status["seq"].as_u64() >= Some(after)).await?;
    agent.kill().await?;
    Ok(())
}
