//! Documents: upload by the secretary, download by those allowed to read.
//!
//! Content lives in `DATA_DIR/documents/<sha256>`, written under a temporary
//! name and renamed only once complete, so a server killed mid-upload leaves
//! no half file under a real name. Uploads are PDF only, checked by content
//! (header and end-of-file marker), and limited by `--max-upload`. Downloads
//! honour HTTP ranges and `If-None-Match` (the ETag is the content hash).

use crate::AppState;
use crate::auth::Auth;
use crate::error::{Error, Result};
use crate::http::ApiPath;
use crate::http::idempotency_key;
use crate::meeting::{NewDocument, Op};
use axum::body::Body;
use axum::extract::{Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gavel_shared::model::*;
use gavel_shared::pack::Manifest;
use gavel_shared::protocol::{CommandKind, CommandResult};
use gavel_shared::rules;
use sha2::{Digest, Sha256};
use std::path::{Path as FsPath, PathBuf};
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;

/// Which reader's copy of which original: (original, reader kind, reader).
type CopyKey = (String, &'static str, i64);

/// The document store on disk.
pub struct Store {
    dir: PathBuf,
    pub(crate) tmp: PathBuf,
    /// Manifests already computed, by content hash (content never changes).
    manifests: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Manifest>>>,
    /// Read-held while a reader's stamped copy is put in the store and
    /// recorded ([`crate::watermark`]); written by [`Store::collect`].
    pub(crate) copying: tokio::sync::RwLock<()>,
    /// One lock per reader's copy being made (original, reader kind,
    /// reader): a copy is made once however many requests ask for it.
    making: std::sync::Mutex<std::collections::HashMap<CopyKey, std::sync::Weak<tokio::sync::Mutex<()>>>>,
    /// Read-held by an upload from its file's arrival in the store until its
    /// row is written; written by [`Store::collect`], which must not take
    /// such a file for one no document refers to.
    storing: tokio::sync::RwLock<()>,
}

impl Store {
    /// Opens (creating) `DATA_DIR/documents` and clears unfinished uploads.
    pub async fn open(data_dir: &FsPath) -> anyhow::Result<Store> {
        let dir = content_dir(data_dir);
        let tmp = data_dir.join("tmp");
        tokio::fs::create_dir_all(&dir).await?;
        if tmp.exists() {
            tokio::fs::remove_dir_all(&tmp).await?;
        }
        tokio::fs::create_dir_all(&tmp).await?;
        Ok(Store {
            dir,
            tmp,
            manifests: Default::default(),
            copying: Default::default(),
            making: Default::default(),
            storing: Default::default(),
        })
    }

    /// The lock held while the copy of `original` for this reader is made.
    pub(crate) fn making(&self, original: String, kind: &'static str, reader: i64) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut making = self.making.lock().expect("copy locks");
        making.retain(|_, lock| lock.strong_count() > 0);
        let key = (original, kind, reader);
        if let Some(lock) = making.get(&key).and_then(std::sync::Weak::upgrade) {
            return lock;
        }
        let lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        making.insert(key, std::sync::Arc::downgrade(&lock));
        lock
    }

    /// Deletes from the store what no document refers to any more: the
    /// content of removed documents (or of removed agenda items'), their
    /// readers' stamped copies and their chunk manifests. A removed
    /// restricted document must not stay on the room's disk, where a backup
    /// of the data directory or a lost machine would still carry it.
    /// Returns how many files were deleted.
    pub async fn collect(&self, db: &crate::store::Db) -> anyhow::Result<usize> {
        let _uploads = self.storing.write().await;
        let _copies = self.copying.write().await;
        sqlx::query("DELETE FROM reader_copies WHERE original NOT IN (SELECT sha256 FROM documents)").execute(db).await?;
        let kept: std::collections::HashSet<String> =
            sqlx::query_scalar("SELECT sha256 FROM documents UNION SELECT sha256 FROM reader_copies")
                .fetch_all(db)
                .await?
                .into_iter()
                .collect();
        self.manifests.lock().expect("manifest cache").retain(|sha, _| kept.contains(sha));
        let dir = self.dir.clone();
        let deleted = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            let mut deleted = 0;
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let sha = name.strip_suffix(".chunks.json").unwrap_or(&name);
                let stored = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
                if !stored || kept.contains(sha) {
                    continue;
                }
                // A file still being sent stays readable to its sender on
                // Unix; Windows refuses, and the next collection tries again.
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => deleted += 1,
                    Err(e) => tracing::warn!(file = %entry.path().display(), error = %e, "cannot delete content no document refers to"),
                }
            }
            Ok(deleted)
        })
        .await??;
        Ok(deleted)
    }

    /// Runs [`Store::collect`] now and each time `freed` is notified (a
    /// document or an agenda item was removed), until `stop` changes.
    pub async fn keep_collected(&self, db: &crate::store::Db, freed: &tokio::sync::Notify, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.collect(db).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "deleted the content of removed documents"),
                Err(e) => tracing::warn!(error = %e, "cannot collect the content of removed documents"),
            }
            tokio::select! {
                _ = freed.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Where the content with this hash lives.
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// The chunk manifest of stored content, computed on first use and kept
    /// beside it as `<sha256>.chunks.json` (a pure function of the content).
    pub async fn manifest(&self, sha256: &str, size: u64) -> Result<std::sync::Arc<Manifest>> {
        if let Some(m) = self.manifests.lock().expect("manifest cache").get(sha256) {
            return Ok(m.clone());
        }
        let path = self.path(sha256);
        let side = self.dir.join(format!("{sha256}.chunks.json"));
        let known = tokio::fs::read(&side).await.ok().and_then(|b| serde_json::from_slice::<Manifest>(&b).ok());
        let manifest = match known.filter(|m| m.sha256 == sha256 && m.size == size && m.is_consistent()) {
            Some(m) => m,
            None => {
                let (sha, tmp) = (sha256.to_string(), self.tmp.join(format!("cdc-{}", hex::encode(rand::random::<[u8; 8]>()))));

                let missing = !tokio::fs::try_exists(&path).await.unwrap_or(true);
                if missing {
                    tracing::error!(%sha256, path = %path.display(), "a document's file is missing from the room's disk");
                    return Err(Error::FileMissing);
                }
                tokio::task::spawn_blocking(move || -> anyhow::Result<Manifest> {
                    let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path)?);
                    let chunks = gavel_shared::pack::chunk_reader(file)?;
                    let m = Manifest { sha256: sha, size, chunks, copy_of: None };
                    anyhow::ensure!(m.is_consistent(), "the content of {} is not {size} bytes long", path.display());
                    std::fs::write(&tmp, serde_json::to_vec(&m)?)?;
                    std::fs::rename(&tmp, &side)?;
                    Ok(m)
                })
                .await
                .map_err(|e| Error::Internal(e.into()))?
                .map_err(Error::from)?
            }
        };
        let m = std::sync::Arc::new(manifest);
        self.manifests.lock().expect("manifest cache").insert(sha256.to_string(), m.clone());
        Ok(m)
    }

    /// Stores bytes (for documents the server makes itself) and returns
    /// their hash.
    pub async fn put(&self, bytes: &[u8]) -> Result<String> {
        let sha = hex::encode(Sha256::digest(bytes));
        let path = self.path(&sha);
        if !path.exists() {
            let tmp = self.tmp.join(format!("put-{}", hex::encode(rand::random::<[u8; 8]>())));
            let mut f = tokio::fs::File::create(&tmp).await?;
            f.write_all(bytes).await?;
            f.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await?;
            sync_dir_async(&self.dir).await?;
        }
        Ok(sha)
    }
}

