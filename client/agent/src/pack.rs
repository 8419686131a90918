//! The meeting pack on the tablet: a cache of documents fetched in chunks.
//!
//! Layout of the cache directory:
//! - `docs/<sha256>`: a complete document, checked against its SHA-256;
//!   `docs/<sha256>.chunks.json` is its manifest, so later versions can take
//!   the chunks they share from it;
//! - `docs/<sha256>.copy`: for a restricted document, the SHA-256 of this
//!   reader's stamped copy (kept as `docs/<that hash>`), which the room sends
//!   in place of the version named `<sha256>`;
//! - `chunks/<blake3>`: chunks of documents still arriving, each checked
//!   against its hash before it is kept, so an interrupted download resumes
//!   from the chunks it is missing.
//!
//! Every file is written under a temporary name and renamed once complete.

use crate::link;
use anyhow::{Context, bail};
use gavel_shared::model::{Document, MeetingId};
use gavel_shared::pack::{self, MAX_CHUNKS_PER_REQUEST, Manifest, StreamReply, StreamRequest};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where a chunk can be read from a complete document.
#[derive(Debug, Clone)]
struct Held {
    sha256: String,
    offset: u64,
    len: u32,
}

/// The local document cache (cheap to clone: clones share it).
#[derive(Clone)]
pub struct Cache(Arc<Inner>);

pub struct Inner {
    dir: PathBuf,
    /// Chunks held inside complete documents, by BLAKE3 hash.
    index: Mutex<HashMap<String, Held>>,
}

impl std::ops::Deref for Cache {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// What fetching one document did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchStats {
    /// Chunks in the version.
    pub chunks: usize,
    /// Chunks fetched from the room now.
    pub fetched: usize,
    /// Chunks found in other cached documents (a previous version).
    pub reused: usize,
    /// Chunks already kept from an interrupted download.
    pub resumed: usize,
    /// Bytes fetched from the room now.
    pub bytes_fetched: u64,
    /// The document was complete in the cache already.
    pub was_cached: bool,
}

impl FetchStats {
    /// Counts a chunk of `n` bytes fetched and kept, and says so.
    fn kept(&mut self, n: usize, have: &mut u64, progress: &(dyn Fn(u64) + Send + Sync)) {
        self.fetched += 1;
        self.bytes_fetched += n as u64;
        *have += n as u64;
        progress(*have);
    }
}

