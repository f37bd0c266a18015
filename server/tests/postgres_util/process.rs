//! `runkv-server` processes on a PostgreSQL store, as an operator runs them.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The one token every test server accepts.
pub const TOKEN: &str = "postgres-test-token";

/// A running `runkv-server`, killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    _data_dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the binary on port 0 with `--store store_url` and waits for
    /// its "listening on" line.
    pub async fn start(store_url: &str) -> ServerProcess {
        let data_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_runkv-server"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--store")
            .arg(store_url)
            .arg("--data-dir")
            .arg(data_dir.path())
            .env("RUNKV_TOKEN", TOKEN)
            .env_remove("RUNKV_TOKENS_FILE")
            .env_remove("RUNKV_STORE")
            .env_remove("RUNKV_LISTEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start runkv-server");

        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(base) = line.strip_prefix("runkv-server listening on ") {
                // Keep reading stdout so the server never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return ServerProcess { child, base: base.to_owned(), _data_dir: data_dir };
            }
            printed.push(line);
        }
        panic!("runkv-server exited before listening; it printed {printed:?}");
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Whether the process is still running (it has not exited or crashed).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

/// An HTTP client that sends the test token.
pub fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("Authorization", format!("Bearer {TOKEN}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}