/// How many bytes of the head and tail are kept to check the PDF markers.
const MARKER_WINDOW: usize = 1024;

/// Checks that bytes look like a whole PDF: `%PDF-` near the start and
/// `%%EOF` near the end (a truncated or renamed file fails).
pub fn looks_like_pdf(head: &[u8], tail: &[u8]) -> bool {
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    contains(head, b"%PDF-") && contains(tail, b"%%EOF")
}

/// The head and tail of an upload as it streams in, for [`looks_like_pdf`].
#[derive(Default)]
pub struct Markers {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Markers {
    /// Takes the next piece of the upload.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.head.len() < MARKER_WINDOW {
            let take = (MARKER_WINDOW - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.tail.extend_from_slice(&chunk[chunk.len().saturating_sub(MARKER_WINDOW)..]);
        if self.tail.len() > MARKER_WINDOW {
            self.tail.drain(..self.tail.len() - MARKER_WINDOW);
        }
    }

    /// Whether what arrived looks like a whole PDF.
    pub fn look_like_pdf(&self) -> bool {
        looks_like_pdf(&self.head, &self.tail)
    }
}

struct Upload {
    tmp: PathBuf,
    sha256: String,
    size: u64,
    file_name: String,
}

/// Removes a temporary file when the upload fails half-way.
struct TmpGuard(Option<PathBuf>);

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError, limit: u64) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE { Error::TooLarge { limit } } else { Error::bad_request("bad_upload", e.body_text()) }
}

