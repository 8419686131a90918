//! The meeting pack on the tablet: a cache of documents fetched in chunks,
//! encrypted at rest ([`Vault`]).
//!
//! Layout of the cache directory (every name a keyed hash, see
//! [`Vault::name`]; everything sealed with the cache key):
//! - `docs/<name of sha256>.data`: a document version's chunks, each sealed
//!   on its own in a slot of its own (its length plus the seal's
//!   [`SEAL_OVERHEAD`]), in order. A chunk is checked against its hash
//!   before it is written to its slot; an unwritten slot does not decrypt,
//!   so a download that is cut resumes from the slots it lacks. A new
//!   version copies the sealed chunks it shares with a complete one.
//! - `docs/<name of sha256>`: the manifest of a complete version, written
//!   once every chunk is in and the whole checks against its SHA-256. For a
//!   restricted document it is the manifest of this reader's stamped copy
//!   (`copy_of` names the version).
//!
//! One file per document, not per chunk: thousands of small files made a
//! 200 MB pack spend most of its time in the file system (see
//! docs/benchmarks.md). A document is read back by decrypting the slots
//! that cover the bytes asked for: nothing is kept in clear.

use crate::link;
use crate::vault::{SEAL_OVERHEAD, Vault};
use anyhow::{Context, bail};
use gavel_shared::model::{Confidentiality, Document, MeetingId};
use gavel_shared::pack::{self, MAX_CHUNKS_PER_REQUEST, Manifest, StreamReply, StreamRequest};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The local document cache (cheap to clone: clones share it).
#[derive(Clone)]
pub struct Cache(Arc<Inner>);

pub struct Inner {
    dir: PathBuf,
    vault: Arc<Vault>,
    /// Where each chunk (by BLAKE3 hash) of a complete document is kept.
    held: Mutex<HashMap<String, Slot>>,
    /// The manifests of the complete versions, by version (read once, at
    /// open or when the version completes).
    complete: Mutex<HashMap<String, Arc<Manifest>>>,
    /// Told when a complete version was found damaged and dropped.
    damage: tokio::sync::Notify,
}

/// A sealed chunk's place: its document's data file, where, how long.
#[derive(Debug, Clone)]
struct Slot {
    file: PathBuf,
    offset: u64,
    len: usize,
}

/// The slots of a version's chunks, in order: (offset, sealed length).
fn slots(m: &Manifest) -> Vec<(u64, usize)> {
    let mut at = 0u64;
    m.chunks
        .iter()
        .map(|c| {
            let len = c.len as usize + SEAL_OVERHEAD;
            let slot = (at, len);
            at += len as u64;
            slot
        })
        .collect()
}

fn read_at(file: &mut std::fs::File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut buf)?;
    Ok(buf)
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

/// What a download error carries when the tablet's own storage failed
/// (the disk is full, the cache cannot be written), not the link or the
/// room: trying again at once will not mend it, and the person holding the
/// tablet has to be told.
#[derive(Debug, Clone, Copy)]
pub struct StorageFailed;

impl std::fmt::Display for StorageFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the tablet cannot keep the document")
    }
}

/// The room answered a document request with an error of its own (not a
/// failure of the link): its code and its words. Also why the room refuses
/// the tablet as a whole (`Shared::stuck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRefused {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for RoomRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

impl std::error::Error for RoomRefused {}

impl RoomRefused {
    /// The room holds a newer version than the state this request was made
    /// from: not a refusal, the new state is on its way.
    pub fn state_behind(&self) -> bool {
        self.code == "stale_version"
    }

    /// Asking again will not change the answer (the document is gone, not
    /// this reader's, or cannot be stamped), unless the meeting changes. A
    /// file the room has lost may come back (a disk restored), so it is
    /// asked for again, less and less often.
    pub fn lasting(&self) -> bool {
        ["not_found", "forbidden", "unstampable"].contains(&self.code.as_str())
    }
}

