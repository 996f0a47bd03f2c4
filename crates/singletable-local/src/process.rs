//! The DynamoDB Local Java process and the readiness probe.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Error;

/// How many lines of Java output are kept for error messages.
const OUTPUT_LINES: usize = 40;
/// How long a graceful stop may take before the wrapper is killed outright.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Starts Java in the background, keeps it alive while it can read our stdin,
/// and stops it once that pipe closes.
///
/// The pipe closes when the `JavaProcess` is dropped and also when our process
/// dies in any way, including SIGKILL, so Java never outlives the process that
/// started it even though statics are never dropped. The script exits with
/// Java's status when Java exits on its own, so early failures are noticed.
///
/// The watcher reads from a copy of stdin on fd 3 because POSIX shells give
/// background jobs `/dev/null` as stdin.
#[cfg(unix)]
const WRAPPER_SCRIPT: &str = r#"exec 3<&0
"$@" 3<&- </dev/null &
java=$!
{ read -r _ || :; kill "$java" 2>/dev/null; } <&3 &
watcher=$!
exec 3<&-
trap 'kill "$java" 2>/dev/null' HUP INT TERM
wait "$java"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"#;

/// A running DynamoDB Local JVM, stopped when dropped.
pub(crate) struct JavaProcess {
    child: Child,
    /// Closing this pipe is what tells the wrapper script to stop Java.
    stdin: Option<ChildStdin>,
    output: OutputTail,
    drains: Vec<JoinHandle<()>>,
}

impl JavaProcess {
    /// Starts DynamoDB Local from `install_dir`, listening on `port`.
    pub(crate) fn spawn(java: &Path, install_dir: &Path, port: u16) -> Result<Self, Error> {
        let port_arg = port.to_string();
        let java_args = [
            "-Djava.library.path=./DynamoDBLocal_lib",
            "-jar",
            "DynamoDBLocal.jar",
            "-inMemory",
            // One database for every access key and region, so clients built by
            // hand with other credentials see the same tables.
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            &port_arg,
        ];

        #[cfg(unix)]
        let mut command = {
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(WRAPPER_SCRIPT)
                .arg("sh")
                .arg(java)
                .args(java_args);
            command
        };
        #[cfg(not(unix))]
        let mut command = {
            let mut command = Command::new(java);
            command.args(java_args);
            command
        };

        let mut child = command
            .current_dir(install_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::io(format!("start {}", java.display()), source))?;

        let stdin = child.stdin.take();
        let output = OutputTail::default();
        let mut process = Self {
            child,
            stdin,
            output,
            drains: Vec::new(),
        };
        // Java blocks once a pipe fills up, so both pipes are read until the end.
        let stdout = process
            .child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let stderr = process
            .child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        for pipe in [stdout, stderr].into_iter().flatten() {
            let tail = process.output.clone();
            let drain = std::thread::Builder::new()
                .name("dynamodb-local-output".to_owned())
                .spawn(move || tail.drain(pipe))
                .map_err(|source| {
                    Error::io("start a thread to read Java's output".to_owned(), source)
                })?;
            process.drains.push(drain);
        }
        Ok(process)
    }

    /// The exit status, if the process has already exited.
    pub(crate) fn try_wait(&mut self) -> Result<Option<ExitStatus>, Error> {
        self.child.try_wait().map_err(|source| {
            Error::io("check whether DynamoDB Local is running".to_owned(), source)
        })
    }

    /// The last lines Java printed.
    pub(crate) fn output(&mut self) -> String {
        // After an exit the reader threads may still hold the final lines.
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && !self.drains.iter().all(JoinHandle::is_finished) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.output.text()
    }

    fn stop(&mut self) {
        drop(self.stdin.take());
        let grace = if cfg!(unix) {
            STOP_GRACE
        } else {
            Duration::ZERO
        };
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => break,
            }
        }
        // Errors mean the process is already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for JavaProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last [`OUTPUT_LINES`] lines of a process's output, shared with the
/// threads that read it.
#[derive(Clone, Default)]
struct OutputTail(Arc<Mutex<VecDeque<String>>>);

impl OutputTail {
    fn drain(&self, pipe: Box<dyn Read + Send>) {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                    tracing::debug!(target: "singletable_local::java", "{text}");
                    let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                    if lines.len() == OUTPUT_LINES {
                        lines.pop_front();
                    }
                    lines.push_back(text);
                }
            }
        }
    }

    fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            return "(no output)".to_owned();
        }
        lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Finds the `java` executable: `$JAVA_HOME/bin/java`, else the first on `PATH`.
pub(crate) fn find_java() -> Result<PathBuf, Error> {
    let exe = format!("java{}", std::env::consts::EXE_SUFFIX);
    let from_home = std::env::var_os("JAVA_HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join("bin").join(&exe))
        .filter(|path| is_executable(path));
    let found = from_home.or_else(|| {
        let paths = std::env::var_os("PATH")?;
        std::env::split_paths(&paths)
            .map(|dir| dir.join(&exe))
            .find(|path| is_executable(path))
    });
    // Java runs in the install folder, so a relative PATH entry would break.
    found
        .and_then(|path| std::path::absolute(path).ok())
        .ok_or(Error::JavaNotFound)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Asks the OS for a free port on 127.0.0.1.
///
/// Another process could take the port before Java binds it; the caller
/// retries when Java reports the address in use.
pub(crate) fn free_port() -> Result<u16, Error> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|source| Error::io("find a free TCP port on 127.0.0.1".to_owned(), source))
}

/// Whether DynamoDB Local answers a `ListTables` call on `port`.
///
/// A hand-written request keeps this synchronous and free of an async runtime;
/// DynamoDB Local accepts any well-formed signature.
pub(crate) fn answers(port: u16) -> bool {
    const TIMEOUT: Duration = Duration::from_secs(2);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, TIMEOUT) else {
        return false;
    };
    if stream.set_read_timeout(Some(TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(TIMEOUT)).is_err()
    {
        return false;
    }
    let request = format!(
        "POST / HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         X-Amz-Target: DynamoDB_20120810.ListTables\r\n\
         Content-Type: application/x-amz-json-1.0\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=probe/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x\r\n\
         Content-Length: 2\r\n\
         Connection: close\r\n\
         \r\n\
         {{}}"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = Vec::new();
    // A timeout still leaves whatever arrived in `response`.
    let _ = stream.take(64 * 1024).read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    response.starts_with("HTTP/1.1 200") && response.contains("\"TableNames\"")
}
