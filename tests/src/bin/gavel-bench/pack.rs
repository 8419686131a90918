//! Meeting-pack distribution: many clients at once fetch the same PDFs,
//! checking hashes as bytes arrive and keeping nothing. Gavel over QUIC (in
//! chunks, as the tablet agent fetches) and over HTTP, beside nginx over
//! HTTPS (HTTP/1.1 and HTTP/2) with the same client library, and a plain
//! loopback TCP copy as this machine's ceiling. Then the control stream
//! under that load: agenda moves and ballots on the downloading
//! connections, beside the same on an idle server.

use crate::common::*;
use crate::fanout::Chair;
use anyhow::{Context, bail};
use futures_util::StreamExt;
use gavel_shared::decision::*;
use gavel_shared::model::*;
use gavel_shared::pack::{self, MAX_CHUNKS_PER_REQUEST, StreamReply, StreamRequest};
use gavel_shared::protocol::{ClientMessage, Command, ServerMessage};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The pack: files on disk (for nginx and the TCP copy) and as uploaded.
pub struct Pack {
    pub files: Vec<(PathBuf, String, u64)>,
    pub docs: Vec<Document>,
    pub dir: tempfile::TempDir,
}

/// Makes `count` PDFs of about `each` bytes and uploads them to the meeting.
pub async fn upload_pack(d: &Delegates, count: usize, each: usize) -> anyhow::Result<Pack> {
    let dir = tempfile::tempdir()?;
    let a = d
        .admin
        .command(
            d.meeting,
            "pack-item",
            &Command::AddItem { title: "Tài liệu".into(), presenter: String::new(), summary: String::new(), position: None },
        )
        .await?;
    let item = ItemId(a.body["result"]["id"].as_i64().context("item")?);
    let mut files = vec![];
    let mut docs = vec![];
    for k in 0..count {
        let pdf = gavel_tests::pack_pdf(each / (256 * 1024) + 1, 256 * 1024, 1000 + k as u64, None);
        let name = format!("tai-lieu-{k}.pdf");
        let path = dir.path().join(&name);
        std::fs::write(&path, &pdf)?;
        let sha = gavel_tests::sha256_hex(&pdf);
        files.push((path, sha, pdf.len() as u64));
        let a = d.admin.upload(d.meeting, item, &name, pdf, &[]).await?;
        anyhow::ensure!(a.status == 201, "{a:?}");
        docs.push(serde_json::from_value(a.body["document"].clone())?);
    }
    Ok(Pack { files, docs, dir })
}

/// Fetches one document over QUIC in chunks, checking each chunk and the
/// whole, keeping nothing. Returns the bytes received.
async fn quic_fetch(conn: &quinn::Connection, token: &str, meeting: MeetingId, doc: &Document) -> anyhow::Result<u64> {
    use gavel_agent::link;
    let (_s, mut recv) = link::open_request(conn, &StreamRequest::Manifest { token: token.into(), meeting, document: doc.id }).await?;
    let StreamReply::Manifest { manifest } = link::read_reply(&mut recv).await? else { bail!("no manifest") };
    let mut sha = Sha256::new();
    let indices: Vec<u32> = (0..manifest.chunks.len() as u32).collect();
    for batch in indices.chunks(MAX_CHUNKS_PER_REQUEST) {
        let req =
            StreamRequest::Chunks { token: token.into(), meeting, document: doc.id, sha256: doc.sha256.clone(), indices: batch.to_vec() };
        let (_s, mut recv) = link::open_request(conn, &req).await?;
        let StreamReply::Chunks { .. } = link::read_reply(&mut recv).await? else { bail!("chunks refused") };
        for &i in batch {
            let bytes = link::read_frame(&mut recv, pack::MAX_CHUNK).await?;
            // Hashing off the runtime, as the agent does, so the control
            // stream's reader is not kept waiting by this client's own CPU work.
            let want = manifest.chunks[i as usize].hash.clone();
            let (h, ok) = tokio::task::spawn_blocking(move || {
                let ok = pack::hash_chunk(&bytes) == want;
                sha.update(&bytes);
                (sha, ok)
            })
            .await?;
            sha = h;
            anyhow::ensure!(ok, "chunk {i} damaged");
        }
    }
    anyhow::ensure!(hex::encode(sha.finalize()) == doc.sha256, "{} arrived damaged", doc.title);
    Ok(doc.size)
}

