//! The meeting pack on the tablet: a cache of documents fetched in chunks,
//! encrypted at rest ([`Vault`]).
//!
//! Layout of the cache directory (every name a keyed hash, see
//! [`Vault::name`]; every file sealed with the cache key):
//! - `chunks/<name of blake3>`: one chunk, checked against its hash before it
//!   is kept. A download that is cut resumes from the chunks it lacks, and a
//!   new version takes the chunks it shares with the old one from here;
//! - `docs/<name of sha256>`: the manifest of a complete version, written
//!   once every chunk is in and the whole checks against its SHA-256. For a
//!   restricted document it is the manifest of this reader's stamped copy
//!   (`copy_of` names the version).
//!
//! A document is read back by decrypting the chunks that cover the bytes
//! asked for: nothing is kept in clear, and a range costs only its chunks.
//! Every file is written under a temporary name and renamed once complete.

use crate::link;
use crate::vault::Vault;
use anyhow::{Context, bail};
use gavel_shared::model::{Document, MeetingId};
use gavel_shared::pack::{self, MAX_CHUNKS_PER_REQUEST, Manifest, StreamReply, StreamRequest};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The local document cache (cheap to clone: clones share it).
#[derive(Clone)]
pub struct Cache(Arc<Inner>);

pub struct Inner {
    dir: PathBuf,
    vault: Arc<Vault>,
    /// Chunks (BLAKE3 hashes) of complete documents.
    complete: Mutex<HashSet<String>>,
}

