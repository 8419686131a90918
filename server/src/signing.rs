//! Signing the minutes with Ed25519.
//!
//! The key is generated once in `DATA_DIR/signing.key` (or given with
//! `--signing-key PATH`): 64 hex digits, the private seed. Each signed file
//! gets a `FILE.sig` beside it: a small JSON [`Signature`] whose `signature`
//! covers every other field as serialised here, the file's SHA-256 included.
//! [`verify`] needs only the file, the `.sig` and (ideally) the public key.

use anyhow::{Context, bail};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The server's signing key.
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    /// Loads the key at `path`, or (no path given) `DATA_DIR/signing.key`,
    /// creating the latter on first use.
    pub fn load_or_create(data_dir: &Path, path: Option<&Path>) -> anyhow::Result<Signer> {
        let (file, create) = match path {
            Some(p) => (p.to_path_buf(), false),
            None => (data_dir.join("signing.key"), true),
        };
        if !file.exists() {
            if !create {
                bail!("the signing key {} does not exist", file.display());
            }
            let seed: [u8; 32] = rand::random();
            write_whole(&file, hex::encode(seed).as_bytes(), true)?;
            tracing::info!(path = %file.display(), "generated the signing key for the minutes");
        }
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read the signing key {}", file.display()))?;
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("{}: a signing key is 64 hex digits (an Ed25519 seed)", file.display()))?;
        Ok(Signer { key: SigningKey::from_bytes(&seed) })
    }

    /// The public key, lowercase hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Signs a file's bytes for the minutes of `meeting`, version `version`.
    pub fn sign(&self, fields: SignedFields) -> Signature {
        let message = serde_json::to_vec(&fields).expect("fields serialise");
        let signature = hex::encode(self.key.sign(&message).to_bytes());
        Signature { fields, signature }
    }
}

/// Writes a file the room makes once and keeps (its keys, its
/// certificate) whole or not at all: under a temporary name of its own,
/// flushed, then linked into place only if nothing is there yet. A room
/// killed mid-write leaves no truncated key that would stop it from
/// starting again; two processes making it at once keep the first one's
/// (the caller reads what is there). `private`: readable by the room's user alone.
pub(crate) fn write_whole(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("part-{}", hex::encode(rand::random::<[u8; 6]>())));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(anyhow::Error::from(e).context(format!("cannot create {}", path.display()))),
    }
    if let Some(dir) = path.parent() {
        crate::documents::sync_dir(dir)?;
    }
    Ok(())
}

/// What a signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedFields {
    /// Always "gavel-minutes/1".
    pub format: String,
    pub meeting: i64,
    pub meeting_title: String,
    pub minutes_version: u32,
    pub file: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// Head of the SHA-256 chain over the meeting's event log, and its `seq`.
    pub log_head: String,
    pub log_seq: u64,
    pub signed_at: String,
    /// Lowercase hex Ed25519 public key.
    pub public_key: String,
}

/// A `.sig` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    #[serde(flatten)]
    pub fields: SignedFields,
    /// Lowercase hex Ed25519 signature of the JSON of `fields`.
    pub signature: String,
}

/// The result of checking a file against its signature.
#[derive(Debug)]
pub struct Verified {
    pub fields: SignedFields,
    /// False when no public key was given and the one in the `.sig` was used.
    pub key_given: bool,
}

/// Checks `file` against `sig`, with `public_key` (hex) when given.
pub fn verify(file: &[u8], sig: &Signature, public_key: Option<&str>) -> anyhow::Result<Verified> {
    let sha = hex::encode(Sha256::digest(file));
    if sha != sig.fields.sha256 {
        bail!("the file is not the signed one: its SHA-256 is {sha}, the signature is for {}", sig.fields.sha256);
    }
    let key_hex = public_key.map(|k| k.trim().to_lowercase()).unwrap_or_else(|| sig.fields.public_key.clone());
    if public_key.is_some() && key_hex != sig.fields.public_key {
        bail!("the signature names public key {}, not the one given ({key_hex})", sig.fields.public_key);
    }
    let key_bytes: [u8; 32] = hex::decode(&key_hex).ok().and_then(|b| b.try_into().ok()).context("a public key is 64 hex digits")?;
    let key = VerifyingKey::from_bytes(&key_bytes).context("not an Ed25519 public key")?;
    let sig_bytes: [u8; 64] = hex::decode(&sig.signature).ok().and_then(|b| b.try_into().ok()).context("a signature is 128 hex digits")?;
    let message = serde_json::to_vec(&sig.fields).expect("fields serialise");
    key.verify(&message, &ed25519_dalek::Signature::from_bytes(&sig_bytes)).context("the signature does not match")?;
    Ok(Verified { fields: sig.fields.clone(), key_given: public_key.is_some() })
}

/// Reads a public key file: 64 hex digits, possibly with a comment line.
pub fn read_public_key(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .map(str::trim)
        .find(|l| l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .map(|l| l.to_lowercase())
        .with_context(|| format!("{} holds no 64-hex-digit public key", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &Signer, file: &[u8]) -> SignedFields {
        SignedFields {
            format: "gavel-minutes/1".into(),
            meeting: 1,
            meeting_title: "Họp".into(),
            minutes_version: 1,
            file: "bien-ban.pdf".into(),
            sha256: hex::encode(Sha256::digest(file)),
            log_head: "00".into(),
            log_seq: 9,
            signed_at: "2026-11-23T10:00:00Z".into(),
            public_key: s.public_key_hex(),
        }
    }

    #[test]
    fn signatures_verify_and_catch_changes() {
        let dir = tempfile::tempdir().unwrap();
        let s = Signer::load_or_create(dir.path(), None).unwrap();
        let again = Signer::load_or_create(dir.path(), None).unwrap();
        assert_eq!(s.public_key_hex(), again.public_key_hex(), "the key is kept");
        let file = b"%PDF-1.7 minutes".to_vec();
        let sig = s.sign(fields(&s, &file));
        assert!(verify(&file, &sig, Some(&s.public_key_hex())).is_ok());
        let mut changed = file.clone();
        changed[3] ^= 1;
        assert!(verify(&changed, &sig, None).is_err(), "one byte changed");
        let mut forged = sig.clone();
        forged.fields.meeting = 2;
        assert!(verify(&file, &forged, None).is_err(), "fields changed");
        let other = Signer::load_or_create(tempfile::tempdir().unwrap().path(), None).unwrap();
        assert!(verify(&file, &sig, Some(&other.public_key_hex())).is_err(), "another key");
    }
}