/// `POST /api/meetings/{id}/items/{item}/documents`: multipart with `file`
/// (the PDF), and optionally `title`, `confidentiality`, `readers`
/// (comma-separated participant ids).
pub async fn upload(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath((meeting, item)): ApiPath<(i64, i64)>,
    headers: axum::http::HeaderMap,
    multipart: std::result::Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response> {
    // Not a multipart form: said as JSON, like any refusal.
    let mut multipart = multipart.map_err(|e| Error::bad_request("bad_upload", e.body_text()))?;
    let handle = app.meetings.get(MeetingId(meeting)).await?;
    // Refuse early, before reading a byte of the body.
    let state = handle.state().await;
    rules::allowed(&state, &actor, CommandKind::UploadDocument)?;
    state.item(ItemId(item)).ok_or(Error::NotFound("agenda item"))?;
    drop(state);

    let limit = app.config.max_upload;
    let mut guard = TmpGuard(None);
    let mut upload: Option<Upload> = None;
    let (mut title, mut confidentiality, mut readers) = (None, Confidentiality::Public, Vec::new());
    while let Some(mut field) = multipart.next_field().await.map_err(|e| multipart_error(e, limit))? {
        match field.name().unwrap_or("") {
            "file" => {
                // One file per upload: a second would leave the first's
                // temporary file behind, unreferenced, until a restart.
                if upload.is_some() {
                    return Err(Error::bad_request("bad_upload", "the form has more than one 'file' field"));
                }
                let file_name = short_file_name(&gavel_shared::text::clean(field.file_name().unwrap_or("document.pdf")));
                let tmp = app.documents.tmp.join(format!("up-{}", hex::encode(rand::random::<[u8; 8]>())));
                guard.0 = Some(tmp.clone());
                let mut out = tokio::fs::File::create(&tmp).await?;
                let (mut hasher, mut size) = (Sha256::new(), 0u64);
                let mut markers = Markers::default();
                while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
                    size += chunk.len() as u64;
                    if size > limit {
                        return Err(Error::TooLarge { limit });
                    }
                    hasher.update(&chunk);
                    markers.feed(&chunk);
                    out.write_all(&chunk).await?;
                }
                if !markers.look_like_pdf() {
                    return Err(Error::NotAPdf);
                }
                out.sync_all().await?;
                upload = Some(Upload { tmp, sha256: hex::encode(hasher.finalize()), size, file_name });
            }
            "title" => title = Some(field.text().await.map_err(|e| multipart_error(e, limit))?),
            "confidentiality" => {
                let v = field.text().await.map_err(|e| multipart_error(e, limit))?;
                confidentiality = Confidentiality::parse(v.trim())
                    .ok_or_else(|| Error::bad_request("invalid", format!("unknown confidentiality {v:?}")))?;
            }
            "readers" => {
                let v = field.text().await.map_err(|e| multipart_error(e, limit))?;
                for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let id = part.parse().map_err(|_| Error::bad_request("invalid", format!("bad participant id {part:?}")))?;
                    readers.push(ParticipantId(id));
                }
            }
            other => return Err(Error::bad_request("bad_upload", format!("unexpected field {other:?}"))),
        }
    }
    let upload = upload.ok_or_else(|| Error::bad_request("bad_upload", "the form has no 'file' field"))?;
    let title = gavel_shared::text::clean(&title.unwrap_or_default());
    let title = if title.is_empty() { upload.file_name.trim_end_matches(".pdf").trim_end_matches(".PDF").to_string() } else { title };
    // Checked before the content is kept, and again by the meeting's writer.
    rules::check_document_title(&title)?;
    if confidentiality == Confidentiality::Secret && !app.config.allow_secret_documents {
        // Refused here too, so the content never reaches the store.
        return Err(Error::Forbidden(
            "this room does not accept state-secret (\"mật\") documents: the rules for state secrets require a room set up for them \
             (started with --allow-secret-documents)",
        ));
    }
    if confidentiality != Confidentiality::Public {
        // Its readers get stamped copies: a PDF that cannot be stamped
        // would be unreadable to them, so it is refused now.
        app.pdf.check(&upload.tmp).await.map_err(unstampable)?;
    }
    // Readers unknown to the meeting are refused before the content is
    // kept (the writer checks again); a refusal after it is kept leaves
    // the collector to take it back.
    {
        let state = handle.state().await;
        for r in &readers {
            state.participant(*r).ok_or(Error::NotFound("participant"))?;
        }
    }
    // Until its row is written, no collection may take the file for one no
    // document refers to.
    let _storing = app.documents.storing.read().await;
    let final_path = app.documents.path(&upload.sha256);
    if final_path.exists() {
        tokio::fs::remove_file(&upload.tmp).await?;
    } else {
        tokio::fs::rename(&upload.tmp, &final_path).await?;
        // Before its row is committed: a power cut must not keep the row and lose the file.
        sync_dir_async(&app.documents.dir).await?;
    }
    guard.0 = None;
    // Cut it into chunks now, so the first tablet to ask does not wait.
    let (store_app, sha, size) = (app.clone(), upload.sha256.clone(), upload.size);
    tokio::spawn(async move {
        if let Err(e) = store_app.documents.manifest(&sha, size).await {
            tracing::warn!(error = %e, "cannot cut the upload into chunks");
        }
    });
    readers.sort();
    readers.dedup();
    let doc = NewDocument {
        item: ItemId(item),
        title,
        file_name: upload.file_name,
        size: upload.size,
        sha256: upload.sha256,
        confidentiality,
        readers,
    };
    let outcome = match handle.execute(actor, &idempotency_key(&headers), Op::AttachDocument(doc)).await {
        Ok(o) => o,
        Err(e) => {
            // Refused once kept (the item removed meanwhile, the meeting
            // closed): the content may belong to no document.
            drop(_storing);
            app.meetings.services().content_freed.notify_one();
            return Err(e);
        }
    };
    let CommandResult::Created { id } = outcome.result else {
        return Err(Error::Internal(anyhow::anyhow!("attach returned {:?}", outcome.result)));
    };
    let state = handle.state().await;
    let document = state.document(DocumentId(id)).cloned();
    Ok((StatusCode::CREATED, axum::Json(serde_json::json!({ "id": id, "seq": outcome.seq, "document": document }))).into_response())
}