async fn http_fetch(client: &reqwest::Client, url: &str, token: Option<&str>, sha256: &str) -> anyhow::Result<u64> {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    anyhow::ensure!(r.status().is_success(), "{url}: {}", r.status());
    let mut body = r.bytes_stream();
    let (mut sha, mut n) = (Sha256::new(), 0u64);
    while let Some(piece) = body.next().await {
        let piece = piece?;
        n += piece.len() as u64;
        sha.update(&piece);
    }
    anyhow::ensure!(hex::encode(sha.finalize()) == sha256, "{url} arrived damaged");
    Ok(n)
}

/// nginx over HTTPS (self-signed) on a loopback port, serving `root`.
async fn nginx(root: &std::path::Path) -> anyhow::Result<Baseline> {
    use std::os::unix::fs::PermissionsExt;
    let (port, dir) = Baseline::prepare()?;
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    std::fs::write(dir.path().join("cert.pem"), made.cert.pem())?;
    std::fs::write(dir.path().join("key.pem"), made.signing_key.serialize_pem())?;
    // Workers run as `nobody`: let them read the files.
    for p in [root.to_path_buf(), dir.path().to_path_buf()] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    }
    for entry in std::fs::read_dir(root)? {
        std::fs::set_permissions(entry?.path(), std::fs::Permissions::from_mode(0o644))?;
    }
    let d = dir.path().display();
    let conf = format!(
        "worker_processes 2;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 4096; }}\n\
         http {{\n access_log off;\n sendfile on;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n fastcgi_temp_path {d}/fcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n types {{ application/pdf pdf; }}\n\
         server {{\n  listen 127.0.0.1:{port} ssl http2;\n  ssl_certificate {d}/cert.pem;\n  ssl_certificate_key {d}/key.pem;\n  root {};\n }}\n}}\n",
        root.display()
    );
    let (conf_path, log) = (dir.path().join("nginx.conf"), dir.path().join("error.log"));
    std::fs::write(&conf_path, conf)?;
    let prefix = dir.path().to_path_buf();
    let args = ["-p".as_ref(), prefix.as_os_str(), "-c".as_ref(), conf_path.as_os_str(), "-e".as_ref(), log.as_os_str()];
    Baseline::start("nginx", &args, port, dir).await
}

