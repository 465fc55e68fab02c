//! `gpuplan template --output-dir DIR`: each object written to `DIR/<source>`, as Helm writes
//! them, with a `kustomization.yaml` so that Argo CD and Flux consume `DIR` as it is, without
//! ever following a symbolic link gpuplan did not create (it creates none).
//!
//! Input: the manifests and the directory. Output: one file per source (`gpuplan/<stage>/
//! <kind>.yaml`; objects of the same source one after the other, as Helm appends them);
//! `DIR/kustomization.yaml` listing them in apply order — each file where its first object is
//! applied (`sortOptions: fifo`, so that kustomize keeps that order rather than its own; a
//! file holding objects of several kinds keeps them together, as Helm's files do); and the marker [`MARKER`], listing every file gpuplan
//! wrote there. Each path is told to a callback once written or removed.
//!
//! Re-rendering removes the files the marker lists that left the plan — and only those: a
//! file gpuplan did not write is never removed, and a `kustomization.yaml` it did not write is
//! refused rather than replaced. The marker is first rewritten to list the old files and the
//! new, so a run killed half-way leaves a marker that still lists everything gpuplan may have
//! written; the next run finishes the removal.
//!
//! How: `DIR` is opened with `O_NOFOLLOW | O_DIRECTORY` (its parents are the user's path and
//! are resolved as usual); each directory below it is made and opened relative to its parent
//! with the same flags, so a link planted anywhere below `DIR` is refused, never followed —
//! there is no window between checking a path and using it. A file is written to a new
//! temporary file beside it (`O_CREAT | O_EXCL`) and renamed over the old one, so a link, a
//! FIFO or a hard link planted at its name is replaced, never written through; a symbolic
//! link, or anything that is not a regular file, already at that name is refused. The marker
//! is read with `O_NOFOLLOW`, and a file it lists is removed only when it is a regular file
//! reached through no link; its lines are paths below `DIR` or nothing (`..` and absolute
//! paths are refused). Every refusal is an error (exit 2) naming the path.

use std::io::{Read, Write};
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

/// The file listing what gpuplan wrote in the directory (a dot file: kustomize, Argo CD and
/// Flux read only what the kustomization lists).
pub const MARKER: &str = ".gpuplan-files";

/// The kustomization's name, which kustomize, Argo CD and Flux look for.
pub const KUSTOMIZATION: &str = "kustomization.yaml";

/// Write every manifest under `dir` with its kustomization, remove what gpuplan wrote there
/// that left the plan, calling `told` with each file's path and whether it was written.
pub fn write<'a>(
    manifests: impl Iterator<Item = &'a Manifest>,
    dir: &Path,
    told: &mut dyn FnMut(&Path, Change) -> anyhow::Result<()>,
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
    let sources: Vec<String> = files.iter().map(|(s, _)| s.clone()).collect();
    files.push((KUSTOMIZATION.into(), kustomization(&sources)));
    let new: Vec<String> = files.iter().map(|(s, _)| s.clone()).collect();

    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let root = open_dir(None, dir, dir)?;
    let old = read_marker(&root, dir)?;
    if !old.iter().any(|o| o == KUSTOMIZATION) && exists(&root, KUSTOMIZATION)? {
        bail!(
            "refusing to replace {}: gpuplan did not write it ({MARKER} does not list it); move it away or render into another directory",
            dir.join(KUSTOMIZATION).display()
        );
    }
    let leaving: Vec<&String> = old.iter().filter(|o| !new.contains(o)).collect();
    // Listed before anything is written: a run killed half-way leaves every file it may have
    // written listed, for the next run to keep or remove.
    let union: Vec<String> = leaving.iter().map(|s| (*s).clone()).chain(new.iter().cloned()).collect();
    if union != old {
        write_file(&root, dir, Path::new(MARKER), &marker(&union))?;
    }
    for (source, text) in files {
        let path = dir.join(&source);
        write_file(&root, dir, Path::new(&source), &text)
            .with_context(|| format!("cannot write {}", path.display()))?;
        told(&path, Change::Written)?;
    }
    for source in leaving {
        if remove_file(&root, dir, Path::new(source))
            .with_context(|| format!("cannot remove {}", dir.join(source).display()))?
        {
            told(&dir.join(source), Change::Removed)?;
        }
    }
    write_file(&root, dir, Path::new(MARKER), &marker(&new))
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Written (created or replaced).
    Written,
    /// Removed: gpuplan wrote it, and it left the plan.
    Removed,
}