/// Flushes a directory's entries (a file renamed into it) to disk: the
/// rename itself is durable only then. A no-op where directories cannot be
/// opened (Windows).
pub fn sync_dir(dir: &FsPath) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

async fn sync_dir_async(dir: &FsPath) -> Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || sync_dir(&dir)).await.map_err(|e| Error::Internal(e.into()))??;
    Ok(())
}

/// A file name as the room keeps it: at most 200 characters, its extension
/// kept (the name travels in every snapshot and download; a longer one is
/// shortened, not refused).
fn short_file_name(name: &str) -> String {
    const MAX: usize = 200;
    if name.chars().count() <= MAX {
        return name.to_string();
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e).filter(|e| e.len() <= 8).map(|e| format!(".{e}")).unwrap_or_default();
    let stem: String = name.chars().take(MAX - ext.chars().count()).collect();
    format!("{}{ext}", stem.trim_end())
}

/// Where documents' contents are kept in the data directory, each under its hash.
pub fn content_dir(data_dir: &FsPath) -> PathBuf {
    data_dir.join("documents")
}

/// The refusal of a restricted document whose PDF cannot be stamped.
pub fn unstampable(e: Error) -> Error {
    match e {
        Error::Unstampable(why) => Error::Unstampable(format!(
            "a restricted document is stamped with each reader's name, and this PDF cannot be read to do so: {why}"
        )),
        e => e,
    }
}