/// A TCP server on loopback that sends the pack's bytes to each connection.
async fn tcp_ceiling(pack: &Pack, clients: usize, docs: usize) -> anyhow::Result<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let data: Arc<Vec<bytes::Bytes>> =
        Arc::new(pack.files[..docs].iter().map(|f| std::fs::read(&f.0).map(bytes::Bytes::from)).collect::<Result<_, _>>()?);
    let serve_data = data.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let data = serve_data.clone();
            tokio::spawn(async move {
                for d in data.iter() {
                    if s.write_all(d).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let shas: Vec<String> = pack.files[..docs].iter().map(|f| f.1.clone()).collect();
    let sizes: Vec<u64> = pack.files[..docs].iter().map(|f| f.2).collect();
    let start = Instant::now();
    let tasks = (0..clients).map(|_| {
        let (shas, sizes) = (shas.clone(), sizes.clone());
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            let mut buf = vec![0u8; 256 * 1024];
            for (sha, size) in shas.iter().zip(sizes) {
                let mut left = size as usize;
                let mut h = Sha256::new();
                while left > 0 {
                    let n = s.read(&mut buf[..left.min(256 * 1024)]).await?;
                    anyhow::ensure!(n > 0, "closed early");
                    h.update(&buf[..n]);
                    left -= n;
                }
                anyhow::ensure!(&hex::encode(h.finalize()) == sha, "damaged");
            }
            anyhow::Ok(())
        }
    });
    for r in futures_util::future::join_all(tasks).await {
        r?;
    }
    let t = start.elapsed();
    server.abort();
    Ok(t)
}

#[derive(Clone, Copy, Debug)]
enum Way {
    GavelQuic,
    GavelHttp,
    NginxH1,
    NginxH2,
}

async fn distribute(
    room: &Room,
    d: &Delegates,
    pack: &Pack,
    nginx: &Baseline,
    way: Way,
    clients: usize,
    docs: usize,
) -> anyhow::Result<Duration> {
    let docs_list: Vec<Document> = pack.docs[..docs].to_vec();
    let https = |h2: bool| {
        let b = reqwest::Client::builder().danger_accept_invalid_certs(true);
        if h2 { b.http2_prior_knowledge() } else { b.http1_only() }.build()
    };
    // Connect everyone first: the time counted is the transfer.
    let mut conns = vec![];
    if let Way::GavelQuic = way {
        for _ in 0..clients {
            let l = gavel_agent::link::Link::connect(room.quic, &room.fingerprint, gavel_agent::link::ALPN).await?;
            conns.push(Some(l));
        }
    } else {
        conns.resize_with(clients, || None);
    }
    let start = Instant::now();
    let tasks = conns.into_iter().enumerate().map(|(i, l)| {
        let docs_list = docs_list.clone();
        let token = d.tokens[i % d.tokens.len()].1.clone();
        let (meeting, base, nginx_port) = (d.meeting, room.base(), nginx.port);
        let files: Vec<(String, String)> =
            pack.files[..docs].iter().map(|f| (f.0.file_name().unwrap().to_string_lossy().to_string(), f.1.clone())).collect();
        let client = match way {
            Way::NginxH1 => https(false),
            Way::NginxH2 => https(true),
            _ => Ok(reqwest::Client::new()),
        };
        async move {
            let client = client?;
            let mut n = 0;
            match way {
                Way::GavelQuic => {
                    let l = l.context("a link")?;
                    for doc in &docs_list {
                        n += quic_fetch(&l.connection, &token, meeting, doc).await?;
                    }
                }
                Way::GavelHttp => {
                    for doc in &docs_list {
                        n += http_fetch(&client, &format!("{base}/api/meetings/{meeting}/documents/{}", doc.id), Some(&token), &doc.sha256)
                            .await?;
                    }
                }
                Way::NginxH1 | Way::NginxH2 => {
                    for (name, sha) in &files {
                        n += http_fetch(&client, &format!("https://localhost:{nginx_port}/{name}"), None, sha).await?;
                    }
                }
            }
            anyhow::Ok(n)
        }
    });
    // Each client its own task, as each tablet is its own device: polled
    // together in one task, every client shared one thread.
    let tasks: Vec<_> = tasks.map(tokio::spawn).collect();
    let results = futures_util::future::join_all(tasks).await;
    let t = start.elapsed();
    for r in results {
        r??;
    }
    Ok(t)
}

fn mbps(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / 1e6 / t.as_secs_f64()
}

/// Case 2: pack distribution. `plans`: (clients, documents of the pack).
pub async fn distribution(room: &Room, d: &Delegates, pack: &Pack, plans: &[(usize, usize)]) -> anyhow::Result<Vec<Row>> {
    let nginx = nginx(pack.dir.path()).await?;
    let mut rows = vec![];
    for &(clients, docs) in plans {
        let bytes: u64 = pack.files[..docs].iter().map(|f| f.2).sum();
        let total = bytes * clients as u64;
        let label = format!("{:.0} MB pack to {clients} clients at once", bytes as f64 / 1e6);
        let ceiling = tcp_ceiling(pack, clients, docs).await?;
        let quic = distribute(room, d, pack, &nginx, Way::GavelQuic, clients, docs).await?;
        let http = distribute(room, d, pack, &nginx, Way::GavelHttp, clients, docs).await?;
        let h1 = distribute(room, d, pack, &nginx, Way::NginxH1, clients, docs).await?;
        let h2 = distribute(room, d, pack, &nginx, Way::NginxH2, clients, docs).await?;
        let best_nginx = h1.min(h2);
        let cell = |t: Duration| format!("{:.0} MB/s, last client verified at {:.2} s", mbps(total, t), t.as_secs_f64());
        rows.push(Row::new(
            format!("{label}: Gavel over QUIC (chunks) vs nginx HTTPS"),
            cell(quic),
            format!("nginx HTTP/1.1 {} · HTTP/2 {}", cell(h1), cell(h2)),
            format!("{} of the faster nginx", ratio(mbps(total, quic), mbps(total, best_nginx))),
        ));
        rows.push(Row::new(
            format!("{label}: Gavel over HTTP (plain, ranges) vs nginx HTTPS"),
            cell(http),
            format!("as above; loopback TCP ceiling {}", cell(ceiling)),
            format!("{} of the faster nginx", ratio(mbps(total, http), mbps(total, best_nginx))),
        ));
    }
    Ok(rows)
}

/// What a tablet's control-stream reader saw: agenda moves (`seq`) and
/// ballot answers (command key), each with when it arrived.
type Seen = (Vec<(u64, Instant)>, Vec<(String, Instant)>);

/// A downloading tablet: its QUIC connection, and the control stream's two halves.
struct Tablet {
    conn: quinn::Connection,
    send: Option<quinn::SendStream>,
    reader: tokio::task::JoinHandle<Seen>,
}

async fn tablet(room: &Room, token: &str, meeting: MeetingId) -> anyhow::Result<Tablet> {
    let l = crate::fanout::quic_delegate(room, token, meeting).await?;
    let conn = l.connection.clone();
    let (send, mut recv) = l.split();
    let reader = tokio::spawn(async move {
        let (mut moves, mut acks) = (vec![], vec![]);
        while let Ok(m) = gavel_agent::link::recv_msg(&mut recv).await {
            let at = Instant::now();
            if std::env::var_os("GAVEL_BENCH_TRACE").is_some() {
                let v = serde_json::to_value(&m).unwrap_or_default();
                eprintln!("TRACE {} {} {}", v["type"], v["event"]["seq"], v["event"]["type"]);
            }
            match m {
                ServerMessage::Event { event } => {
                    if let gavel_shared::protocol::Change::CurrentItemChanged { .. } = event.change {
                        moves.push((event.seq, at));
                    }
                }
                ServerMessage::Ack { key, .. } => acks.push((key, at)),
                ServerMessage::Error { code, message, .. } => eprintln!("control under load: the room answered {code}: {message}"),
                _ => {}
            }
        }
        (moves, acks)
    });
    Ok(Tablet { conn, send: Some(send), reader })
}

/// Where a control phase's tablets download the pack, if at all.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Load {
    Idle,
    /// On the connection that carries the control stream.
    SameConnection,
    /// On a second connection of the same tablet.
    SecondConnection,
}

