//! The PostgreSQL store over TLS: with `sslmode=require` it encrypts, and it
//! verifies the server's certificate, so a server that cannot prove its
//! identity gets no connection.
//!
//! Uses a throwaway cluster with TLS switched on and certificates made for
//! the test by the `openssl` command.

mod postgres_util;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use postgres_util::cluster::{chown_to_postgres, is_root, Cluster};
use postgres_util::with_param;
use runkv_server::store::postgres::PostgresStore;
use runkv_server::store::{Condition, Store, StoreError};

/// Runs `openssl` in `dir` and insists that it succeeds.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Makes a CA named `name` in `dir`: `<name>.pem` and `<name>.key`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let config = dir.join(format!("{name}.cnf"));
    std::fs::write(
        &config,
        format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = ca\nprompt = no\n\
             [dn]\nCN = {name}\n\
             [ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign\n\
             subjectKeyIdentifier = hash\n"
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-config",
            &format!("{name}.cnf"),
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// Makes `server.pem` and `server.key` for 127.0.0.1, signed by CA `ca`.
fn make_server_cert(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    // PostgreSQL reads the key only if its owner alone can.
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    if is_root() {
        chown_to_postgres(dir);
        chown_to_postgres(&key);
        chown_to_postgres(&dir.join("server.pem"));
    }
}

/// A cluster that speaks TLS with a certificate from CA `trusted`, and the
/// directory with the certificates.
fn tls_cluster() -> (Cluster, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    make_ca(certs.path(), "trusted");
    make_ca(certs.path(), "stranger");
    make_server_cert(certs.path(), "trusted");
    let cluster = Cluster::create_with(&format!(
        "-c ssl=on -c ssl_cert_file={0}/server.pem -c ssl_key_file={0}/server.key",
        certs.path().display()
    ));
    (cluster, certs)
}

#[tokio::test]
async fn require_connects_over_tls_to_a_verified_server() {
    let (cluster, certs) = tls_cluster();
    let url = with_param(
        &cluster.url(),
        &format!("sslmode=require&sslrootcert={}", certs.path().join("trusted.pem").display()),
    );
    let store = PostgresStore::connect(&url).await.expect("connect over TLS");

    let version = store
        .set("ns", "k", "over tls".into(), None, &Condition::Always, 1)
        .await
        .unwrap()
        .unwrap();
    let entry = store.get("ns", "k", 1).await.unwrap().unwrap();
    assert_eq!((entry.value.as_str(), entry.version), ("over tls", version));

    // PostgreSQL's own view: the store's connections are encrypted.
    let admin_url = with_param(&cluster.url(), "sslmode=disable");
    let (admin, connection) =
        tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let row = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*)
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = 'runkv-server'",
            &[],
        )
        .await
        .unwrap();
    let (encrypted, all): (i64, i64) = (row.get(0), row.get(1));
    assert!(all > 0 && encrypted == all, "{encrypted} of {all} connections use TLS");
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_is_refused() {
    let (cluster, certs) = tls_cluster();
    let url = with_param(
        &cluster.url(),
        &format!("sslmode=require&sslrootcert={}", certs.path().join("stranger.pem").display()),
    );
    match PostgresStore::connect(&url).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.to_lowercase().contains("certificate"), "{message}")
        }
        other => panic!("expected a certificate failure, got {other:?}"),
    }
}
