//! The agent's cache encrypted at rest, with a key only the PIN unlocks.
//!
//! A random 256-bit key encrypts everything the agent keeps on disk: the
//! document chunks, their manifests, the meeting state and the session.
//! That key is stored only wrapped (ChaCha20-Poly1305) by a key derived from
//! the participant's PIN with argon2id, in `key.json`. So a lost tablet's
//! disk alone gives no document, no agenda and no session; reading offline
//! after the agent restarts needs the PIN again.
//!
//! File names are keyed hashes of the content hashes, so the names do not
//! tell which known document a tablet holds either.
//!
//! A six-digit PIN is a small space: someone holding the disk and willing to
//! run argon2id a million times can find it. The wrap makes each guess cost
//! a tenth of a second or more and keeps casual readers out; the room's
//! revocation, which wipes the cache at the agent's next contact, and
//! full-disk encryption on the tablet cover the rest (see docs/security.md).

use anyhow::{Context, bail};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How many bytes sealing adds (the nonce before, the tag after).
pub const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

/// The name of the wrapped key in the cache directory.
pub const KEY_FILE: &str = "key.json";

/// argon2id settings for the PIN: 32 MiB, 3 passes (about 0.1–0.5 s on a tablet).
const KDF_MEMORY_KIB: u32 = 32 * 1024;
const KDF_PASSES: u32 = 3;

/// The wrapped key as stored.
#[derive(Serialize, Deserialize)]
struct Wrapped {
    version: u32,
    kdf: String,
    memory_kib: u32,
    passes: u32,
    salt: String,
    /// Nonce and ciphertext of the cache key, hex.
    nonce: String,
    key: String,
}

/// The unlocked cache key.
pub struct Vault {
    key: LessSafeKey,
    names: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(unlocked)")
    }
}

/// Why the cache could not be unlocked.
#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    #[error("this PIN does not unlock the documents kept on this tablet")]
    WrongPin,
    /// The wrapped key cannot be read (a power cut as it was written, before
    /// its writes were made durable): nothing kept can be opened.
    #[error("the cache key file is damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn derive(pin: &str, salt: &[u8], memory_kib: u32, passes: u32) -> anyhow::Result<[u8; 32]> {
    let params = argon2::Params::new(memory_kib, passes, 1, Some(32)).map_err(|e| anyhow::anyhow!("argon2 settings: {e}"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon.hash_password_into(pin.as_bytes(), salt, &mut out).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(out)
}

fn aead(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key"))
}

impl Vault {
    /// True when `dir` holds a wrapped key (a cache made before).
    pub fn exists(dir: &Path) -> bool {
        dir.join(KEY_FILE).is_file()
    }

    /// Unlocks the cache in `dir` with `pin`, or makes a new key for it.
    pub fn open_or_create(dir: &Path, pin: &str) -> Result<Vault, UnlockError> {
        let path = dir.join(KEY_FILE);
        if path.is_file() {
            let w: Wrapped = serde_json::from_slice(&std::fs::read(&path).context("cannot read the cache key")?)
                .map_err(|e| UnlockError::Damaged(e.to_string()))?;
            if w.version != 1 || w.kdf != "argon2id" {
                return Err(anyhow::anyhow!("unknown cache key format {} {}", w.version, w.kdf).into());
            }
            let kek = derive(pin, &hex::decode(&w.salt).context("salt")?, w.memory_kib, w.passes)?;
            let nonce: [u8; NONCE_LEN] =
                hex::decode(&w.nonce).context("nonce")?.try_into().map_err(|_| anyhow::anyhow!("bad nonce length"))?;
            let mut sealed = hex::decode(&w.key).context("key")?;
            let plain = aead(&kek)
                .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(b"gavel cache key"), &mut sealed)
                .map_err(|_| UnlockError::WrongPin)?;
            let key: [u8; 32] = plain.try_into().map_err(|_| anyhow::anyhow!("bad key length"))?;
            return Ok(Vault::from_key(&key));
        }
        let key: [u8; 32] = rand::random();
        let salt: [u8; 16] = rand::random();
        let nonce: [u8; NONCE_LEN] = rand::random();
        let kek = derive(pin, &salt, KDF_MEMORY_KIB, KDF_PASSES)?;
        let mut sealed = key.to_vec();
        aead(&kek)
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(b"gavel cache key"), &mut sealed)
            .map_err(|_| anyhow::anyhow!("cannot wrap the cache key"))?;
        let w = Wrapped {
            version: 1,
            kdf: "argon2id".into(),
            memory_kib: KDF_MEMORY_KIB,
            passes: KDF_PASSES,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            key: hex::encode(sealed),
        };
        // Durable before it is used: a key lost to a power cut after the
        // documents were sealed with it would leave them unreadable.
        let tmp = dir.join(format!("{KEY_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &serde_json::to_vec(&w)?)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename itself (directories cannot be opened so on Windows).
            if let Ok(d) = std::fs::File::open(dir) {
                d.sync_all()?;
            }
            Ok(())
        };
        write().context("cannot write the cache key")?;
        Ok(Vault::from_key(&key))
    }

    fn from_key(key: &[u8; 32]) -> Vault {
        Vault { key: aead(key), names: blake3::derive_key("gavel agent cache file names v1", key) }
    }

    /// The file name for the content hash `hash` (a keyed hash of it).
    pub fn name(&self, hash: &str) -> String {
        blake3::keyed_hash(&self.names, hash.as_bytes()).to_hex().to_string()
    }

    /// Encrypts `plain`, bound to `label` (the file's role and name): a
    /// file moved under another name does not decrypt.
    pub fn seal(&self, label: &str, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + CHACHA20_POLY1305.tag_len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let mut body = out.split_off(NONCE_LEN);
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(label.as_bytes()), &mut body)
            .expect("sealing cannot fail for a buffer under 256 GiB");
        out.extend_from_slice(&body);
        out
    }

    /// Decrypts what [`Vault::seal`] made with the same `label`.
    pub fn open(&self, label: &str, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            bail!("{label}: too short to be sealed");
        }
        let nonce: [u8; NONCE_LEN] = sealed[..NONCE_LEN].try_into().expect("length checked");
        let mut body = sealed[NONCE_LEN..].to_vec();
        let n = self
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(label.as_bytes()), &mut body)
            .map_err(|_| anyhow::anyhow!("{label} does not decrypt: damaged or not ours"))?
            .len();
        body.truncate(n);
        Ok(body)
    }

    /// Reads and decrypts a file.
    pub fn read(&self, label: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
        self.open(label, &std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_unlocks_the_same_key_and_a_wrong_pin_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open_or_create(dir.path(), "123456").unwrap();
        let sealed = v.seal("chunk abc", "Tờ trình số 12".as_bytes());
        assert!(!sealed.windows(5).any(|w| w == &"trình".as_bytes()[..5]), "no plain text on disk");
        let again = Vault::open_or_create(dir.path(), "123456").unwrap();
        assert_eq!(again.open("chunk abc", &sealed).unwrap(), "Tờ trình số 12".as_bytes());
        assert_eq!(again.name("abc"), v.name("abc"));
        assert_ne!(v.name("abc"), "abc");
        assert!(again.open("chunk abd", &sealed).is_err(), "bound to its label");
        assert!(matches!(Vault::open_or_create(dir.path(), "654321"), Err(UnlockError::WrongPin)));
        let stored = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        assert!(!stored.contains(&hex::encode(blake3::derive_key("gavel agent cache file names v1", &[0; 32]))));
    }
}
