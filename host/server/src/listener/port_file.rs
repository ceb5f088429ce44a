//! The port file (`--port-file`, `SANCTUARY_PORT_FILE`, `port_file`): once the server
//! listens it writes its bound address (`127.0.0.1:40123` and a newline) there, so a
//! supervisor or a test that started it on port 0 learns the port without reading logs.
//! The address goes to a temporary file beside it that is then renamed over it, so a
//! reader sees either no file or the whole address, never part of one.

use std::net::SocketAddr;
use std::path::Path;

/// Writes `addr` to `path` atomically (a temporary file in the same directory, renamed).
/// A failure names the file and the fix.
pub fn write(path: &Path, addr: SocketAddr) -> anyhow::Result<()> {
    if let Err(err) = crate::plugins::write_atomic(path, format!("{addr}\n").as_bytes()) {
        anyhow::bail!(
            "cannot write the port file {} ({err}): create its directory, or choose another file with --port-file or SANCTUARY_PORT_FILE",
            path.display()
        );
    }
    Ok(())
}

/// Removes the port file at `path` when it still names `addr` (another server may have
/// taken it over since); a file already gone is fine.
pub fn remove(path: &Path, addr: SocketAddr) {
    if read(path).is_some_and(|written| written == addr) {
        let _ = std::fs::remove_file(path);
    }
}

/// The address in the port file at `path`, if there is a whole one.
pub fn read(path: &Path) -> Option<SocketAddr> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_address_reads_back_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sanctuary.port");
        let addr: SocketAddr = "127.0.0.1:40123".parse().expect("address");
        write(&path, addr).expect("writes");
        assert_eq!(
            std::fs::read_to_string(&path).expect("reads"),
            "127.0.0.1:40123\n"
        );
        assert_eq!(read(&path), Some(addr));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("sanctuary.port")]);
    }

    #[test]
    fn a_second_write_replaces_the_first_address() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("port");
        write(&path, "127.0.0.1:1".parse().expect("address")).expect("writes");
        write(&path, "127.0.0.1:2".parse().expect("address")).expect("writes");
        assert_eq!(read(&path), Some("127.0.0.1:2".parse().expect("address")));
    }

    #[test]
    fn removing_leaves_a_file_that_names_another_address() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("port");
        write(&path, "127.0.0.1:2".parse().expect("address")).expect("writes");
        remove(&path, "127.0.0.1:1".parse().expect("address"));
        assert!(path.is_file());
        remove(&path, "127.0.0.1:2".parse().expect("address"));
        assert!(!path.exists());
    }

    #[test]
    fn a_port_file_in_a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("missing/port");
        let err = write(&path, "127.0.0.1:1".parse().expect("address")).expect_err("fails");
        let message = format!("{err:#}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("--port-file"), "{message}");
    }
}