fn valid_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Cache {
    /// Opens (creating) a cache directory and indexes what it holds.
    pub fn open(dir: impl Into<PathBuf>) -> anyhow::Result<Cache> {
        let dir = dir.into();
        for sub in ["docs", "chunks", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("cannot create the cache in {}", dir.display()))?;
        }
        let cache = Cache(Arc::new(Inner { dir, index: Mutex::new(HashMap::new()) }));
        for entry in std::fs::read_dir(cache.dir.join("docs"))? {
            let name = entry?.file_name().to_string_lossy().to_string();
            if let Some(sha) = name.strip_suffix(".chunks.json").filter(|s| valid_hex(s)) {
                if cache.has(sha) {
                    if let Ok(m) = cache.read_manifest(sha) {
                        cache.index_manifest(&m);
                    }
                }
            }
        }
        Ok(cache)
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the document version `sha256` lives: the content itself, or
    /// this reader's stamped copy of it.
    pub fn doc_path(&self, sha256: &str) -> PathBuf {
        let docs = self.dir.join("docs");
        let own = docs.join(sha256);
        if own.is_file() {
            return own;
        }
        match std::fs::read_to_string(docs.join(format!("{sha256}.copy"))) {
            Ok(copy) if valid_hex(copy.trim()) => docs.join(copy.trim()),
            _ => own,
        }
    }

    /// True when the document version with this hash is complete in the cache.
    pub fn has(&self, sha256: &str) -> bool {
        valid_hex(sha256) && self.doc_path(sha256).is_file()
    }

    fn chunk_path(&self, hash: &str) -> PathBuf {
        self.dir.join("chunks").join(hash)
    }

    fn tmp_path(&self, what: &str) -> PathBuf {
        self.dir.join("tmp").join(format!("{what}-{:016x}", rand::random::<u64>()))
    }

    fn read_manifest(&self, sha256: &str) -> anyhow::Result<Manifest> {
        Ok(serde_json::from_slice(&std::fs::read(self.dir.join("docs").join(format!("{sha256}.chunks.json")))?)?)
    }

    fn index_manifest(&self, m: &Manifest) {
        let mut index = self.index.lock().expect("cache index");
        for (c, offset) in m.chunks.iter().zip(m.offsets()) {
            index.entry(c.hash.clone()).or_insert(Held { sha256: m.sha256.clone(), offset, len: c.len });
        }
    }

    /// Writes `bytes` under `path` atomically.
    fn put(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        let tmp = self.tmp_path("put");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Copies a chunk out of a complete document, if one holds it and it
    /// still checks out.
    fn chunk_from_docs(&self, hash: &str) -> Option<Vec<u8>> {
        use std::io::{Read, Seek};
        let held = self.index.lock().expect("cache index").get(hash).cloned()?;
        let mut f = std::fs::File::open(self.dir.join("docs").join(&held.sha256)).ok()?;
        f.seek(std::io::SeekFrom::Start(held.offset)).ok()?;
        let mut buf = vec![0u8; held.len as usize];
        f.read_exact(&mut buf).ok()?;
        (pack::hash_chunk(&buf) == hash).then_some(buf)
    }

    /// Removes every cached document and chunk (a revoked tablet).
    pub fn wipe(&self) -> anyhow::Result<()> {
        for sub in ["docs", "chunks", "tmp"] {
            let d = self.dir.join(sub);
            if d.exists() {
                std::fs::remove_dir_all(&d)?;
            }
            std::fs::create_dir_all(&d)?;
        }
        self.index.lock().expect("cache index").clear();
        Ok(())
    }

    /// Assembles a document from its chunks, checks its SHA-256 and keeps it.
    fn assemble(&self, m: &Manifest) -> anyhow::Result<()> {
        use std::io::Write;
        let tmp = self.tmp_path("doc");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let mut sha = Sha256::new();
        for c in &m.chunks {
            let path = self.chunk_path(&c.hash);
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(_) => self.chunk_from_docs(&c.hash).with_context(|| format!("chunk {} went missing", c.hash))?,
            };
            if pack::hash_chunk(&bytes) != c.hash {
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(&tmp);
                bail!("chunk {} was damaged on disk; it will be fetched again", c.hash);
            }
            sha.update(&bytes);
            out.write_all(&bytes)?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        let got = hex::encode(sha.finalize());
        if got != m.sha256 {
            let _ = std::fs::remove_file(&tmp);
            bail!("the assembled document has SHA-256 {got}, not {}", m.sha256);
        }
        self.put(&self.dir.join("docs").join(format!("{}.chunks.json", m.sha256)), &serde_json::to_vec(m)?)?;
        std::fs::rename(&tmp, self.dir.join("docs").join(&m.sha256))?;
        self.index_manifest(m);
        for c in &m.chunks {
            let _ = std::fs::remove_file(self.chunk_path(&c.hash));
        }
        Ok(())
    }

    /// Fetches one document over `conn` into the cache: the chunks it does
    /// not hold yet, each checked, then the whole file. `progress` is told
    /// how many bytes of the document are in hand, as they arrive.
    pub async fn fetch(
        &self,
        conn: &quinn::Connection,
        token: &str,
        meeting: MeetingId,
        doc: &Document,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> anyhow::Result<FetchStats> {
        if self.has(&doc.sha256) {
            progress(doc.size);
            return Ok(FetchStats { was_cached: true, ..Default::default() });
        }
        anyhow::ensure!(valid_hex(&doc.sha256), "the document's hash {:?} is not a SHA-256", doc.sha256);
        let (_send, mut recv) =
            link::open_request(conn, &StreamRequest::Manifest { token: token.into(), meeting, document: doc.id }).await?;
        let m = match link::read_reply(&mut recv).await? {
            StreamReply::Manifest { manifest } => manifest,
            StreamReply::Error { code, message } => bail!("{code}: {message}"),
            other => bail!("unexpected reply {other:?}"),
        };
        // The version itself, or this reader's stamped copy of it.
        let names_it = match &m.copy_of {
            None => m.sha256 == doc.sha256 && m.size == doc.size,
            Some(of) => *of == doc.sha256 && valid_hex(&m.sha256),
        };
        anyhow::ensure!(
            names_it && m.is_consistent() && m.chunks.iter().all(|c| valid_hex(&c.hash)),
            "the room sent a manifest that does not match the document"
        );
        let mut stats = FetchStats { chunks: m.chunks.len(), ..Default::default() };
        let mut have = 0u64;
        let mut missing = Vec::new();
        for (i, c) in m.chunks.iter().enumerate() {
            if self.chunk_path(&c.hash).is_file() {
                stats.resumed += 1;
            } else if self.index.lock().expect("cache index").contains_key(&c.hash) {
                stats.reused += 1;
            } else {
                missing.push(i as u32);
                continue;
            }
            have += u64::from(c.len);
        }
        progress(have);
        for batch in missing.chunks(MAX_CHUNKS_PER_REQUEST) {
            let request = StreamRequest::Chunks {
                token: token.into(),
                meeting,
                document: doc.id,
                sha256: doc.sha256.clone(),
                indices: batch.to_vec(),
            };
            let (_send, mut recv) = link::open_request(conn, &request).await?;
            match link::read_reply(&mut recv).await? {
                StreamReply::Chunks { count } if count as usize == batch.len() => {}
                StreamReply::Error { code, message } => bail!("{code}: {message}"),
                other => bail!("unexpected reply {other:?}"),
            }
            // Checking and writing a chunk is CPU and disk work: off the
            // runtime, so the control link and the browser's requests do not
            // wait behind it. One chunk is checked while the next arrives.
            let mut pending: Option<tokio::task::JoinHandle<anyhow::Result<usize>>> = None;
            for &i in batch {
                let c = m.chunks[i as usize].clone();
                let bytes = link::read_frame(&mut recv, pack::MAX_CHUNK).await?;
                if let Some(p) = pending.take() {
                    stats.kept(p.await??, &mut have, progress);
                }
                let (this, title) = (self.clone(), doc.title.clone());
                pending = Some(tokio::task::spawn_blocking(move || {
                    if bytes.len() != c.len as usize || pack::hash_chunk(&bytes) != c.hash {
                        bail!("chunk {i} of {title} arrived damaged");
                    }
                    this.put(&this.chunk_path(&c.hash), &bytes)?;
                    Ok(bytes.len())
                }));
            }
            if let Some(p) = pending.take() {
                stats.kept(p.await??, &mut have, progress);
            }
        }
        // Assembly reads and writes the whole file: keep it off the runtime.
        let this = self.clone();
        let original = doc.sha256.clone();
        tokio::task::spawn_blocking(move || {
            this.assemble(&m)?;
            if m.copy_of.is_some() {
                this.put(&this.dir.join("docs").join(format!("{original}.copy")), m.sha256.as_bytes())?;
            }
            anyhow::Ok(())
        })
        .await??;
        Ok(stats)
    }
}
