//! PostgreSQL goes away and comes back while a server runs: requests fail
//! fast with 503 `storage_unavailable` meanwhile, and the same server process
//! serves normally again afterwards.
//!
//! The same holds when PostgreSQL hangs instead (stopped with `SIGSTOP`):
//! requests end with 503 after the store's timeouts rather than waiting.
//!
//! The shared test database is used by other tests at the same time, so each
//! test makes a throwaway PostgreSQL cluster of its own (`initdb` into a
//! temporary directory, on a free port) and stops and starts that one.

mod postgres_util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use postgres_util::process::{client, ServerProcess};
use reqwest::StatusCode;
use serde_json::Value;

/// A private PostgreSQL cluster, stopped and deleted when dropped.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    // Holds `data`; removed after the cluster is stopped.
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn create() -> Cluster {
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
        let cluster = Cluster { bin, data, port, _dir: dir };
        cluster.start();
        cluster
    }

    fn start(&self) {
        let socket_dir = self.data.parent().unwrap();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            socket_dir.display()
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
    fn stop(&self) {
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
    fn signal_all(&self, signal: i32) {
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

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres?schema=runkv_outage", self.port)
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

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn chown_to_postgres(path: &Path) {
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
fn run_as_postgres(command: &mut Command) {
    let mut command = postgres_command(command);
    let out = command.output().expect("run a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn get(server: &ServerProcess, key: &str) -> (StatusCode, Option<String>, Value) {
    let response = client().get(server.url(&format!("/get/app/{key}"))).send().await.unwrap();
    let status = response.status();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

async fn put(server: &ServerProcess, key: &str, value: &str) -> (StatusCode, Value) {
    let response = client()
        .put(server.url(&format!("/set/app/{key}")))
        .body(value.to_owned())
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_503_while_postgres_is_down_and_recovers_by_itself() {
    let cluster = Cluster::create();
    let mut server = ServerProcess::start(&cluster.url()).await;

    assert_eq!(put(&server, "k", "before").await.0, StatusCode::OK);
    assert_eq!(get(&server, "k").await.2["value"], "before");

    cluster.stop();

    // Every request fails, fast and retryable, with the documented error.
    for _ in 0..3 {
        let (status, retry_after, body) = get(&server, "k").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["code"], "storage_unavailable");
        assert!(retry_after.is_some(), "503 without Retry-After");

        let (status, body) = put(&server, "k", "during").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["code"], "storage_unavailable");
    }
    cluster.start();

    // The pool reconnects on the next request that needs a connection. Allow
    // for PostgreSQL's crash recovery before it accepts connections.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, body) = get(&server, "k").await;
        if status == StatusCode::OK {
            assert_eq!(body["value"], "before", "the committed write survived");
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(Instant::now() < deadline, "no recovery after PostgreSQL came back: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Normal service from the same process, writes included.
    for i in 0..20 {
        let value = format!("after {i}");
        assert_eq!(put(&server, "k", &value).await.0, StatusCode::OK);
        assert_eq!(get(&server, "k").await.2["value"], value.as_str());
    }
    assert!(server.is_running(), "the server must not have exited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_cannot_start_without_its_database() {
    let port = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_runkv-server"))
        .args(["--listen", "127.0.0.1:0", "--store", &url])
        .env("RUNKV_TOKEN", "t")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(!status.success(), "started without a database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_database_gets_503_instead_of_hanging_requests() {
    let cluster = Cluster::create();
    let mut server = ServerProcess::start(&cluster.url()).await;
    assert_eq!(put(&server, "k", "before").await.0, StatusCode::OK);

    // PostgreSQL accepts nothing and answers nothing, but no connection
    // breaks: only the store's timeouts can end these requests.
    cluster.signal_all(libc::SIGSTOP);
    let (status, retry_after, body) = get(&server, "k").await;
    let (put_status, put_body) = put(&server, "k", "during").await;
    cluster.signal_all(libc::SIGCONT);

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "storage_unavailable");
    assert!(retry_after.is_some(), "503 without Retry-After");
    assert_eq!(put_status, StatusCode::SERVICE_UNAVAILABLE, "{put_body}");
    assert_eq!(put_body["code"], "storage_unavailable");

    // Resumed, the same process serves again. The PUT above timed out on
    // the client side only, so it may have committed after all: either value
    // is a correct read.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, body) = get(&server, "k").await;
        if status == StatusCode::OK {
            assert!(body["value"] == "before" || body["value"] == "during", "{body}");
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(Instant::now() < deadline, "no recovery after PostgreSQL resumed: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(put(&server, "k", "after").await.0, StatusCode::OK);
    assert_eq!(get(&server, "k").await.2["value"], "after");
    assert!(server.is_running(), "the server must not have exited");
}