impl std::ops::Deref for Cache {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// A document's SHA-256 taken over its first `next` chunks.
struct Hashed {
    sha: Sha256,
    next: usize,
}

impl Hashed {
    /// Moves the state out, leaving a fresh one (it is handed from chunk to chunk).
    fn take(&mut self) -> Hashed {
        std::mem::replace(self, Hashed { sha: Sha256::new(), next: 0 })
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
    /// Opens (creating) a cache directory with its unlocked key and indexes
    /// what it holds.
    pub fn open(dir: impl Into<PathBuf>, vault: Arc<Vault>) -> anyhow::Result<Cache> {
        let dir = dir.into();
        for sub in ["docs", "chunks", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("cannot create the cache in {}", dir.display()))?;
        }
        let cache = Cache(Arc::new(Inner { dir, vault, complete: Mutex::new(HashSet::new()) }));
        for entry in std::fs::read_dir(cache.dir.join("docs"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            match cache
                .vault
                .read(&format!("manifest {name}"), &entry.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
            {
                Some(m) => cache.complete.lock().expect("cache index").extend(m.chunks.iter().map(|c| c.hash.clone())),
                None => {
                    tracing::warn!(file = %entry.path().display(), "dropping a cache entry that does not decrypt");
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(cache)
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache key (the agent seals its state and session with it too).
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    fn manifest_path(&self, sha256: &str) -> (PathBuf, String) {
        let name = self.vault.name(sha256);
        (self.dir.join("docs").join(&name), format!("manifest {name}"))
    }

    fn chunk_path(&self, hash: &str) -> (PathBuf, String) {
        let name = self.vault.name(hash);
        (self.dir.join("chunks").join(&name), format!("chunk {name}"))
    }

    /// True when the document version with this hash is complete in the cache.
    pub fn has(&self, sha256: &str) -> bool {
        valid_hex(sha256) && self.manifest_path(sha256).0.is_file()
    }

    /// The manifest of a complete version (of this reader's copy of it).
    pub fn manifest(&self, sha256: &str) -> anyhow::Result<Manifest> {
        let (path, label) = self.manifest_path(sha256);
        Ok(serde_json::from_slice(&self.vault.read(&label, &path)?)?)
    }

    /// One chunk, decrypted. Its hash was checked when it arrived; the
    /// seal (bound to the chunk's name) now proves it is that same chunk,
    /// unchanged, so it is not hashed again.
    pub fn chunk(&self, hash: &str) -> anyhow::Result<Vec<u8>> {
        let (path, label) = self.chunk_path(hash);
        self.vault.read(&label, &path).with_context(|| format!("chunk {hash} is damaged in the cache"))
    }

    /// Bytes `start..end` of a complete document, chunk by chunk (each
    /// decrypted as it is needed).
    pub fn read_range(&self, m: &Manifest, start: u64, end: u64) -> impl Iterator<Item = anyhow::Result<Vec<u8>>> + Send + 'static {
        let this = self.clone();
        let pieces: Vec<(String, u64, u64)> = m
            .chunks
            .iter()
            .zip(m.offsets())
            .filter(|(c, at)| *at < end && at + u64::from(c.len) > start)
            .map(|(c, at)| (c.hash.clone(), start.saturating_sub(at), (end - at).min(u64::from(c.len))))
            .collect();
        pieces.into_iter().map(move |(hash, from, to)| this.chunk(&hash).map(|b| b[from as usize..to as usize].to_vec()))
    }

    /// A whole complete document, in memory (tests, small documents).
    pub fn read_doc(&self, sha256: &str) -> anyhow::Result<Vec<u8>> {
        let m = self.manifest(sha256)?;
        self.read_range(&m, 0, m.size).collect::<anyhow::Result<Vec<_>>>().map(|v| v.concat())
    }

    fn tmp_path(&self, what: &str) -> PathBuf {
        self.dir.join("tmp").join(format!("{what}-{:016x}", rand::random::<u64>()))
    }

    /// Seals `bytes` and writes them under `path` atomically.
    fn put(&self, path: &Path, label: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let tmp = self.tmp_path("put");
        std::fs::write(&tmp, self.vault.seal(label, bytes))?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Seals and keeps a file of the agent's own (its state, its session).
    pub fn keep(&self, file: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.put(&self.dir.join(file), &format!("file {file}"), bytes)
    }

    /// Reads back a file kept with [`Cache::keep`].
    pub fn kept(&self, file: &str) -> Option<Vec<u8>> {
        let path = self.dir.join(file);
        path.is_file().then(|| self.vault.read(&format!("file {file}"), &path).ok()).flatten()
    }

    /// Removes every cached document and chunk, and the agent's own files
    /// (a revoked tablet). The web UI's public files stay.
    pub fn wipe(&self) -> anyhow::Result<()> {
        for sub in ["docs", "chunks", "tmp"] {
            let d = self.dir.join(sub);
            if d.exists() {
                std::fs::remove_dir_all(&d)?;
            }
            std::fs::create_dir_all(&d)?;
        }
        self.complete.lock().expect("cache index").clear();
        Ok(())
    }

    /// Hashes the held chunks from `h.next` up to (not including) `upto`.
    fn hash_held(&self, m: &Manifest, h: &mut Hashed, upto: usize) -> anyhow::Result<()> {
        while h.next < upto {
            let c = &m.chunks[h.next];
            match self.chunk(&c.hash) {
                Ok(bytes) => h.sha.update(&bytes),
                Err(e) => {
                    let _ = std::fs::remove_file(self.chunk_path(&c.hash).0);
                    bail!("{e:#}; it will be fetched again");
                }
            }
            h.next += 1;
        }
        Ok(())
    }

    /// Checks a version's SHA-256 (of all its chunks, in order), then
    /// records it complete.
    fn finish(&self, m: &Manifest, version: &str, sha: Sha256) -> anyhow::Result<()> {
        let got = hex::encode(sha.finalize());
        if got != m.sha256 {
            bail!("the document has SHA-256 {got}, not {}", m.sha256);
        }
        let (path, label) = self.manifest_path(version);
        self.put(&path, &label, &serde_json::to_vec(m)?)?;
        self.complete.lock().expect("cache index").extend(m.chunks.iter().map(|c| c.hash.clone()));
        Ok(())
    }

    /// Fetches one document over `conn` into the cache: the chunks it does
    /// not hold yet, each checked, then the whole. `progress` is told
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
            if !self.chunk_path(&c.hash).0.is_file() {
                missing.push(i as u32);
                continue;
            } else if self.complete.lock().expect("cache index").contains(&c.hash) {
                stats.reused += 1;
            } else {
                stats.resumed += 1;
            }
            have += u64::from(c.len);
        }
        progress(have);
        // The whole file's SHA-256 is taken in order as the chunks come in:
        // each held chunk before the next fetched one is read back into it
        // then, so no pass over the file is needed at the end.
        let m = Arc::new(m);
        let mut hashed = Hashed { sha: Sha256::new(), next: 0 };
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
            // Checking, sealing and writing a chunk is CPU and disk work: off
            // the runtime, so the control link and the browser's requests do
            // not wait behind it. One chunk is handled while the next arrives.
            let mut pending: Option<tokio::task::JoinHandle<anyhow::Result<(Hashed, usize)>>> = None;
            for &i in batch {
                let bytes = link::read_frame(&mut recv, pack::MAX_CHUNK).await?;
                if let Some(p) = pending.take() {
                    let (h, n) = p.await??;
                    hashed = h;
                    stats.kept(n, &mut have, progress);
                }
                let (this, title, m, mut h) = (self.clone(), doc.title.clone(), m.clone(), hashed.take());
                pending = Some(tokio::task::spawn_blocking(move || {
                    let c = &m.chunks[i as usize];
                    if bytes.len() != c.len as usize || pack::hash_chunk(&bytes) != c.hash {
                        bail!("chunk {i} of {title} arrived damaged");
                    }
                    this.hash_held(&m, &mut h, i as usize)?;
                    let (path, label) = this.chunk_path(&c.hash);
                    this.put(&path, &label, &bytes)?;
                    h.sha.update(&bytes);
                    h.next = i as usize + 1;
                    Ok((h, bytes.len()))
                }));
            }
            if let Some(p) = pending.take() {
                let (h, n) = p.await??;
                hashed = h;
                stats.kept(n, &mut have, progress);
            }
        }
        // The chunks held after the last one fetched, then the check.
        let (this, version) = (self.clone(), doc.sha256.clone());
        tokio::task::spawn_blocking(move || {
            let mut h = hashed;
            this.hash_held(&m, &mut h, m.chunks.len())?;
            this.finish(&m, &version, h.sha)
        })
        .await??;
        Ok(stats)
    }
}
