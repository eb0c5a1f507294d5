//! Small file-system helpers shared by every writer in the crate.
//!
//! Every output file is written to a temporary sibling (`NAME.tmp-<pid>-<n>`
//! in the same directory), flushed and fsynced, then renamed over the target,
//! so a reader never sees a half-written file and a crash never truncates an
//! existing one.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, Result};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary sibling used while writing `path`.
fn tmp_path_for(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| anyhow!("{}: not a file path (no file name)", path.display()))?;
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}-{}", std::process::id(), n));
    Ok(path.with_file_name(tmp_name))
}

/// Write `bytes` to `path` atomically (temp file in the same directory,
/// fsync, rename). Errors name `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| {
        w.write_all(bytes)?;
        Ok(())
    })
}

/// Like [`write_atomic`], but the content is produced by `f` writing into a
/// buffered writer. If `f` fails, the temporary file is removed and `path`
/// is left untouched.
pub fn write_atomic_with<F>(path: &Path, f: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> Result<()>,
{
    let tmp = tmp_path_for(path)?;
    let result = (|| -> Result<()> {
        let file = File::create(&tmp)
            .map_err(|e| anyhow!("{}: cannot create temporary file {}: {e}", path.display(), tmp.display()))?;
        let mut w = BufWriter::new(file);
        f(&mut w).map_err(|e| anyhow!("{}: write failed: {}", path.display(), one_line(&e)))?;
        let file = w.into_inner().map_err(|e| anyhow!("{}: write failed: {}", path.display(), e.error()))?;
        file.sync_all().map_err(|e| anyhow!("{}: fsync failed: {e}", path.display()))?;
        drop(file);
        fs::rename(&tmp, path)
            .map_err(|e| anyhow!("{}: cannot rename {} into place: {e}", path.display(), tmp.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Best effort: make the rename itself durable.
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Flatten an error chain into one line: "outer: inner: innermost".
/// anyhow's `{:#}` already does this; this helper also strips newlines that
/// some underlying libraries put into their messages.
pub fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace(['\n', '\r'], " ")
}

/// Fail now, not after an epoch, if `path` cannot be written: its directory
/// must exist and accept a file.
pub fn check_writable(flag: &str, path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        anyhow::bail!("{flag} {}: directory {} does not exist", path.display(), dir.display());
    }
    let probe = dir.join(format!(".advlab-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| anyhow::anyhow!("{flag} {}: cannot write in {}: {e}", path.display(), dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

    /// A fresh, empty directory under the system temp dir, unique per call.
    /// Removed on drop.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let p = std::env::temp_dir().join(format!("advlab-test-{}-{}-{}-{}", tag, std::process::id(), n, nanos));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).expect("create temp dir");
            TempDir(p)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
        pub fn join(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Render an error as the one line a user would see.
    pub fn msg<T: std::fmt::Debug>(r: anyhow::Result<T>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got Ok({v:?})"),
            Err(e) => {
                let s = format!("{e:#}");
                assert!(!s.contains('\n'), "error message is not one line: {s:?}");
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::TempDir;
    use super::*;

    #[test]
    fn write_atomic_creates_and_replaces() {
        let d = TempDir::new("fsutil");
        let p = d.join("out.bin");
        write_atomic(&p, b"hello").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"hello");
        write_atomic(&p, b"world!").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"world!");
        // no temp files left behind
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn write_atomic_with_failure_leaves_target_untouched() {
        let d = TempDir::new("fsutil");
        let p = d.join("keep.txt");
        write_atomic(&p, b"original").unwrap();
        let r = write_atomic_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(anyhow!("boom"))
        });
        let e = r.unwrap_err();
        let s = format!("{e:#}");
        assert!(s.contains("keep.txt") && s.contains("boom"), "{s}");
        assert_eq!(fs::read(&p).unwrap(), b"original");
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn write_atomic_missing_dir_names_path() {
        let d = TempDir::new("fsutil");
        let p = d.join("no/such/dir/out.bin");
        let s = format!("{:#}", write_atomic(&p, b"x").unwrap_err());
        assert!(s.contains("out.bin"), "{s}");
        assert!(!s.contains('\n'));
    }
}
