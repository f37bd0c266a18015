//! A throwaway PostgreSQL cluster for tests that must stop, freeze or
//! reconfigure the database, which the shared test server cannot allow.
//!
//! `initdb` into a temporary directory, on a free port. `initdb` and
//! `postgres` refuse to run as root; as root, the tools run as the
//! `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A private PostgreSQL cluster, stopped and deleted when dropped.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    options: String,
    // Holds `data`; removed after the cluster is stopped.
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// A new cluster, started.
    pub fn create() -> Cluster {
        Self::create_with("")
    }

    /// A new cluster, started; `options` are extra `postgres` flags.
    pub fn create_with(options: &str) -> Cluster {
        let bin = postgres_bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let port = free_port();

        // initdb and postgres refuse to run as root; as root, hand the
        // directory to the postgres user and run them as that user.
        if is_root() {
            chown_to_postgres(dir.path());
        }
        run_as_postgres(Command::new(bin.join("initdb")).arg("--pgdata").arg(&data).args([
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--no-sync",
        ]));
        let cluster = Cluster { bin, data, port, options: options.to_owned(), _dir: dir };
        cluster.start();
        cluster
    }

    pub fn start(&self) {
        let socket_dir = self.data.parent().unwrap();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off {}",
            self.port,
            socket_dir.display(),
            self.options
        );
        run_as_postgres(
            Command::new(self.bin.join("pg_ctl"))
                .arg("--pgdata")
                .arg(&self.data)
                .args(["--wait", "--log"])
                .arg(socket_dir.join("postgres.log"))
                .args(["--options", &options, "start"]),
        );
    }

    /// Stops the cluster abruptly, as a crash or a failover would.
    pub fn stop(&self) {
        run_as_postgres(
            Command::new(self.bin.join("pg_ctl")).arg("--pgdata").arg(&self.data).args([
                "--wait",
                "--mode",
                "immediate",
                "stop",
            ]),
        );
    }

    /// Sends `signal` to the postmaster and every backend: with `SIGSTOP`
    /// the database hangs with its connections open, as an overloaded or
    /// partitioned server does; `SIGCONT` resumes it.
    pub fn signal_all(&self, signal: i32) {
        // No pid file: the cluster is not running.
        let Ok(pid_file) = std::fs::read_to_string(self.data.join("postmaster.pid")) else {
            return;
        };
        let postmaster: i32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
            let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid.and_then(|p| p.parse::<i32>().ok()) == Some(postmaster) {
                pids.push(pid);
            }
        }
        for pid in pids {
            // SAFETY: signals processes of our own test cluster; no memory is involved.
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// The directory that holds the cluster (owned by the user PostgreSQL
    /// runs as), for files the server reads, such as certificates.
    pub fn dir(&self) -> &Path {
        self.data.parent().unwrap()
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Also runs while a failed test unwinds: report, do not panic again.
        // A cluster stopped with SIGSTOP must resume to be able to shut down.
        self.signal_all(libc::SIGCONT);
        let out = postgres_command(
            Command::new(self.bin.join("pg_ctl")).arg("--pgdata").arg(&self.data).args([
                "--wait",
                "--mode",
                "immediate",
                "stop",
            ]),
        )
        .output();
        match out {
            Ok(out) if out.status.success() => {}
            other => {
                eprintln!("could not stop the test cluster in {}: {other:?}", self.data.display())
            }
        }
    }
}

/// The newest installed PostgreSQL's binaries (Debian keeps them out of PATH).
fn postgres_bin_dir() -> PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .map(|entry| entry.unwrap().path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|dir| {
        let version = dir.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        version.parse::<u32>().unwrap_or(0)
    });
    dirs.pop().expect("an initdb under /usr/lib/postgresql/*/bin")
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn chown_to_postgres(path: &Path) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, "postgres"]).output().unwrap();
        assert!(out.status.success(), "no postgres user to run the test cluster as");
        String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
    };
    std::os::unix::fs::chown(path, Some(id("-u")), Some(id("-g"))).unwrap();
}

/// A PostgreSQL tool's command, run as the postgres user when we are root.
fn postgres_command(command: &mut Command) -> Command {
    if is_root() {
        let mut wrapped = Command::new("runuser");
        wrapped.args(["-u", "postgres", "--"]).arg(command.get_program()).args(command.get_args());
        wrapped
    } else {
        std::mem::replace(command, Command::new("true"))
    }
}

/// Runs a PostgreSQL tool and insists that it succeeds.
pub fn run_as_postgres(command: &mut Command) {
    let mut command = postgres_command(command);
    let out = command.output().expect("run a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
