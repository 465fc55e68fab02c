//! One node agent per node: an exclusive lock on the toolkit's pid file.
//!
//! Input: the pid file path (`TOOLKIT_PID_FILE`). Output: a [`Lock`] held for the agent's
//! lifetime, the file holding the agent's PID; or an error naming the agent that holds it.
//! NVIDIA's toolkit locks the same file, so gpuplan's agent and an upstream toolkit container
//! cannot configure one node at the same time either.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The toolkit's lock file, which the node agent and `gpuplan node apply|revert` share.
pub const PID_FILE: &str = gpuplan_compiler::node::env::DEFAULT_PID_FILE;

/// The held lock; released when dropped (and by the kernel when the process dies).
pub struct Lock {
    _file: Flock<File>,
}

/// Take the lock, or fail with a message naming the holder.
pub fn acquire(path: &Path) -> anyhow::Result<Lock> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() { String::new() } else { format!(" (PID {holder})") };
            bail!("another node agent{who} is running: it holds {}", path.display());
        }
        Err((_, errno)) => return Err(errno).with_context(|| format!("cannot lock {}", path.display())),
    };
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_held_lock_a_second_one_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run/toolkit.pid");
        let first = acquire(&path).expect("first lock");
        let err = acquire(&path).err().expect("second lock refused");
        assert!(
            err.to_string().contains(&format!("another node agent (PID {}) is running", std::process::id())),
            "{err}"
        );
        drop(first);
        acquire(&path).expect("free again");
    }
}
