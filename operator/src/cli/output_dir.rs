//! `gpuplan template --output-dir DIR`: each object written to `DIR/<source>`, as Helm writes
//! them, without ever following a symbolic link gpuplan did not create (it creates none).
//!
//! Input: the manifests and the directory. Output: one file per source (`gpuplan/<stage>/
//! <kind>.yaml`; objects of the same source one after the other, as Helm appends them), each
//! path told to a callback once written.
//!
//! How: `DIR` is opened with `O_NOFOLLOW | O_DIRECTORY` (its parents are the user's path and
//! are resolved as usual); each directory below it is made and opened relative to its parent
//! with the same flags, so a link planted anywhere below `DIR` is refused, never followed —
//! there is no window between checking a path and using it. A file is written to a new
//! temporary file beside it (`O_CREAT | O_EXCL`) and renamed over the old one, so a link, a
//! FIFO or a hard link planted at its name is replaced, never written through; a symbolic
//! link, or anything that is not a regular file, already at that name is refused. Every
//! refusal is an error (exit 2) naming the path.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use anyhow::{Context, bail};
use gpuplan_compiler::plan::Manifest;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, openat, renameat};
use nix::sys::stat::{Mode, SFlag, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};

/// Mode of the directories and files written (before the umask), as Helm's.
const DIR_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o644;

/// Write every manifest under `dir`, calling `written` with each file's path once it is.
pub fn write<'a>(
    manifests: impl Iterator<Item = &'a Manifest>,
    dir: &Path,
    written: &mut dyn FnMut(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    // Objects of one source go to one file, in order: the text of each file first.
    let mut files: Vec<(String, String)> = Vec::new();
    for m in manifests {
        let text = format!("---\n# Source: {}\n{}", m.source, m.to_yaml());
        match files.iter_mut().find(|(source, _)| *source == m.source) {
            Some((_, existing)) => existing.push_str(&text),
            None => files.push((m.source.clone(), text)),
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let root = open_dir(None, dir, dir)?;
    for (source, text) in files {
        let path = dir.join(&source);
        write_file(&root, dir, Path::new(&source), &text)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written(&path)?;
    }
    Ok(())
}

/// Open a directory without following a link at its last component: relative to `parent`, or
/// as a path when there is none. `shown` names it in errors.
fn open_dir(parent: Option<&OwnedFd>, name: &Path, shown: &Path) -> anyhow::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let opened = match parent {
        Some(fd) => openat(fd, name, flags, Mode::empty()),
        None => open(name, flags, Mode::empty()),
    };
    opened.map_err(|e| match e {
        // Linux says ENOTDIR for a link opened with both flags, ELOOP with O_NOFOLLOW alone.
        Errno::ELOOP => refuse(shown, LINK),
        Errno::ENOTDIR if is_link(parent, name) => refuse(shown, LINK),
        Errno::ENOTDIR => refuse(shown, "it is not a directory"),
        e => anyhow::Error::from(e).context(format!("cannot open directory {}", shown.display())),
    })
}

const LINK: &str = "it is a symbolic link, which gpuplan does not follow";

/// Whether `name` (relative to `parent`, or a path) is a symbolic link, itself not followed.
fn is_link(parent: Option<&OwnedFd>, name: &Path) -> bool {
    let stat = match parent {
        Some(fd) => fstatat(fd, name, AtFlags::AT_SYMLINK_NOFOLLOW),
        None => nix::sys::stat::lstat(name),
    };
    stat.is_ok_and(|s| SFlag::from_bits_truncate(s.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
}

fn refuse(path: &Path, why: &str) -> anyhow::Error {
    anyhow::anyhow!("refusing to write to {}: {why}", path.display())
}

/// Write `text` to `relative` under the directory `root` (named `dir`).
fn write_file(root: &OwnedFd, dir: &Path, relative: &Path, text: &str) -> anyhow::Result<()> {
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            // Sources are gpuplan's own names; anything else is a defect, never a path to take.
            _ => bail!("`{}` is not a path below the output directory", relative.display()),
        }
    }
    let Some((name, dirs)) = parts.split_last() else {
        bail!("an object has no source path");
    };
    let mut shown = dir.to_path_buf();
    let mut current: Option<OwnedFd> = None;
    for part in dirs {
        shown.push(part);
        let parent = current.as_ref().unwrap_or(root);
        match mkdirat(parent, *part, Mode::from_bits_truncate(DIR_MODE)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(anyhow::Error::from(e).context(format!("cannot create {}", shown.display()))),
        }
        current = Some(open_dir(Some(parent), Path::new(part), &shown)?);
    }
    let parent = current.as_ref().unwrap_or(root);
    shown.push(name);
    match fstatat(parent, *name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) => {
            let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
            if kind == SFlag::S_IFLNK {
                return Err(refuse(&shown, LINK));
            }
            if kind != SFlag::S_IFREG {
                return Err(refuse(&shown, "it is not a regular file"));
            }
        }
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(anyhow::Error::from(e).context(format!("cannot inspect {}", shown.display()))),
    }
    let temp = format!(".{}.gpuplan-{}", name.to_string_lossy(), std::process::id());
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match openat(parent, temp.as_str(), flags, Mode::from_bits_truncate(FILE_MODE)) {
        Ok(fd) => fd,
        Err(Errno::EEXIST) => {
            // Left by an earlier run of this PID that was killed; never a file someone else made
            // us write through, since it is replaced by name, not opened.
            unlinkat(parent, temp.as_str(), UnlinkatFlags::NoRemoveDir)?;
            openat(parent, temp.as_str(), flags, Mode::from_bits_truncate(FILE_MODE))?
        }
        Err(e) => return Err(e.into()),
    };
    let written = std::fs::File::from(fd).write_all(text.as_bytes());
    let renamed =
        written.map_err(anyhow::Error::from).and_then(|()| Ok(renameat(parent, temp.as_str(), parent, *name)?));
    if renamed.is_err() {
        let _ = unlinkat(parent, temp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    renamed
}
