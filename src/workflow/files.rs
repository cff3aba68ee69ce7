//! Uploaded files live outside the database behind [`FileStore`]. The
//! local-folder store is the default; an S3-compatible store implements the
//! same three calls. Keys are random, never derived from the uploaded name.
//!
//! Every instance of microcred must see the same files, because an upload
//! reaches one instance and its download may reach another: the folder of
//! [`LocalFileStore`] must be shared storage (a network mount) when several
//! instances run.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

/// Storage of uploaded files by key. A key is 32 characters of the base64url
/// alphabet (`A-Z`, `a-z`, `0-9`, `-`, `_`), chosen at random by the caller.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Store `bytes` under `key`. When it returns, every instance's `get`
    /// of `key` returns the whole file. No reader ever sees part of it.
    async fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()>;
    /// Read the file stored under `key`. Fails when there is none.
    async fn get(&self, key: &str) -> anyhow::Result<Vec<u8>>;
    /// Remove the file stored under `key`. Removing a missing key succeeds.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
}

/// Files in a local (or shared network) folder, two levels of subfolders
/// deep so that no folder grows too large.
pub struct LocalFileStore {
    root: PathBuf,
}

impl LocalFileStore {
    pub fn new(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| anyhow::anyhow!("cannot create the file storage folder {}: {e}", root.display()))?;
        Ok(Self { root: root.to_path_buf() })
    }

    fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        let valid = key.len() >= 8 && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            anyhow::bail!("invalid file storage key");
        }
        Ok(self.root.join(&key[0..2]).join(&key[2..4]).join(key))
    }
}

#[async_trait]
impl FileStore for LocalFileStore {
    async fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        // Write to a temporary name, then rename, so a reader never sees half a file.
        let temporary = path.with_extension("partial");
        tokio::fs::write(&temporary, bytes).await?;
        tokio::fs::rename(&temporary, &path).await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        Ok(tokio::fs::read(self.path(key)?).await?)
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::new(dir.path()).unwrap();
        store.put("abcdef123456", b"hello").await.unwrap();
        assert_eq!(store.get("abcdef123456").await.unwrap(), b"hello");
        store.delete("abcdef123456").await.unwrap();
        assert!(store.get("abcdef123456").await.is_err());
    }

    #[tokio::test]
    async fn local_store_rejects_path_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::new(dir.path()).unwrap();
        assert!(store.put("../../etc/passwd", b"x").await.is_err());
    }
}