/// `GET /api/meetings/{id}/documents/{doc}`: the PDF, for those who may read
/// it. Others get 404, as if it did not exist.
pub async fn download(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath((meeting, doc)): ApiPath<(i64, i64)>,
    req: Request,
) -> Result<Response> {
    // The session was looked up before this handler ran: looked up again
    // once the watch has started, so a revocation in between is not missed.
    let mut revocation = crate::auth::RevocationWatch::start(&app);
    if let Some(token) = crate::auth::token_in(req.headers())
        && crate::auth::is_revoked(&app.db, &token).await?
    {
        return Err(Error::Revoked);
    }
    let handle = app.meetings.get(MeetingId(meeting)).await?;
    let state = handle.state().await;
    let document = state.document(DocumentId(doc)).filter(|d| state.can_read(&actor, d)).cloned().ok_or(Error::NotFound("document"))?;
    drop(state);
    let (still, reader, id) = (handle.clone(), actor, document.id);
    // A restricted document: the reader's own stamped copy, with its own ETag.
    let served = crate::watermark::served(&app, &actor, MeetingId(meeting), &document).await?;
    let etag = format!("\"{}\"", served.sha256);
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| Error::Internal(e.into()))?;
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // Only our ETag decides what the reader already holds. Dates would
        // not: readers' stamped copies are different files, and one made
        // earlier than the copy a shared tablet's browser holds would be
        // answered "not modified", leaving the next reader with the last
        // one's copy, their name stamped on it.
        let mut req = req;
        let h = req.headers_mut();
        h.remove(header::IF_MODIFIED_SINCE);
        h.remove(header::IF_UNMODIFIED_SINCE);
        if h.get(header::IF_RANGE).is_some_and(|v| v.as_bytes() != etag.as_bytes()) {
            h.remove(header::IF_RANGE);
            h.remove(header::RANGE);
        }
        let path = app.documents.path(&served.sha256);
        let served = tower_http::services::ServeFile::new_with_mime(&path, &mime_guess::mime::APPLICATION_PDF)
            .oneshot(req)
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        if served.status() == StatusCode::NOT_FOUND {
            tracing::error!(document = %document.id, path = %path.display(), "a document's file is missing from the room's disk");
            return Err(Error::FileMissing);
        }
        // Each piece is sent only while the reader may still read the
        // document and is still signed in: taken away mid-way, or their
        // sessions revoked, the download breaks off.
        served.map(|body| {
            use futures_util::StreamExt;
            let checked = Body::new(body).into_data_stream().map(move |piece| {
                if still.still_reads(&reader, id) && !revocation.revoked(&reader) {
                    piece
                } else {
                    Err(axum::Error::new(anyhow::anyhow!("document {id}: the reader may no longer read it")))
                }
            });
            Body::from_stream(checked)
        })
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, etag_value);
    h.remove(header::LAST_MODIFIED);
    // A restricted document is not kept in the browser's cache, where it
    // would outlive the reader's right to it (and the tablet's vault).
    let cache = if document.confidentiality == Confidentiality::Public { "private, no-cache" } else { "no-store" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    let disposition = format!("inline; filename*=UTF-8''{}", percent_encode(&document.file_name));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_file_name_is_shortened_keeping_its_extension() {
        assert_eq!(short_file_name("Tờ trình.pdf"), "Tờ trình.pdf");
        let long = format!("{}.pdf", "Báo cáo ".repeat(40));
        let short = short_file_name(&long);
        assert_eq!(short.chars().count(), 200 - 1, "trailing space trimmed: {short:?}");
        assert!(short.ends_with(".pdf") && short.starts_with("Báo cáo"), "{short}");
        assert_eq!(short_file_name(&"x".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn pdf_markers_are_checked_at_both_ends() {
        assert!(looks_like_pdf(b"%PDF-1.7\n...", b"...\n%%EOF\n"));
        assert!(!looks_like_pdf(b"hello world", b"%%EOF"), "renamed text file");
        assert!(!looks_like_pdf(b"%PDF-1.7", b"truncated stream"), "truncated PDF");
    }

    #[test]
    fn file_names_are_percent_encoded() {
        assert_eq!(percent_encode("Tờ trình 1.pdf"), "T%E1%BB%9D%20tr%C3%ACnh%201.pdf");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn feed_in_pieces(bytes: &[u8], cuts: &[usize]) -> Markers {
            let mut m = Markers::default();
            let mut at = 0;
            for &c in cuts {
                let next = (at + c).min(bytes.len());
                m.feed(&bytes[at..next]);
                at = next;
            }
            m.feed(&bytes[at..]);
            m
        }

        fn verdict_on_whole(bytes: &[u8]) -> bool {
            looks_like_pdf(&bytes[..bytes.len().min(MARKER_WINDOW)], &bytes[bytes.len().saturating_sub(MARKER_WINDOW)..])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// However the network cuts an upload, the verdict is the one on
            /// the whole file: its first and last KiB.
            #[test]
            fn the_verdict_does_not_depend_on_how_the_upload_arrives(
                body in prop::collection::vec(any::<u8>(), 0..4096),
                pdf_head in any::<bool>(),
                pdf_tail in any::<bool>(),
                cuts in prop::collection::vec(0usize..1500, 0..12),
            ) {
                let mut bytes = if pdf_head { b"%PDF-1.7\n".to_vec() } else { vec![] };
                bytes.extend_from_slice(&body);
                if pdf_tail { bytes.extend_from_slice(b"\n%%EOF\n") }
                let m = feed_in_pieces(&bytes, &cuts);
                prop_assert_eq!(m.look_like_pdf(), verdict_on_whole(&bytes));
                prop_assert!(m.head.len() <= MARKER_WINDOW && m.tail.len() <= MARKER_WINDOW, "bounded memory");
            }

            /// A PDF cut short (its end marker lost), or hidden behind more
            /// than a KiB of something else, is refused.
            #[test]
            fn truncated_or_disguised_pdfs_are_refused(
                body in prop::collection::vec(any::<u8>().prop_filter("no %", |b| *b != b'%'), 0..3000),
                prefix in prop::collection::vec(any::<u8>().prop_filter("no %", |b| *b != b'%'), MARKER_WINDOW..2 * MARKER_WINDOW),
            ) {
                let mut whole = b"%PDF-1.7\n".to_vec();
                whole.extend_from_slice(&body);
                prop_assert!(!feed_in_pieces(&whole, &[7, 100]).look_like_pdf(), "no end marker");
                let mut disguised = prefix.clone();
                disguised.extend_from_slice(&whole);
                disguised.extend_from_slice(b"\n%%EOF\n");
                prop_assert!(!feed_in_pieces(&disguised, &[]).look_like_pdf(), "the PDF starts after the first KiB");
            }

            /// Whatever bytes a restricted upload holds, the worker's job
            /// answers: a refusal with a reason, or a copy that reads as a
            /// PDF again. (Stamping itself panics on some damaged PDFs,
            /// inside the parser.)
            #[test]
            fn stamping_a_restricted_upload_answers_a_copy_or_a_reason(
                body in prop::collection::vec(any::<u8>(), 0..2048),
                flips in prop::collection::vec((0usize..2048, any::<u8>()), 0..16),
            ) {
                let answers = |pdf: &[u8]| match crate::pdf_worker::job(pdf, "x") {
                    Ok(copy) => krilla::pdf::Pdf::new(copy).is_ok(),
                    Err(why) => !why.to_string().is_empty(),
                };
                prop_assert!(answers(&body));
                let mut pdf = crate::pdf::Layout::new();
                pdf.paragraph("Tờ trình", 12.0, false, crate::pdf::Align::Left, 0.0);
                let mut pdf = pdf.render("T", "vi").expect("a PDF");
                for (at, b) in flips {
                    let n = pdf.len();
                    pdf[at % n] = b;
                }
                prop_assert!(answers(&pdf));
            }
        }
    }
}