/// The manifest the room sent is not of the version the state names: the
/// state is behind the room (a new version just uploaded).
#[derive(Debug, Clone, Copy)]
pub struct StateBehind;

impl std::fmt::Display for StateBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the room sent a manifest that does not match the document")
    }
}

impl std::error::Error for StateBehind {}

/// Marks `r`'s error as [`StorageFailed`] when the system refused a read or
/// a write (an I/O error at its root), and leaves others as they are: a
/// chunk that went bad in the cache, for one, is fetched again rather than
/// reported as a full disk.
fn storage<T>(r: anyhow::Result<T>) -> anyhow::Result<T> {
    r.map_err(|e| if e.root_cause().is::<std::io::Error>() { e.context(StorageFailed) } else { e })
}

fn valid_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Cache {
    /// Opens (creating) a cache directory with its unlocked key and indexes
    /// what it holds.
    pub fn open(dir: impl Into<PathBuf>, vault: Arc<Vault>) -> anyhow::Result<Cache> {
        let dir = dir.into();
        for sub in ["docs", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("cannot create the cache in {}", dir.display()))?;
        }
        let cache = Cache(Arc::new(Inner {
            dir,
            vault,
            held: Mutex::new(HashMap::new()),
            complete: Mutex::new(HashMap::new()),
            damage: tokio::sync::Notify::new(),
        }));
        for entry in std::fs::read_dir(cache.dir.join("docs"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".data") {
                continue;
            }
            match cache
                .vault
                .read(&format!("manifest {name}"), &entry.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
            {
                Some(m) => cache.index(&name, m),
                None => {
                    tracing::warn!(file = %entry.path().display(), "dropping a cache entry that does not decrypt");
                    let _ = std::fs::remove_file(entry.path());
                    let _ = std::fs::remove_file(cache.dir.join("docs").join(format!("{name}.data")));
                }
            }
        }
        Ok(cache)
    }

    /// Records a complete version (`name` is its file name, see [`Vault::name`]).
    fn index(&self, name: &str, m: Manifest) {
        let file = self.dir.join("docs").join(format!("{name}.data"));
        let mut held = self.held.lock().expect("cache index");
        for (c, (offset, len)) in m.chunks.iter().zip(slots(&m)) {
            held.entry(c.hash.clone()).or_insert(Slot { file: file.clone(), offset, len });
        }
        self.complete.lock().expect("cache index").insert(name.to_string(), Arc::new(m));
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn manifest_path(&self, sha256: &str) -> (PathBuf, String) {
        let name = self.vault.name(sha256);
        (self.dir.join("docs").join(&name), format!("manifest {name}"))
    }

    fn data_path(&self, version: &str) -> PathBuf {
        self.dir.join("docs").join(format!("{}.data", self.vault.name(version)))
    }

    fn chunk_label(&self, hash: &str) -> String {
        format!("chunk {}", self.vault.name(hash))
    }

    /// True when the document version with this hash is complete in the cache.
    pub fn has(&self, sha256: &str) -> bool {
        valid_hex(sha256) && self.manifest(sha256).is_some()
    }

    /// True when the cache holds `doc` as this reader may be given it: a
    /// restricted document only as their own stamped copy. A public
    /// document restricted since (the same version) does not fit: served
    /// from the cache it would bear no reader's name. A public one may be
    /// served from the reader's copy (restricted before, or the same file
    /// as a restricted document of the meeting: one version is kept for
    /// both, not fetched in turn for each).
    pub fn fits(&self, doc: &Document) -> bool {
        valid_hex(&doc.sha256)
            && self.manifest(&doc.sha256).is_some_and(|m| m.copy_of.is_some() || doc.confidentiality == Confidentiality::Public)
    }

    /// The manifest of a complete version (of this reader's copy of it).
    pub fn manifest(&self, sha256: &str) -> Option<Arc<Manifest>> {
        self.complete.lock().expect("cache index").get(&self.vault.name(sha256)).cloned()
    }

    /// Chunk `i` of a version, from its slot, decrypted. Its hash was
    /// checked when it arrived; the seal, bound to the chunk's hash, now
    /// proves it is that same chunk, unchanged.
    fn slot_chunk(&self, file: &mut std::fs::File, m: &Manifest, slot: (u64, usize), i: usize) -> anyhow::Result<Vec<u8>> {
        let sealed = read_at(file, slot.0, slot.1)?;
        self.vault.open(&self.chunk_label(&m.chunks[i].hash), &sealed)
    }

    /// Bytes `start..end` of the complete version `version` (described by
    /// `m`), chunk by chunk, each decrypted as it is needed.
    pub fn read_range(
        &self,
        version: &str,
        m: &Arc<Manifest>,
        start: u64,
        end: u64,
    ) -> impl Iterator<Item = anyhow::Result<Vec<u8>>> + Send + 'static {
        let this = self.clone();
        let m = m.clone();
        let path = self.data_path(version);
        let version = version.to_string();
        let mut file: Option<std::fs::File> = None;
        let pieces: Vec<(usize, u64, u64)> = m
            .chunks
            .iter()
            .zip(m.offsets())
            .enumerate()
            .filter(|(_, (c, at))| *at < end && at + u64::from(c.len) > start)
            .map(|(i, (c, at))| (i, start.saturating_sub(at), (end - at).min(u64::from(c.len))))
            .collect();
        let all = slots(&m);
        pieces.into_iter().map(move |(i, from, to)| {
            if file.is_none() {
                file = Some(std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?);
            }
            let bytes = this.slot_chunk(file.as_mut().expect("opened"), &m, all[i], i).inspect_err(|e| {
                // A seal that no longer opens, or a read that fails: the
                // file is damaged (a bad sector of the tablet's flash).
                // Served from it, the document would stop at the same
                // place every time, and it would never be fetched again.
                tracing::warn!(error = %format!("{e:#}"), "a cached document is damaged: it is fetched again");
                this.forget_damaged(&version);
            })?;
            Ok(bytes[from as usize..to as usize].to_vec())
        })
    }

    /// Drops a complete version whose file turned out damaged, files and
    /// all, so that it is relayed from the room and fetched again whole
    /// (none of its chunks lent to another download); [`Self::damaged`]
    /// says so.
    pub fn forget_damaged(&self, sha256: &str) {
        self.forget(sha256);
        self.damage.notify_one();
    }

    /// Drops a version, complete or not, files and all.
    pub fn forget(&self, sha256: &str) {
        self.complete.lock().expect("cache index").remove(&self.vault.name(sha256));
        let data = self.data_path(sha256);
        self.held.lock().expect("cache index").retain(|_, slot| slot.file != data);
        for path in [self.manifest_path(sha256).0, data] {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove a cached document");
            }
        }
    }

    /// Completes when a complete version was found damaged and dropped
    /// (at once if one was since the last call).
    pub async fn damaged(&self) {
        self.damage.notified().await
    }

    /// A whole complete document, in memory (tests, small documents).
    pub fn read_doc(&self, sha256: &str) -> anyhow::Result<Vec<u8>> {
        let m = self.manifest(sha256).context("not in the cache")?;
        self.read_range(sha256, &m, 0, m.size).collect::<anyhow::Result<Vec<_>>>().map(|v| v.concat())
    }

    /// Removes what was half written when the agent or the tablet last
    /// stopped (a crash, the battery), which would otherwise stay for good.
    /// Only for the agent holding the cache's lock: no other is writing.
    pub fn sweep(&self) {
        for entry in std::fs::read_dir(self.dir.join("tmp")).into_iter().flatten().flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }

    /// A file name under `tmp/` of this cache, for a file written whole
    /// and then renamed into place.
    pub fn tmp_path(&self, what: &str) -> PathBuf {
        self.dir.join("tmp").join(format!("{what}-{:016x}", rand::random::<u64>()))
    }

    /// Seals `bytes` and writes them under `path` atomically.
    fn put(&self, path: &Path, label: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let tmp = self.tmp_path("put");
        let written = std::fs::write(&tmp, self.vault.seal(label, bytes)).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            // A half-written file on a full disk would keep it full.
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(written?)
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

    /// Removes every version the meeting no longer lists for this reader:
    /// replaced or removed documents, documents the reader may no longer
    /// read, and unfinished downloads of any of them. `current` holds the
    /// SHA-256 of each document the meeting lists now; call it only once they
    /// are all complete, since older versions lend their chunks to newer
    /// ones. Returns how many versions went.
    pub fn prune(&self, current: &[&str]) -> anyhow::Result<usize> {
        let keep: std::collections::HashSet<String> = current.iter().map(|sha| self.vault.name(sha)).collect();
        let kept = |file_name: &str| keep.contains(file_name.strip_suffix(".data").unwrap_or(file_name));
        // Out of the indexes first, so nothing reads or copies from a file
        // about to go; a file that cannot be removed now is indexed again
        // at the next start and removed by the next prune.
        self.complete.lock().expect("cache index").retain(|name, _| keep.contains(name));
        self.held.lock().expect("cache index").retain(|_, slot| slot.file.file_name().is_some_and(|n| kept(&n.to_string_lossy())));
        let (mut gone, mut failed) = (0, None);
        for entry in std::fs::read_dir(self.dir.join("docs"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if kept(&name) {
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => gone += usize::from(!name.ends_with(".data")),
                Err(e) => failed = Some(anyhow::Error::from(e).context(format!("cannot remove {}", entry.path().display()))),
            }
        }
        failed.map_or(Ok(gone), Err)
    }

    /// Does the cache hold any version (whole or in part) but those in
    /// `keep`, by their SHA-256? What [`Self::prune`] would remove.
    pub fn holds_other_than(&self, keep: &[&str]) -> bool {
        let keep: std::collections::HashSet<String> = keep.iter().map(|sha| self.vault.name(sha)).collect();
        let Ok(entries) = std::fs::read_dir(self.dir.join("docs")) else { return false };
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            !keep.contains(name.strip_suffix(".data").unwrap_or(&name))
        })
    }

    /// Gives back the space of a version not complete (the part of it kept
    /// so far), when the tablet's storage could not take the rest.
    pub fn discard_partial(&self, sha256: &str) -> std::io::Result<()> {
        if self.has(sha256) {
            return Ok(());
        }
        let path = self.data_path(sha256);
        self.held.lock().expect("cache index").retain(|_, slot| slot.file != path);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes every cached document (a revoked tablet, a new key); the
    /// agent removes its own files itself.
    pub fn wipe(&self) -> anyhow::Result<()> {
        // (`chunks/` held one file per chunk before documents had one file each.)
        for sub in ["docs", "chunks", "tmp"] {
            let d = self.dir.join(sub);
            if d.exists() {
                std::fs::remove_dir_all(&d)?;
            }
        }
        for sub in ["docs", "tmp"] {
            std::fs::create_dir_all(self.dir.join(sub))?;
        }
        self.held.lock().expect("cache index").clear();
        self.complete.lock().expect("cache index").clear();
        Ok(())
    }

    /// Hashes the chunks already in their slots, from `h.next` up to (not
    /// including) `upto`.
    fn hash_held(&self, file: &mut std::fs::File, m: &Manifest, all: &[(u64, usize)], h: &mut Hashed, upto: usize) -> anyhow::Result<()> {
        while h.next < upto {
            let bytes = self.slot_chunk(file, m, all[h.next], h.next).with_context(|| format!("chunk {} went bad in the cache", h.next))?;
            h.sha.update(&bytes);
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
        storage(self.put(&path, &label, &serde_json::to_vec(m)?))?;
        self.index(&self.vault.name(version), m.clone());
        Ok(())
    }

    /// Prepares the data file of `version`: keeps the slots that already
    /// hold their chunk, copies in the chunks a complete version holds, and
    /// returns the indices still missing, with how many were resumed and
    /// reused and their bytes.
    fn scan(&self, m: &Manifest, version: &str) -> anyhow::Result<(Vec<u32>, usize, usize, u64)> {
        let all = slots(m);
        let total: u64 = all.last().map(|(o, l)| o + *l as u64).unwrap_or(0);
        let path = self.data_path(version);
        let existed = path.is_file();
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        if file.metadata()?.len() < total {
            file.set_len(total)?;
        }
        let (mut missing, mut resumed, mut reused, mut have) = (vec![], 0, 0, 0u64);
        for (i, c) in m.chunks.iter().enumerate() {
            if existed && self.slot_chunk(&mut file, m, all[i], i).is_ok() {
                resumed += 1;
                have += u64::from(c.len);
                continue;
            }
            let elsewhere = self.held.lock().expect("cache index").get(&c.hash).cloned().filter(|s| s.file != path);
            let copied = elsewhere.and_then(|s| {
                let sealed = std::fs::File::open(&s.file).and_then(|mut f| read_at(&mut f, s.offset, s.len)).ok()?;
                self.vault.open(&self.chunk_label(&c.hash), &sealed).ok()?;
                file.seek(SeekFrom::Start(all[i].0)).ok()?;
                file.write_all(&sealed).ok()
            });
            if copied.is_some() {
                reused += 1;
                have += u64::from(c.len);
            } else {
                missing.push(i as u32);
            }
        }
        Ok((missing, resumed, reused, have))
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
        if self.fits(doc) {
            progress(doc.size);
            return Ok(FetchStats { was_cached: true, ..Default::default() });
        }
        anyhow::ensure!(valid_hex(&doc.sha256), "the document's hash {:?} is not a SHA-256", doc.sha256);
        let (_send, mut recv) =
            link::open_request(conn, &StreamRequest::Manifest { token: token.into(), meeting, document: doc.id }).await?;
        let m = match link::read_reply(&mut recv).await? {
            StreamReply::Manifest { manifest } => manifest,
            StreamReply::Error { code, message } => return Err(RoomRefused { code, message }.into()),
            other => bail!("unexpected reply {other:?}"),
        };
        // The version itself, or this reader's stamped copy of it.
        let names_it = match &m.copy_of {
            None => m.sha256 == doc.sha256 && m.size == doc.size,
            Some(of) => *of == doc.sha256 && valid_hex(&m.sha256),
        };
        if !names_it {
            return Err(StateBehind.into());
        }
        anyhow::ensure!(
            m.is_consistent() && m.chunks.iter().all(|c| valid_hex(&c.hash)),
            "the room sent a manifest that is not consistent"
        );
        let mut stats = FetchStats { chunks: m.chunks.len(), ..Default::default() };
        // Which slots already hold their chunk (a download cut short), and
        // which chunks a complete version holds (copied over, still sealed).
        let (this, m, version) = (self.clone(), Arc::new(m), doc.sha256.clone());
        let (m2, v2) = (m.clone(), version.clone());
        let (missing, resumed, reused, have) = storage(tokio::task::spawn_blocking(move || this.scan(&m2, &v2)).await?)?;
        (stats.resumed, stats.reused) = (resumed, reused);
        let mut have = have;
        progress(have);
        // The whole file's SHA-256 is taken in order as the chunks come in:
        // each chunk already in its slot before the next fetched one is read
        // back into it then, so no pass over the file is needed at the end.
        let all = Arc::new(slots(&m));
        let data = self.data_path(&version);
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
                StreamReply::Error { code, message } => return Err(RoomRefused { code, message }.into()),
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
                let (this, title, m, all, data, mut h) =
                    (self.clone(), doc.title.clone(), m.clone(), all.clone(), data.clone(), hashed.take());
                pending = Some(tokio::task::spawn_blocking(move || {
                    let i = i as usize;
                    let c = &m.chunks[i];
                    if bytes.len() != c.len as usize || pack::hash_chunk(&bytes) != c.hash {
                        bail!("chunk {i} of {title} arrived damaged");
                    }
                    let mut keep = || -> anyhow::Result<()> {
                        let mut file = std::fs::OpenOptions::new().read(true).write(true).open(&data)?;
                        this.hash_held(&mut file, &m, &all, &mut h, i)?;
                        file.seek(SeekFrom::Start(all[i].0))?;
                        file.write_all(&this.vault.seal(&this.chunk_label(&c.hash), &bytes))?;
                        Ok(())
                    };
                    storage(keep())?;
                    h.sha.update(&bytes);
                    h.next = i + 1;
                    Ok((h, bytes.len()))
                }));
            }
            if let Some(p) = pending.take() {
                let (h, n) = p.await??;
                hashed = h;
                stats.kept(n, &mut have, progress);
            }
        }
        // The chunks in their slots after the last one fetched, then the check.
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut h = hashed;
            let mut flush = || -> anyhow::Result<()> {
                // Opened for writing too: on Windows, flushing a file to disk
                // needs a handle that may write it ("Access denied" otherwise).
                let mut file = std::fs::OpenOptions::new().read(true).write(true).open(&data)?;
                this.hash_held(&mut file, &m, &all, &mut h, m.chunks.len())?;
                file.sync_data().with_context(|| format!("cannot flush {} to disk", data.display()))
            };
            storage(flush())?;
            this.finish(&m, &version, h.sha)
        })
        .await??;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_system_refuses_is_a_storage_failure() {
        let full: anyhow::Result<()> =
            Err(anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::StorageFull)).context("cannot write chunk 3"));
        assert!(storage(full).unwrap_err().downcast_ref::<StorageFailed>().is_some());
        let bad: anyhow::Result<()> = Err(anyhow::anyhow!("aead::Error").context("chunk 3 went bad in the cache"));
        let bad = storage(bad).unwrap_err();
        assert!(bad.downcast_ref::<StorageFailed>().is_none(), "{bad:#}");
    }

    #[test]
    fn files_left_half_written_by_a_crash_are_swept_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Arc::new(crate::vault::Vault::open_or_create(dir.path(), "123456").unwrap());
        let cache = Cache::open(dir.path().join("cache"), vault.clone()).unwrap();
        cache.keep("state", b"{\"seq\":1}").unwrap();
        let stray = dir.path().join("cache/tmp/put-00000000deadbeef");
        std::fs::write(&stray, vec![7u8; 4096]).unwrap();
        drop(cache);
        let cache = Cache::open(dir.path().join("cache"), vault).unwrap();
        cache.sweep();
        assert!(!stray.exists(), "a half-written file stayed");
        assert_eq!(cache.kept("state").as_deref(), Some(&b"{\"seq\":1}"[..]), "what was kept stays");
    }

    #[test]
    fn a_file_that_cannot_be_kept_leaves_no_half_written_copy() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Arc::new(crate::vault::Vault::open_or_create(dir.path(), "123456").unwrap());
        let cache = Cache::open(dir.path().join("cache"), vault).unwrap();
        cache.keep("state", b"{\"seq\":1}").unwrap();
        assert_eq!(cache.kept("state").as_deref(), Some(&b"{\"seq\":1}"[..]));
        // The sealed copy is written, then cannot take its place: a
        // directory is in the way. (A full disk fails the same steps.)
        std::fs::create_dir_all(dir.path().join("cache/session/inside")).unwrap();
        assert!(cache.keep("session", b"token").is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path().join("cache/tmp")).unwrap().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        assert_eq!(cache.kept("state").as_deref(), Some(&b"{\"seq\":1}"[..]), "the other file is untouched");
    }
}