/// Agenda moves and ballots on `clients` QUIC tablets, with or without
/// every tablet downloading `docs` documents of the pack meanwhile.
async fn control_phase(
    room: &Room,
    d: &Delegates,
    pack: &Pack,
    clients: usize,
    docs: usize,
    load: Load,
    poll: PollId,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>, Option<f64>)> {
    let loaded = load != Load::Idle;
    let tokens = &d.tokens[..clients];
    let mut tablets = vec![];
    let mut bulk = vec![];
    // A second connection is a session of its own, kept until the phase ends.
    let mut second_links = vec![];
    for (_, t) in tokens {
        let tb = tablet(room, t, d.meeting).await?;
        bulk.push(match load {
            Load::SecondConnection => {
                let link = crate::fanout::quic_delegate(room, t, d.meeting).await?;
                let conn = link.connection.clone();
                second_links.push(link);
                conn
            }
            _ => tb.conn.clone(),
        });
        tablets.push(tb);
    }
    let done = Arc::new(AtomicBool::new(false));
    let began = Instant::now();
    let downloads: Vec<_> = if loaded {
        bulk.iter()
            .zip(tokens)
            .map(|(conn, (_, tok))| {
                let (conn, tok, list, meeting) = (conn.clone(), tok.clone(), pack.docs[..docs].to_vec(), d.meeting);
                tokio::spawn(async move {
                    let mut bytes = 0;
                    for doc in &list {
                        bytes += quic_fetch(&conn, &tok, meeting, doc).await?;
                    }
                    anyhow::Ok((bytes, Instant::now()))
                })
            })
            .collect()
    } else {
        vec![]
    };
    // Ballots: each tablet votes again every 50 ms until the phase ends.
    let mut sends = vec![];
    for (i, tb) in tablets.iter_mut().enumerate() {
        let mut send = tb.send.take().context("the control stream")?;
        let done = done.clone();
        sends.push(tokio::spawn(async move {
            let mut sent = vec![];
            let mut k = 0;
            while !done.load(Ordering::Acquire) {
                k += 1;
                let key = format!("b-{i}-{k}-{}", if loaded { "l" } else { "i" });
                let cmd = ClientMessage::Command { key: key.clone(), command: Command::CastBallot { poll, choices: vec![(k % 2) as u8] } };
                sent.push((key, Instant::now()));
                if gavel_agent::link::send_msg(&mut send, &cmd).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (sent, send)
        }));
    }
    let mut chair = Chair::connect(room, d).await?;
    let mut moved = std::collections::HashMap::new();
    let started = Instant::now();
    loop {
        let (seq, at) = chair.move_agenda(d).await?;
        moved.insert(seq, at);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let downloading = downloads.iter().any(|h| !h.is_finished());
        if (loaded && !downloading && moved.len() >= 20) || (!loaded && moved.len() >= 100) || started.elapsed() > Duration::from_secs(300)
        {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, Ordering::Release);
    let (mut fetched, mut last) = (0, began);
    for h in downloads {
        let (bytes, at) = h.await??;
        fetched += bytes;
        last = last.max(at);
    }
    // The downloads' throughput, all tablets together (MB/s).
    let throughput = loaded.then(|| fetched as f64 / 1e6 / last.duration_since(began).as_secs_f64());
    let mut sent_all = std::collections::HashMap::new();
    for s in sends {
        let (sent, mut send) = s.await?;
        let _ = send.finish();
        sent_all.extend(sent);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut move_lat, mut ballot_lat) = (vec![], vec![]);
    for tb in tablets {
        tb.conn.close(0u32.into(), b"done");
        let (moves, acks) = tb.reader.await?;
        for (seq, at) in moves {
            if let Some(t0) = moved.get(&seq) {
                move_lat.push(at.duration_since(*t0));
            }
        }
        for (key, at) in acks {
            if let Some(t0) = sent_all.get(&key) {
                ballot_lat.push(at.duration_since(*t0));
            }
        }
    }
    drop(second_links);
    anyhow::ensure!(!move_lat.is_empty() && !ballot_lat.is_empty(), "no control traffic was measured");
    Ok((move_lat, ballot_lat, throughput))
}

/// Case 3: control under load, on the downloading connections.
pub async fn control_under_load(room: &Room, d: &Delegates, pack: &Pack, clients: usize, docs: usize) -> anyhow::Result<Vec<Row>> {
    control_beside_downloads(room, d, pack, clients, docs, "control under load", true).await
}

/// Agenda moves and ballots on `clients` QUIC tablets, idle and while each
/// downloads `docs` documents of the pack on the same connection; rows
/// named after `case`. With `second_connection`, also the agenda moves
/// while each tablet downloads on a connection of its own: what sharing
/// the connection adds, if anything.
pub async fn control_beside_downloads(
    room: &Room,
    d: &Delegates,
    pack: &Pack,
    clients: usize,
    docs: usize,
    case: &str,
    second_connection: bool,
) -> anyhow::Result<Vec<Row>> {
    let chair = d.chair_http(&room.base());
    let create = Command::CreatePoll {
        item: d.items[0],
        question: "Biểu quyết thử".into(),
        kind: PollKind::YesNo,
        options: vec![],
        max_choices: 1,
        secret: false,
        allow_change: true,
        rule: MajorityRule::default(),
    };
    let a = chair.command(d.meeting, "load-poll", &create).await?;
    let poll = PollId(a.body["result"]["id"].as_i64().context("poll")?);
    chair.command(d.meeting, "load-open", &Command::OpenPoll { poll }).await?;
    let (mut idle_moves, mut idle_ballots, _) = control_phase(room, d, pack, clients, docs, Load::Idle, poll).await?;
    let (mut busy_moves, mut busy_ballots, throughput) = control_phase(room, d, pack, clients, docs, Load::SameConnection, poll).await?;
    let throughput = throughput.unwrap_or_default();
    let apart = match second_connection {
        true => Some(control_phase(room, d, pack, clients, docs, Load::SecondConnection, poll).await?),
        false => None,
    };
    chair.command(d.meeting, "load-close", &Command::ClosePoll { poll }).await?;
    let p = |v: &mut Vec<Duration>, q: f64| {
        v.sort();
        ms(percentile(v, q))
    };
    let (im50, im99, bm50, bm99) = (p(&mut idle_moves, 0.5), p(&mut idle_moves, 0.99), p(&mut busy_moves, 0.5), p(&mut busy_moves, 0.99));
    let (ib50, ib99, bb50, bb99) =
        (p(&mut idle_ballots, 0.5), p(&mut idle_ballots, 0.99), p(&mut busy_ballots, 0.5), p(&mut busy_ballots, 0.99));
    let mut rows = vec![
        Row::new(
            format!("{case}: agenda moves to {clients} QUIC tablets while each downloads the pack on the same connection, p50 / p99"),
            format!("{bm50:.2} / {bm99:.2} ms (downloads at {throughput:.0} MB/s in all)"),
            format!("{im50:.2} / {im99:.2} ms idle"),
            format!("p99 {}", ratio(bm99, im99)),
        ),
        Row::new(
            format!("{case}: ballot acknowledgements from those {clients} tablets, p50 / p99"),
            format!("{bb50:.2} / {bb99:.2} ms"),
            format!("{ib50:.2} / {ib99:.2} ms idle"),
            format!("p99 {}", ratio(bb99, ib99)),
        ),
    ];
    if let Some((mut moves, _, throughput)) = apart {
        let (a50, a99) = (p(&mut moves, 0.5), p(&mut moves, 0.99));
        rows.push(Row::new(
            format!("{case}: the same agenda moves while each tablet downloads on a second connection instead, p50 / p99"),
            format!("{bm50:.2} / {bm99:.2} ms on the same connection"),
            format!("{a50:.2} / {a99:.2} ms on a second connection (downloads at {:.0} MB/s in all)", throughput.unwrap_or_default()),
            format!("p99 {}", ratio(bm99, a99)),
        ));
    }
    Ok(rows)
}
