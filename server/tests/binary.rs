//! The `runkv-server` binary as a user runs it: startup output, refusals,
//! graceful shutdown on SIGTERM, and a kill -9 in the middle of many writes.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_runkv-server");

/// A started server and what it printed before it was ready.
struct Server {
    child: Child,
    base: String,
    printed: Vec<String>,
}

fn command(data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUNKV_TOKEN")
        .env_remove("RUNKV_TOKENS_FILE")
        .env_remove("RUNKV_LISTEN")
        .env_remove("RUNKV_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

impl Server {
    /// Starts the binary and reads stdout up to the "listening on" line.
    async fn start(mut command: Command) -> Server {
        let mut child = command.spawn().expect("start runkv-server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push(line.clone());
            if let Some(url) = line.strip_prefix("runkv-server listening on ") {
                return Server { child, base: url.to_owned(), printed };
            }
        }
        panic!("runkv-server exited before listening; it printed {printed:?}");
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn printed(&self, prefix: &str) -> Option<String> {
        self.printed.iter().find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
    }

    fn terminate(&self) {
        let pid = self.child.id().unwrap() as i32;
        // SAFETY: sends a signal to our own child process; no memory is involved.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }
}

#[tokio::test]
async fn without_a_token_it_generates_and_prints_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(command(dir.path())).await;
    assert_eq!(server.printed.len(), 2, "{:?}", server.printed);
    let token = server.printed("token: ").expect("a token line");
    assert_eq!(token.len(), 64);
    assert!(server.base.starts_with("http://127.0.0.1:"));
    assert!(!server.base.ends_with(":0"));

    let client = reqwest::Client::new();
    let put = client.put(server.url("/set/demo/k")).header("Authorization", format!("Key {token}"));
    assert_eq!(put.body("v").send().await.unwrap().status(), 200);
    let unknown = client.get(server.url("/get/demo/k")).bearer_auth("guess").send().await.unwrap();
    assert_eq!(unknown.status(), 401);
}

#[tokio::test]
async fn with_a_site_it_prints_the_url_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = command(dir.path());
    command.arg("--www").arg(dir.path());
    let server = Server::start(command).await;
    let token = server.printed("token: ").unwrap();
    assert_eq!(server.printed("open: "), Some(format!("{}/#token={token}", server.base)));
}

#[tokio::test]
async fn a_configured_token_is_used_and_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = command(dir.path());
    command.env("RUNKV_TOKEN", "configured-secret");
    let server = Server::start(command).await;
    assert_eq!(server.printed.len(), 1, "{:?}", server.printed);
    let client = reqwest::Client::new();
    let put = client.put(server.url("/set/demo/k")).bearer_auth("configured-secret");
    assert_eq!(put.body("v").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_tokens_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        "[[tokens]]\ntoken = \"reader\"\nnamespaces = [\"demo\"]\naccess = \"read-only\"\n",
    )
    .unwrap();
    let mut command = command(&dir.path().join("data"));
    command.arg("--tokens-file").arg(&tokens);
    let server = Server::start(command).await;
    let client = reqwest::Client::new();
    let get = client.get(server.url("/get/demo/k")).bearer_auth("reader").send().await.unwrap();
    assert_eq!(get.status(), 404);
    let put = client.put(server.url("/set/demo/k")).bearer_auth("reader").body("v");
    assert_eq!(put.send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn without_a_token_it_refuses_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(BIN)
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("RUNKV_TOKEN")
        .env_remove("RUNKV_TOKENS_FILE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0:0"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn an_unknown_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--store", "redis://x", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown store"));
}

#[tokio::test]
async fn a_data_directory_serves_one_server_only() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Server::start(command(dir.path())).await;
    let output = std::process::Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(String::from_utf8_lossy(&output.stderr).contains("in use by another process"));
}

#[tokio::test]
async fn help_explains_every_setting() {
    let output = std::process::Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--listen",
        "RUNKV_LISTEN",
        "--data-dir",
        "RUNKV_DATA_DIR",
        "--store",
        "--tokens-file",
        "RUNKV_TOKENS_FILE",
        "RUNKV_TOKEN",
        "--max-value-bytes",
        "--www",
        "--cors-origins",
        "RUST_LOG",
    ] {
        assert!(help.contains(needle), "--help does not mention {needle}:\n{help}");
    }
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut command = command(dir.path());
        command.env("RUNKV_TOKEN", "t");
        Server::start(command)
    };
    let mut server = start().await;
    let client = reqwest::Client::new();
    let put = client.put(server.url("/set/demo/k")).bearer_auth("t").body("kept");
    assert_eq!(put.send().await.unwrap().status(), 200);

    server.terminate();
    let status = server.child.wait().await.unwrap();
    assert!(status.success(), "{status}");

    let server = start().await;
    let get = client.get(server.url("/get/demo/k")).bearer_auth("t").send().await.unwrap();
    assert_eq!(get.json::<Value>().await.unwrap()["value"], "kept");
}

