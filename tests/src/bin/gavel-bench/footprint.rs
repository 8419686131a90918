//! Footprint beyond memory: how long the server takes to start serving with
//! a database of many past meetings, and the size of the web bundle a
//! tablet downloads.

use crate::common::*;
use gavel_shared::protocol::Command;
use gavel_tests::*;
use serde_json::json;
use std::io::Write;
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

fn gzip_len(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes)?;
    Ok(e.finish()?.len())
}

/// The web bundle as the room serves it: index, script, wasm, styles.
pub async fn bundle(room: &Room) -> anyhow::Result<Vec<Row>> {
    let client = reqwest::Client::new();
    let index = client.get(format!("{}/", room.base())).send().await?.text().await?;
    let mut assets = vec![];
    for attr in ["href=\"/", "src=\"/"] {
        for piece in index.split(attr).skip(1) {
            if let Some(path) = piece.split('"').next()
                && [".wasm", ".js", ".css"].iter().any(|e| path.ends_with(e))
                && !assets.contains(&path.to_string())
            {
                assets.push(path.to_string());
            }
        }
    }
    anyhow::ensure!(assets.iter().any(|a| a.ends_with(".wasm")), "no wasm in the index: {index}");
    let (mut raw, mut gz) = (index.len(), gzip_len(index.as_bytes())?);
    let mut parts = vec![];
    for a in &assets {
        let bytes = client.get(format!("{}/{a}", room.base())).send().await?.bytes().await?;
        let g = gzip_len(&bytes)?;
        raw += bytes.len();
        gz += g;
        let kind = a.rsplit('.').next().unwrap_or("");
        parts.push(format!("{kind} {:.0}/{:.0} KB", bytes.len() as f64 / 1e3, g as f64 / 1e3));
    }
    Ok(vec![Row::new(
        "web bundle a tablet downloads once (raw / gzip)",
        format!("{:.0} KB / {:.0} KB", raw as f64 / 1e3, gz as f64 / 1e3),
        parts.join(", "),
        "—",
    )])
}