/// The kustomization: the files in apply order, kept in that order.
fn kustomization(sources: &[String]) -> String {
    let json = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "sortOptions": {"order": "fifo"},
        "resources": sources,
    });
    format!(
        "# Written by `gpuplan template --output-dir`: the files in apply order (fifo keeps it).\n{}",
        gpuplan_compiler::values::print::json_to_yaml(&json)
    )
}

fn marker(files: &[String]) -> String {
    let mut text = String::from(
        "# The files `gpuplan template --output-dir` wrote here; the next render removes those that\n# left the plan, and no other file.\n",
    );
    for f in files {
        text.push_str(f);
        text.push('\n');
    }
    text
}

/// The files the marker lists (none without a marker).
fn read_marker(root: &OwnedFd, dir: &Path) -> anyhow::Result<Vec<String>> {
    let shown = dir.join(MARKER);
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let fd = match openat(root, MARKER, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(Vec::new()),
        Err(Errno::ELOOP) => return Err(refuse(&shown, "it is a symbolic link, which gpuplan does not follow")),
        Err(e) => return Err(anyhow::Error::from(e).context(format!("cannot read {}", shown.display()))),
    };
    let mut file = std::fs::File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(refuse(&shown, "it is not a regular file"));
    }
    let mut text = String::new();
    // The marker is a few hundred bytes; a larger one is not gpuplan's.
    Read::take(&mut file, 1 << 20)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", shown.display()))?;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if !Path::new(line).components().all(|c| matches!(c, Component::Normal(_))) {
            bail!("{} lists `{line}`, which is not a path below {}", shown.display(), dir.display());
        }
        if !out.iter().any(|o| o == line) {
            out.push(line.to_owned());
        }
    }
    Ok(out)
}

/// Whether something is at `name` directly under `root` (a link counts, unfollowed).
fn exists(root: &OwnedFd, name: &str) -> anyhow::Result<bool> {
    match fstatat(root, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Remove `relative` under `root` when it is a regular file reached through no link, then the
/// directories it leaves empty; whether it was there to remove.
fn remove_file(root: &OwnedFd, dir: &Path, relative: &Path) -> anyhow::Result<bool> {
    let parts: Vec<_> = relative.iter().collect();
    let Some((name, dirs)) = parts.split_last() else { return Ok(false) };
    let mut shown = dir.to_path_buf();
    let mut opened: Vec<OwnedFd> = Vec::new();
    for part in dirs {
        shown.push(part);
        let parent = opened.last().unwrap_or(root);
        match open_dir(Some(parent), Path::new(part), &shown) {
            Ok(fd) => opened.push(fd),
            // Already gone with its directory: nothing to remove.
            Err(_) if !exists(parent, &part.to_string_lossy())? => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    let parent = opened.last().unwrap_or(root);
    shown.push(name);
    match fstatat(parent, *name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG => {}
        Ok(_) => return Err(refuse(&shown, "it is not a regular file, so not one gpuplan wrote")),
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    unlinkat(parent, *name, UnlinkatFlags::NoRemoveDir)?;
    // Directories gpuplan made for the file go when it leaves them empty; one that still holds
    // anything (another file, the user's) stays, and so do those above it.
    for (i, part) in dirs.iter().enumerate().rev() {
        let parent = if i == 0 { root } else { &opened[i - 1] };
        if unlinkat(parent, *part, UnlinkatFlags::RemoveDir).is_err() {
            break;
        }
    }
    Ok(true)
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
