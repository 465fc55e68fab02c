//! Writing node config files so that a crash or a reader never sees half a file.
//!
//! Input: a path and its new text (or its removal). Output: the file replaced atomically — a
//! temporary file in the same directory (`.<name>.gpuplan-<pid>`), written and fsynced, given
//! the old file's mode and owner, then renamed over the old one, and the directory fsynced.
//! Symlinks are refused: writing through one would edit a file somewhere else, and replacing
//! it would cut the link. Temporary files a killed writer left behind are removed by
//! [`clean_temporaries`]. Files are read as bytes and must be UTF-8; a byte-order mark and line
//! ends are kept as they are.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use gpuplan_compiler::limits;

/// Mode of a file that did not exist before.
const NEW_FILE_MODE: u32 = 0o644;
/// What follows a file's name in its temporary file's name, before the writer's PID.
const TEMP_INFIX: &str = ".gpuplan-";

fn refuse_symlink(path: &Path) -> anyhow::Result<Option<fs::Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            bail!(
                "refusing to change {}: it is a symbolic link (point gpuplan at the file it links to)",
                path.display()
            )
        }
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot inspect {}", path.display())),
    }
}

/// Read a file; `None` when it does not exist. At most [`limits::MAX_INPUT_BYTES`]: a config
/// file is a few KB, and `/dev/zero` given as one must be an error, not the machine's memory.
pub fn read(path: &Path) -> anyhow::Result<Option<String>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    // Sized from the file's length, the text is read in one call, not in ten doubling ones
    // (a device such as /dev/zero says 0, and the limit below still holds).
    let size = file.metadata().map_or(0, |m| m.len()).min(limits::MAX_INPUT_BYTES as u64);
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limits::MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() > limits::MAX_INPUT_BYTES {
        bail!(
            "cannot read {}: it is larger than {}, gpuplan's limit for one input",
            path.display(),
            limits::bytes(limits::MAX_INPUT_BYTES)
        );
    }
    String::from_utf8(bytes).map(Some).with_context(|| format!("{} is not UTF-8 text", path.display()))
}

/// Replace `path` with `text` atomically, keeping its mode and owner.
pub fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    write_pausing(path, text, || {})
}

/// [`write`], calling `before_rename` once the temporary file is complete (a test's fault
/// injection point).
pub fn write_pausing(path: &Path, text: &str, before_rename: impl FnOnce()) -> anyhow::Result<()> {
    let existing = refuse_symlink(path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}{TEMP_INFIX}{}", std::process::id()));
    let mode = existing.as_ref().map_or(NEW_FILE_MODE, |m| m.mode() & 0o7777);
    let result = (|| -> anyhow::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
            .with_context(|| format!("cannot create {}", temp.display()))?;
        file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", temp.display()))?;
        // The umask may have narrowed the mode: set it exactly.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        if let Some(meta) = &existing {
            std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()))
                .with_context(|| format!("cannot give {} its owner back", temp.display()))?;
        }
        file.sync_all().with_context(|| format!("cannot flush {}", temp.display()))?;
        before_rename();
        fs::rename(&temp, path).with_context(|| format!("cannot replace {}", path.display()))?;
        File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot flush directory {}", dir.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Delete `path`; a file that is already gone is fine.
pub fn remove(path: &Path) -> anyhow::Result<()> {
    if refuse_symlink(path)?.is_none() {
        return Ok(());
    }
    fs::remove_file(path).with_context(|| format!("cannot delete {}", path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot flush directory {}", dir.display()))?;
    }
    Ok(())
}

/// Remove the temporary files of `path` that a writer killed before its rename left behind
/// (`.<name>.gpuplan-<pid>` of a process that is gone); returns the paths removed.
pub fn clean_temporaries(path: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { return Ok(Vec::new()) };
    let prefix = format!(".{name}{TEMP_INFIX}");
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut removed = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name.strip_prefix(&prefix).and_then(|p| p.parse::<i32>().ok()) else { continue };
        let alive =
            pid != std::process::id() as i32 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive && entry.file_type().is_ok_and(|t| t.is_file()) {
            fs::remove_file(entry.path()).with_context(|| format!("cannot remove {}", entry.path().display()))?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_existing_file_keeps_its_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        fs::write(&path, "old").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        write(&path, "new").expect("writes");
        assert_eq!(fs::read_to_string(&path).expect("read"), "new");
        assert_eq!(fs::metadata(&path).expect("meta").mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 1, "no temporary file left behind");
    }

    #[test]
    fn given_a_symlink_refuses_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("real.toml");
        let link = dir.path().join("link.toml");
        fs::write(&target, "real").expect("write");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let err = write(&link, "new").expect_err("refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read_to_string(&target).expect("read"), "real");
        assert!(remove(&link).is_err());
    }

    #[test]
    fn given_a_dead_writers_temporary_file_it_is_cleaned_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        // PID 2^22 + 1 is above Linux's pid_max: no process has it.
        let stale = dir.path().join(".config.toml.gpuplan-4194305");
        let other = dir.path().join(".other.toml.gpuplan-4194305");
        fs::write(&stale, "half").expect("write");
        fs::write(&other, "half").expect("write");
        assert_eq!(clean_temporaries(&path).expect("cleans"), std::slice::from_ref(&stale));
        assert!(!stale.exists() && other.exists(), "only the file's own temporaries go");
    }

    #[test]
    fn given_a_missing_file_remove_is_fine_and_write_creates_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        remove(&dir.path().join("absent")).expect("nothing to remove");
        let nested = dir.path().join("conf.d/99-nvidia.toml");
        write(&nested, "x").expect("writes");
        assert_eq!(fs::metadata(&nested).expect("meta").mode() & 0o777, NEW_FILE_MODE);
    }
}
