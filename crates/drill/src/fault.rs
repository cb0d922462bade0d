//! Damaging a file on purpose.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::OFlag;

use crate::check::{Doing, Result};

/// Flips bit `bit` (0 to 7) of the byte at `offset` in the file at `path`,
/// in place, and returns the byte's new value.
///
/// This is the drills' stand-in for a disk that returns other bytes than it
/// was given; no fsync, since the reader runs on the same machine. A
/// symbolic link is never followed: the store's files are damaged, never
/// what a link of the store's points to.
pub fn flip_bit(path: &Path, offset: u64, bit: u8) -> Result<u8> {
    let doing = || format!("flip bit {bit} of byte {offset} in {}", path.display());
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(path)
        .doing(doing())?;
    let mut byte = [0u8; 1];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut byte))
        .doing(doing())?;
    byte[0] ^= 1 << (bit & 7);
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.write_all(&byte))
        .doing(doing())?;
    Ok(byte[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_exactly_one_bit_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [0u8, 0b1010_0000, 7]).unwrap();
        assert_eq!(flip_bit(&path, 1, 0).unwrap(), 0b1010_0001);
        assert_eq!(std::fs::read(&path).unwrap(), [0, 0b1010_0001, 7]);
    }

    #[test]
    fn a_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, [0u8]).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(flip_bit(&link, 0, 0).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), [0]);
    }

    #[test]
    fn offset_past_the_end_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [1u8]).unwrap();
        let err = flip_bit(&path, 5, 0).unwrap_err().to_string();
        assert!(
            err.contains("byte 5") && err.contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), [1]);
    }
}