/// Many clients write; the server is killed with SIGKILL while they do; after
/// a restart on the same directory every write that was answered 200 is
/// there, with its value or, for a key written again, a later one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill_9() {
    const WRITERS: usize = 32;
    const KILL_AFTER_ACKS: usize = 3_000;

    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut command = command(dir.path());
        command.env("RUNKV_TOKEN", "t");
        Server::start(command)
    };
    let mut server = start().await;
    let client = reqwest::Client::new();

    // Each writer alternates between a new key per write (which must hold
    // exactly its value) and one key it overwrites with a growing counter
    // (which must hold at least the last acknowledged count).
    let acks = Arc::new(AtomicUsize::new(0));
    let unique: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let counters: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(vec![0; WRITERS]));
    let (enough, enough_reached) = tokio::sync::watch::channel(false);
    let enough = Arc::new(enough);

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (client, base) = (client.clone(), server.base.clone());
            let (acks, unique, counters, enough) =
                (acks.clone(), unique.clone(), counters.clone(), enough.clone());
            tokio::spawn(async move {
                for n in 1u64.. {
                    let (key, value) = if n % 2 == 0 {
                        (format!("unique-{w}-{n}"), format!("value {w} {n}"))
                    } else {
                        (format!("counter-{w}"), n.to_string())
                    };
                    let url = format!("{base}/set/crash/{key}");
                    let sent = client.put(url).bearer_auth("t").body(value.clone()).send().await;
                    match sent {
                        Ok(response) if response.status() == 200 => {
                            if n % 2 == 0 {
                                unique.lock().unwrap().push((key, value));
                            } else {
                                counters.lock().unwrap()[w] = n;
                            }
                            if acks.fetch_add(1, Ordering::SeqCst) + 1 >= KILL_AFTER_ACKS {
                                let _ = enough.send(true);
                            }
                        }
                        Ok(response) => panic!("unexpected status {}", response.status()),
                        // The server is gone: this write's fate is unknown, and
                        // the writer stops.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();

    let mut reached = enough_reached;
    reached.wait_for(|&done| done).await.unwrap();
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    for writer in writers {
        writer.await.unwrap();
    }

    let server = start().await;
    let read = |key: String| {
        let request = client.get(server.url(&format!("/get/crash/{key}"))).bearer_auth("t");
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "acknowledged key {key} is missing");
            response.json::<Value>().await.unwrap()["value"].as_str().unwrap().to_owned()
        }
    };

    let unique = std::mem::take(&mut *unique.lock().unwrap());
    assert!(unique.len() >= KILL_AFTER_ACKS / 2 - WRITERS);
    for (key, value) in unique {
        assert_eq!(read(key.clone()).await, value, "{key}");
    }
    let counters = counters.lock().unwrap().clone();
    for (w, acknowledged) in counters.into_iter().enumerate() {
        if acknowledged == 0 {
            continue;
        }
        let stored: u64 = read(format!("counter-{w}")).await.parse().unwrap();
        assert!(stored >= acknowledged, "counter-{w}: {stored} < acknowledged {acknowledged}");
    }
}
