//! The meeting pack in chunks: how documents travel to native clients.
//!
//! A document version is cut into content-defined chunks (FastCDC 2020,
//! 16/64/256 KiB) and each chunk is named by its BLAKE3 hash; the version is
//! the ordered list of those hashes (its [`Manifest`]). Cut points depend on
//! the content only, so a version that changes one page shares every chunk
//! away from the change with the version before it, and a client fetches
//! only the chunks it does not hold. Each chunk is checked against its hash
//! when it arrives and the whole file against its SHA-256 when assembled.
//!
//! On QUIC, every bidirectional stream after the control stream carries one
//! request: a length-prefixed JSON [`StreamRequest`], answered by a
//! length-prefixed JSON [`StreamReply`] and then, for `chunks`, one
//! length-prefixed frame per chunk, or, for `http`, the response body until
//! the stream ends. See `docs/protocol.md`.

use crate::model::{DocumentId, MeetingId};
use serde::{Deserialize, Serialize};

/// The smallest chunk, except the last of a file.
pub const MIN_CHUNK: usize = 16 * 1024;
/// The chunk size aimed at.
pub const AVG_CHUNK: usize = 64 * 1024;
/// The largest chunk.
pub const MAX_CHUNK: usize = 256 * 1024;
/// The most chunks asked for on one stream.
pub const MAX_CHUNKS_PER_REQUEST: usize = 1024;
/// The largest JSON frame on a request stream.
pub const MAX_REQUEST_FRAME: usize = 64 * 1024;

/// One chunk of a document version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// Lowercase hex BLAKE3 of the chunk's bytes.
    pub hash: String,
    /// Its length in bytes.
    pub len: u32,
}

/// A document version as an ordered list of chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Lowercase hex SHA-256 of the whole file (the document's `sha256`).
    pub sha256: String,
    pub size: u64,
    pub chunks: Vec<ChunkRef>,
    /// Set on a reader's stamped copy of a restricted document: the `sha256`
    /// of the version it was made from (the document's `sha256` in the
    /// meeting state). `sha256` and `size` are then the copy's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<String>,
}

impl Manifest {
    /// The byte offset of each chunk, in order.
    pub fn offsets(&self) -> Vec<u64> {
        let mut at = 0u64;
        self.chunks
            .iter()
            .map(|c| {
                let here = at;
                at += u64::from(c.len);
                here
            })
            .collect()
    }

    /// True when the chunk lengths add up to the size.
    pub fn is_consistent(&self) -> bool {
        self.chunks.iter().map(|c| u64::from(c.len)).sum::<u64>() == self.size
            && self.chunks.iter().all(|c| c.len as usize <= MAX_CHUNK && c.hash.len() == 64)
    }
}

/// A request on its own QUIC stream. Every request names the session token
/// it acts for: it is checked on each request, so a revoked session loses
/// access at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamRequest {
    /// The manifest of a document the session may read.
    Manifest { token: String, meeting: MeetingId, document: DocumentId },
    /// Chunks of that document, by their index in its manifest, in the
    /// order given; `sha256` names the version the client holds a manifest of.
    Chunks { token: String, meeting: MeetingId, document: DocumentId, sha256: String, indices: Vec<u32> },
    /// An HTTP request relayed to the room's API; the request body follows
    /// until the client finishes its side of the stream.
    Http {
        #[serde(default)]
        token: Option<String>,
        method: String,
        /// Path and query, e.g. `/api/session`.
        path: String,
        #[serde(default)]
        headers: Vec<(String, String)>,
    },
}

/// The first answer on a request stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamReply {
    Manifest {
        manifest: Manifest,
    },
    /// `count` chunk frames follow.
    Chunks {
        count: u32,
    },
    /// The response body follows until the stream ends.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
    },
    Error {
        code: String,
        message: String,
    },
}

/// Cuts `source` into chunks and names each by its BLAKE3 hash.
#[cfg(feature = "chunking")]
pub fn chunk_reader(source: impl std::io::Read) -> std::io::Result<Vec<ChunkRef>> {
    let mut out = Vec::new();
    for chunk in fastcdc::v2020::StreamCDC::new(source, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK) {
        let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
        out.push(ChunkRef { hash: hash_chunk(&chunk.data), len: chunk.length as u32 });
    }
    Ok(out)
}

/// The name of a chunk: lowercase hex BLAKE3.
#[cfg(feature = "chunking")]
pub fn hash_chunk(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[cfg(all(test, feature = "chunking"))]
mod tests {
    use super::*;

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn chunks_cover_the_file_within_their_limits() {
        let data = noise(3 * 1024 * 1024 + 17, 1);
        let chunks = chunk_reader(&data[..]).unwrap();
        let m = Manifest { sha256: String::new(), size: data.len() as u64, chunks: chunks.clone(), copy_of: None };
        assert!(m.is_consistent());
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c.len as usize >= MIN_CHUNK && c.len as usize <= MAX_CHUNK));
        let offsets = m.offsets();
        for (c, at) in chunks.iter().zip(offsets) {
            assert_eq!(hash_chunk(&data[at as usize..at as usize + c.len as usize]), c.hash);
        }
    }

    #[test]
    fn an_edit_in_the_middle_leaves_the_other_chunks_alone() {
        let old = noise(4 * 1024 * 1024, 7);
        let mut new = old.clone();
        // Replace 10 KB in the middle with 12 KB of other bytes.
        new.splice(2_000_000..2_010_000, noise(12_000, 9));
        let (a, b) = (chunk_reader(&old[..]).unwrap(), chunk_reader(&new[..]).unwrap());
        let known: std::collections::HashSet<_> = a.iter().map(|c| &c.hash).collect();
        let changed = b.iter().filter(|c| !known.contains(&c.hash)).count();
        assert!(changed <= 3, "{changed} of {} chunks changed", b.len());
    }
}
