//! Footprint beyond memory: how long the server takes to start serving with
//! a database of many past meetings, and the size of the web bundle a
//! tablet downloads.

use crate::common::*;
use anyhow::Context;
use gavel_shared::protocol::Command;
use gavel_tests::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// Time from starting the binary on `dir` to its start line (it serves then).
async fn start_time(dir: &std::path::Path) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let p = ServerProcess::start(dir, &[]).await?;
    let took = t.elapsed();
    let http = Http::for_base(&format!("http://{}", p.addr));
    anyhow::ensure!(http.get("/health").await?.status == 200, "not serving");
    stop(p).await;
    Ok(took)
}

/// Stops a server process the way an operator does (SIGTERM), and waits.
async fn stop(mut p: ServerProcess) {
    if let Some(pid) = p.child.id() {
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), p.child.wait()).await;
}

pub async fn startup(meetings: usize) -> anyhow::Result<Vec<Row>> {
    let empty = tempfile::tempdir()?;
    start_time(empty.path()).await?; // first start: database, certificate, keys
    let baseline = start_time(empty.path()).await?;

    let full = tempfile::tempdir()?;
    let p = ServerProcess::start(full.path(), &[]).await?;
    let mut admin = Http::for_base(&format!("http://{}", p.addr));
    admin.sign_in_admin().await?;
    for k in 0..meetings {
        let a = admin.post("/api/meetings", &json!({"title": format!("Phiên họp {k}"), "starts_at": "2025-11-23T08:00:00+07:00"})).await?;
        let id = gavel_shared::model::MeetingId(a.body["id"].as_i64().unwrap_or_default());
        let item = Command::AddItem { title: "Nội dung".into(), presenter: String::new(), summary: String::new(), position: None };
        for (n, cmd) in [("i", item), ("o", Command::OpenMeeting), ("c", Command::CloseMeeting)].into_iter().enumerate() {
            admin.command(id, &format!("{k}-{n}-{}", cmd.0), &cmd.1).await?;
        }
    }
    stop(p).await;
    let gavel = start_time(full.path()).await?;
    Ok(vec![Row::new(
        format!("start to serving with {meetings} past meetings in the database"),
        format!("{:.0} ms", ms(gavel)),
        format!("{:.0} ms with an empty database", ms(baseline)),
        ratio(ms(gavel), ms(baseline)),
    )])
}

/// What a browser asking for `coding` is sent for `path`: the bytes, and
/// the coding they are in.
async fn fetch_as(client: &reqwest::Client, url: &str, coding: &str) -> anyhow::Result<(Vec<u8>, Option<String>)> {
    let r = client.get(url).header("accept-encoding", coding).send().await?;
    anyhow::ensure!(r.status() == 200, "{url}: {}", r.status());
    let sent_as = r.headers().get("content-encoding").and_then(|v| v.to_str().ok()).map(String::from);
    Ok((r.bytes().await?.to_vec(), sent_as))
}

/// What a browser over plain HTTP asks for (Chromium, Firefox), and one on
/// HTTPS.
const OVER_HTTP: &str = "gzip, deflate";
const OVER_HTTPS: &str = "gzip, deflate, br, zstd";

/// The web bundle as the room sends it (index, script, wasm, styles) to a
/// browser that takes nothing compressed, one over plain HTTP (gzip) and
/// one over HTTPS (brotli), each checked against the plain bytes; and the
/// room's CPU for `loads` page loads, compressed against plain.
pub async fn bundle(room: &Room, loads: usize) -> anyhow::Result<Vec<Row>> {
    let client = reqwest::Client::new(); // no decoding: bodies arrive as sent
    let index = client.get(format!("{}/", room.base())).send().await?.text().await?;
    let mut paths = vec![String::new()];
    for attr in ["href=\"/", "src=\"/"] {
        for piece in index.split(attr).skip(1) {
            if let Some(path) = piece.split('"').next()
                && [".wasm", ".js", ".css"].iter().any(|e| path.ends_with(e))
                && !paths.contains(&path.to_string())
            {
                paths.push(path.to_string());
            }
        }
    }
    anyhow::ensure!(paths.iter().any(|a| a.ends_with(".wasm")), "no wasm in the index: {index}");
    // The PDF viewer (pdf.js), which the page fetches soon after it starts
    // (client/web/pdf-viewer.js names its folder).
    let pdfjs = index.split("var BASE = \"/").nth(1).and_then(|rest| rest.split('"').next()).context("no pdf.js folder in the index")?;
    paths.extend(["pdf.min.mjs", "pdf.worker.min.mjs"].map(|f| format!("{pdfjs}{f}")));
    let (mut totals, mut parts) = ([0usize; 3], vec![]);
    for path in &paths {
        let url = format!("{}/{path}", room.base());
        let mut sizes = [0usize; 3];
        let (plain, _) = fetch_as(&client, &url, "identity").await?;
        for (n, coding) in ["identity", OVER_HTTP, OVER_HTTPS].into_iter().enumerate() {
            let (bytes, sent_as) = fetch_as(&client, &url, coding).await?;
            anyhow::ensure!(decode_body(&bytes, sent_as.as_deref())? == plain, "{url} as {coding:?} does not decode to the file");
            sizes[n] = bytes.len();
            totals[n] += bytes.len();
        }
        let kind = match path.rsplit('/').next().unwrap_or("") {
            "" => "html",
            "pdf.min.mjs" => "pdf.js",
            "pdf.worker.min.mjs" => "pdf.js worker",
            other => other.rsplit('.').next().unwrap_or(""),
        };
        parts.push(format!("{kind} {:.0}/{:.0}/{:.0} KB", sizes[0] as f64 / 1e3, sizes[1] as f64 / 1e3, sizes[2] as f64 / 1e3));
    }
    // The room's CPU for page loads, each fetching the whole bundle.
    let pid = room.pid();
    let mut cpu = vec![];
    for coding in [OVER_HTTP, OVER_HTTPS, "identity"] {
        let before = thread_cpu_of(pid)?;
        for _ in 0..loads {
            for path in &paths {
                fetch_as(&client, &format!("{}/{path}", room.base()), coding).await?;
            }
        }
        cpu.push(thread_cpu_of(pid)?.saturating_sub(before).as_secs_f64() * 1e3 / loads as f64);
    }
    Ok(vec![
        Row::new(
            "web bundle a tablet downloads once, as the room sends it (plain / gzip over HTTP / brotli over HTTPS)",
            format!("{:.0} KB / {:.0} KB / {:.0} KB", totals[0] as f64 / 1e3, totals[1] as f64 / 1e3, totals[2] as f64 / 1e3),
            parts.join(", "),
            "—",
        ),
        Row::new(
            format!("room CPU per page load of the whole bundle, {loads} loads: gzip / brotli"),
            format!("{:.2} ms / {:.2} ms", cpu[0], cpu[1]),
            format!("{:.2} ms sent plain", cpu[2]),
            format!("gzip {}", ratio(cpu[0], cpu[2])),
        ),
    ])
}
