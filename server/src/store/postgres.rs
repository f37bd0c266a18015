//! The PostgreSQL backend: the store for several stateless servers sharing one database.
//!
//! Every operation is one SQL statement, run in its own implicit transaction,
//! so `Ok` from a write means PostgreSQL committed it. Conditions are part of
//! the statement (`ON CONFLICT ... DO UPDATE ... WHERE`, `UPDATE ... WHERE`,
//! `DELETE ... WHERE`), so PostgreSQL's row locks decide races between
//! servers, not a read followed by a write.
//!
//! Versions come from one sequence per schema. A write that assigns a version
//! first takes a transaction-scoped advisory lock on its key, and the version
//! is drawn after the lock is held. Writes of one key therefore draw versions
//! in the order they commit, so a key's version grows even across a delete
//! and re-create, and across servers.
//!
//! Expiry is judged by the `now_ms` each caller passes in (the server's clock),
//! never by the database's clock, so that all backends agree and tests can
//! drive time by hand. An expired row is absent for reads and conditions until
//! [`Store::purge_expired`] deletes it.
//!
//! # Connection string
//!
//! A `postgres://` or `postgresql://` URL as libpq and `tokio-postgres`
//! understand it, plus two parameters that runkv reads and removes before
//! connecting:
//!
//! - `schema=NAME`: the schema that holds runkv's tables (default `public`);
//!   created if missing. Lower-case letters, digits and `_`, at most 63.
//! - `pool_size=N`: the most connections this server opens (default 16).
//!
//! TLS: `sslmode=require` (or `verify-ca`, `verify-full`) connects over TLS
//! and verifies the server's certificate and host name against the system's
//! CA certificates, or those in the PEM file `sslrootcert=PATH`. Without
//! it, the connection is not encrypted.
//!
//! Example: `postgres://runkv:secret@db.internal:5432/app?schema=runkv&pool_size=32`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, Transaction,
};
use runkv_protocol::{Precondition, Version};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{Condition, Conflict, Entry, Store, StoreError};

/// The schema version this code creates and expects.
const SCHEMA_VERSION: i32 = 1;

/// Connections per server when the URL does not say.
const DEFAULT_POOL_SIZE: usize = 16;

/// How long a request waits to open a connection, or for a free one, before it
/// is answered with "storage unavailable". Short, because a client retrying
/// after a 503 is better served than one whose request hangs.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest one statement may take. Every statement is a point read or
/// write, or a purge batch of [`PURGE_BATCH`] rows; one that takes longer
/// means the database or the network is in trouble.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows deleted per purge statement: small enough that each statement holds
/// its row locks only briefly.
const PURGE_BATCH: i64 = 1000;

/// How often a conditional write is retried when its condition failed but
/// the key changed before the conflict could be reported (see `retry_conflict`).
const CONFLICT_RECHECKS: usize = 4;

/// A [`Store`] on PostgreSQL.
pub struct PostgresStore {
    pool: Pool,
    sql: Sql,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's configuration holds the password; show only its shape.
        f.debug_struct("PostgresStore")
            .field("schema", &self.sql.schema)
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PostgresStore {
    /// Connects to the database at `url`, creates or migrates runkv's schema,
    /// and returns the store.
    ///
    /// Safe when several servers start at once: the migration runs under an
    /// advisory lock. Fails with [`StoreError::Unavailable`] when the
    /// database cannot be reached, and [`StoreError::Internal`] when the URL
    /// is invalid or the schema is newer than this server understands.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = ConnectOptions::parse(url)?;
        let config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match options.tls {
            Some(tls) => Manager::from_config(options.pg, tls, config),
            None => Manager::from_config(options.pg, NoTls, config),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))?;

        let store = PostgresStore { pool, sql: Sql::new(&options.schema) };
        store.migrate().await?;
        Ok(store)
    }

    /// The schema that holds this store's tables.
    pub fn schema(&self) -> &str {
        &self.sql.schema
    }

    /// Creates the schema, tables and sequence if missing, in one transaction
    /// under an advisory lock, so that servers starting together neither
    /// race on `CREATE` nor see a half-made schema.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(db_error)?;
        match migrate_in(&tx, &self.sql.schema).await {
            Ok(()) => tx.commit().await.map_err(db_error),
            Err(e) => {
                // Roll back now rather than when the connection is next used,
                // so that the locks taken so far do not outlive the failure.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Runs one statement on a pooled connection, within [`STATEMENT_TIMEOUT`].
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let work = async {
            let statement = client.prepare_cached(sql).await?;
            client.query(&statement, params).await
        };
        match tokio::time::timeout(STATEMENT_TIMEOUT, work).await {
            Ok(result) => result.map_err(db_error),
            Err(_) => {
                // The connection still owes the answer to the abandoned
                // statement; do not hand it to the next request.
                drop(Object::take(client));
                Err(StoreError::Unavailable(format!(
                    "PostgreSQL did not answer within {} s",
                    STATEMENT_TIMEOUT.as_secs()
                )))
            }
        }
    }

    /// The key's live version now, for reporting a failed condition.
    async fn current_version(
        &self,
        ns: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<Version>, StoreError> {
        let rows = self.query(&self.sql.version, &[&ns, &key.as_bytes(), &now_ms]).await?;
        Ok(rows.first().map(|row| version_of(row.get(0))))
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn get(&self, ns: &str, key: &str, now_ms: u64) -> Result<Option<Entry>, StoreError> {
        let rows = self.query(&self.sql.get, &[&ns, &key.as_bytes(), &to_i64(now_ms)]).await?;
        let Some(row) = rows.first() else { return Ok(None) };

        let value: Vec<u8> = row.get(0);
        let value = String::from_utf8(value).map_err(|_| {
            StoreError::Internal(format!("stored value of a key in {ns} is not UTF-8"))
        })?;
        let expires_at_ms: Option<i64> = row.get(2);
        Ok(Some(Entry {
            value,
            version: version_of(row.get(1)),
            expires_at_ms: expires_at_ms.map(|ms| ms.max(0) as u64),
        }))
    }

    async fn set(
        &self,
        ns: &str,
        key: &str,
        value: String,
        expires_at_ms: Option<u64>,
        cond: &Condition,
        now_ms: u64,
    ) -> Result<Result<Version, Conflict>, StoreError> {
        let now = to_i64(now_ms);
        let expires = expires_at_ms.map(to_i64);
        let (shape, versions) = CondShape::of(cond);
        let sql = &self.sql.set[shape as usize];

        for attempt in 0.. {
            let params: [&(dyn ToSql + Sync); 6] =
                [&ns, &key.as_bytes(), &value.as_bytes(), &expires, &now, &versions];
            let rows = self.query(sql, &params[..shape.set_param_count()]).await?;
            if let Some(row) = rows.first() {
                return Ok(Ok(version_of(row.get(0))));
            }

            // The condition failed on the row the statement saw.
            let current = self.current_version(ns, key, now).await?;
            if !retry_conflict(cond, current, attempt) {
                return Ok(Err(Conflict { current }));
            }
        }
        unreachable!("an unbounded range never ends")
    }

    async fn delete(
        &self,
        ns: &str,
        key: &str,
        cond: &Condition,
        now_ms: u64,
    ) -> Result<Result<bool, Conflict>, StoreError> {
        let now = to_i64(now_ms);
        let (shape, versions) = CondShape::of(cond);
        let sql = &self.sql.delete[shape as usize];

        for attempt in 0.. {
            let params: [&(dyn ToSql + Sync); 4] = [&ns, &key.as_bytes(), &now, &versions];
            let rows = self.query(sql, &params[..shape.delete_param_count()]).await?;
            if let Some(row) = rows.first() {
                return Ok(Ok(row.get(0)));
            }

            // Nothing deleted: either there was nothing to delete, which is
            // fine for any condition an absent key satisfies, or the
            // condition failed.
            let current = self.current_version(ns, key, now).await?;
            if current.is_none() && cond.holds(None) {
                return Ok(Ok(false));
            }
            if !retry_conflict(cond, current, attempt) {
                return Ok(Err(Conflict { current }));
            }
        }
        unreachable!("an unbounded range never ends")
    }

    async fn purge_expired(&self, now_ms: u64) -> Result<u64, StoreError> {
        let now = to_i64(now_ms);
        let mut total = 0;
        loop {
            let rows = self.query(&self.sql.purge, &[&now, &PURGE_BATCH]).await?;
            let deleted: i64 = rows.first().map(|row| row.get(0)).unwrap_or(0);
            total += deleted.max(0) as u64;
            if deleted < PURGE_BATCH {
                return Ok(total);
            }
        }
    }

    async fn close(&self) -> Result<(), StoreError> {
        // Every write was committed before it returned; nothing to flush.
        self.pool.close();
        Ok(())
    }
}

/// Creates or checks the schema inside the migration transaction `tx`.
async fn migrate_in(tx: &Transaction<'_>, schema: &str) -> Result<(), StoreError> {
    // Every start but the first would log "already exists, skipping" notices.
    tx.batch_execute("SET LOCAL client_min_messages = warning").await.map_err(db_error)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('runkv migrate ' || $1, 0))",
        &[&schema],
    )
    .await
    .map_err(db_error)?;

    // `CREATE SCHEMA IF NOT EXISTS` needs the right to create schemas even
    // when the schema exists, so ask first: a deployment may be given an
    // existing schema and no more.
    let exists = tx
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
        .await
        .map_err(db_error)?
        .is_some();
    if !exists {
        tx.batch_execute(&format!("CREATE SCHEMA {}", quote_ident(schema)))
            .await
            .map_err(db_error)?;
    }

    let q = quote_ident(schema);
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {q}.runkv_schema_version (version integer NOT NULL)"
    ))
    .await
    .map_err(db_error)?;
    let current: Option<i32> = tx
        .query_one(&format!("SELECT max(version) FROM {q}.runkv_schema_version"), &[])
        .await
        .map_err(db_error)?
        .get(0);

    match current {
        None => {
            // Keys and values are bytea, not text: a key or value may
            // contain U+0000, which PostgreSQL's text type cannot hold.
            tx.batch_execute(&format!(
                "CREATE SEQUENCE {q}.runkv_versions AS bigint;
                 CREATE TABLE {q}.runkv_entries (
                     namespace text NOT NULL,
                     key bytea NOT NULL,
                     value bytea NOT NULL,
                     version bigint NOT NULL,
                     expires_at_ms bigint,
                     PRIMARY KEY (namespace, key)
                 );
                 CREATE INDEX runkv_entries_expiry ON {q}.runkv_entries (expires_at_ms)
                     WHERE expires_at_ms IS NOT NULL;
                 INSERT INTO {q}.runkv_schema_version (version) VALUES ({SCHEMA_VERSION});"
            ))
            .await
            .map_err(db_error)?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(StoreError::Internal(format!(
                "schema {schema} has runkv schema version {other}; this server knows \
                 version {SCHEMA_VERSION}"
            )));
        }
    }

    Ok(())
}

/// Whether a write whose condition failed should run again rather than
/// report a conflict.
///
/// The statement checked the condition against the row it saw; by the time
/// the current version is read, another server may have changed the key so
/// that the condition now holds. A conflict that names a version satisfying
/// the condition would confuse the client, so the write runs again and then
/// simply takes effect after the other one. After [`CONFLICT_RECHECKS`] such
/// rounds the conflict is reported as it stands.
fn retry_conflict(cond: &Condition, current: Option<Version>, attempt: usize) -> bool {
    cond.holds(current) && attempt < CONFLICT_RECHECKS
}

/// The kinds of condition, each with its own SQL statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CondShape {
    Always = 0,
    IfExists = 1,
    IfVersion = 2,
    IfAbsent = 3,
    IfNotVersion = 4,
}

impl CondShape {
    const ALL: [CondShape; 5] = [
        CondShape::Always,
        CondShape::IfExists,
        CondShape::IfVersion,
        CondShape::IfAbsent,
        CondShape::IfNotVersion,
    ];

    /// The shape of `cond` and the versions it names (bound as `$6`/`$4`;
    /// empty when it names none).
    fn of(cond: &Condition) -> (CondShape, Vec<i64>) {
        let list = |versions: &[Version]| versions.iter().map(|v| to_i64(v.0)).collect();
        match cond {
            Condition::Always => (CondShape::Always, Vec::new()),
            Condition::IfMatch(Precondition::Any) => (CondShape::IfExists, Vec::new()),
            Condition::IfMatch(Precondition::Versions(v)) => (CondShape::IfVersion, list(v)),
            Condition::IfNoneMatch(Precondition::Any) => (CondShape::IfAbsent, Vec::new()),
            Condition::IfNoneMatch(Precondition::Versions(v)) => (CondShape::IfNotVersion, list(v)),
        }
    }

    /// How many of the set statement's parameters this shape's statement
    /// uses: the time is unused without a condition, the version list
    /// without versions. Unused trailing parameters must not be bound.
    fn set_param_count(self) -> usize {
        match self {
            CondShape::Always => 4,
            CondShape::IfExists | CondShape::IfAbsent => 5,
            CondShape::IfVersion | CondShape::IfNotVersion => 6,
        }
    }

    /// Like [`CondShape::set_param_count`], for the delete statement, which
    /// always uses the time.
    fn delete_param_count(self) -> usize {
        match self {
            CondShape::IfVersion | CondShape::IfNotVersion => 4,
            _ => 3,
        }
    }

    /// Whether an absent key satisfies the condition, so that a write may
    /// insert a new row.
    fn allows_absent(self) -> bool {
        matches!(self, CondShape::Always | CondShape::IfAbsent | CondShape::IfNotVersion)
    }

    /// The condition on the existing row `e`, with `$now` and `$versions`
    /// standing for the parameter numbers.
    fn predicate(self, now: &str, versions: &str) -> String {
        let live = format!("(e.expires_at_ms IS NULL OR e.expires_at_ms > {now})");
        match self {
            CondShape::Always => "TRUE".to_owned(),
            CondShape::IfExists => live,
            CondShape::IfVersion => format!("{live} AND e.version = ANY({versions})"),
            CondShape::IfAbsent => format!("NOT {live}"),
            CondShape::IfNotVersion => format!("NOT ({live} AND e.version = ANY({versions}))"),
        }
    }
}

/// The statements, written once per store for its schema.
struct Sql {
    schema: String,
    get: String,
    version: String,
    /// Indexed by [`CondShape`]. Parameters: namespace, key, value,
    /// expires_at_ms, now, versions.
    set: Vec<String>,
    /// Indexed by [`CondShape`]. Parameters: namespace, key, now, versions.
    delete: Vec<String>,
    purge: String,
}

impl Sql {
    fn new(schema: &str) -> Self {
        let q = quote_ident(schema);
        let table = format!("{q}.runkv_entries");
        let sequence = format!("{q}.runkv_versions");
        let live = "(expires_at_ms IS NULL OR expires_at_ms > $3)";

        // Held until the statement's transaction ends. The version is drawn
        // in the projection over this subquery, so only after the lock is
        // held; see the module documentation for why that matters. A volatile
        // function keeps the planner from flattening the subquery away.
        let key_lock = "(SELECT pg_advisory_xact_lock(hashtextextended( \
                        $1::text || '/' || encode($2::bytea, 'hex'), 0))) AS key_lock";

        let set = CondShape::ALL
            .iter()
            .map(|&shape| {
                let predicate = shape.predicate("$5", "$6");
                if shape.allows_absent() {
                    format!(
                        "INSERT INTO {table} AS e (namespace, key, value, version, expires_at_ms)
                         SELECT $1::text, $2::bytea, $3::bytea, nextval('{sequence}'), $4::bigint
                         FROM {key_lock}
                         ON CONFLICT (namespace, key) DO UPDATE
                         SET value = EXCLUDED.value, version = EXCLUDED.version,
                             expires_at_ms = EXCLUDED.expires_at_ms
                         WHERE {predicate}
                         RETURNING e.version"
                    )
                } else {
                    format!(
                        "UPDATE {table} AS e
                         SET value = $3, version = nextval('{sequence}'), expires_at_ms = $4
                         FROM {key_lock}
                         WHERE e.namespace = $1 AND e.key = $2 AND {predicate}
                         RETURNING e.version"
                    )
                }
            })
            .collect();

        // Deletes draw no version, so they need no key lock: the lock only
        // has to order the writes that assign versions.
        let delete = CondShape::ALL
            .iter()
            .map(|&shape| {
                let predicate = shape.predicate("$3", "$4");
                format!(
                    "DELETE FROM {table} AS e
                     WHERE e.namespace = $1 AND e.key = $2 AND {predicate}
                     RETURNING (e.expires_at_ms IS NULL OR e.expires_at_ms > $3)"
                )
            })
            .collect();

        Sql {
            schema: schema.to_owned(),
            get: format!(
                "SELECT value, version, expires_at_ms FROM {table}
                 WHERE namespace = $1 AND key = $2 AND {live}"
            ),
            version: format!(
                "SELECT version FROM {table} WHERE namespace = $1 AND key = $2 AND {live}"
            ),
            // SKIP LOCKED: servers purging at once split the work instead of
            // queueing behind each other, and a row a writer holds is left
            // for the next round.
            purge: format!(
                "WITH gone AS (
                     DELETE FROM {table} WHERE ctid = ANY(ARRAY(
                         SELECT ctid FROM {table} WHERE expires_at_ms <= $1
                         LIMIT $2 FOR UPDATE SKIP LOCKED))
                     AND expires_at_ms <= $1
                     RETURNING 1)
                 SELECT count(*) FROM gone"
            ),
            set,
            delete,
        }
    }
}

/// What runkv takes from the connection URL.
struct ConnectOptions {
    pg: tokio_postgres::Config,
    schema: String,
    pool_size: usize,
    /// Set when the URL asks for TLS (`sslmode=require` or `verify-*`).
    tls: Option<MakeRustlsConnect>,
}

impl ConnectOptions {
    fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid = |why: String| StoreError::Internal(format!("invalid PostgreSQL URL: {why}"));
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid("it must start with postgres:// or postgresql://".into()));
        }

        // Take out runkv's own parameters and the TLS ones it handles itself;
        // the rest are libpq's, for tokio-postgres.
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = "public".to_owned();
        let mut pool_size = DEFAULT_POOL_SIZE;
        let mut ssl_mode = "prefer".to_owned();
        let mut root_cert = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "schema" => schema = value.to_owned(),
                "pool_size" => {
                    pool_size =
                        value.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                            invalid(format!("pool_size={value} is not a number > 0"))
                        })?
                }
                "sslmode" => ssl_mode = value.to_owned(),
                "sslrootcert" => root_cert = Some(value.to_owned()),
                _ => kept.push(pair),
            }
        }
        validate_schema(&schema).map_err(invalid)?;

        // Every mode that asks for TLS gets it with the certificate and the
        // host name verified (libpq's verify-full): an unverified TLS
        // connection protects against eavesdroppers but not against the
        // man in the middle that it is usually meant to stop.
        let tls = match ssl_mode.as_str() {
            "disable" | "allow" | "prefer" => None,
            "require" | "verify-ca" | "verify-full" => {
                Some(tls_connector(root_cert.as_deref()).map_err(invalid)?)
            }
            other => {
                return Err(invalid(format!(
                    "sslmode={other}: expected disable, prefer, require, verify-ca or verify-full"
                )))
            }
        };
        if tls.is_none() && root_cert.is_some() {
            return Err(invalid("sslrootcert is only used with sslmode=require".into()));
        }
        kept.push(if tls.is_some() { "sslmode=require" } else { "sslmode=disable" });

        let url = format!("{base}?{}", kept.join("&"));
        // The parser's message never contains the password.
        let mut pg = tokio_postgres::Config::from_str(&url).map_err(|e| invalid(e.to_string()))?;
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("runkv-server");
        }
        Ok(ConnectOptions { pg, schema, pool_size, tls })
    }
}

/// A TLS connector that trusts the CA certificates in `root_cert` (a PEM
/// file), or else the system's.
fn tls_connector(root_cert: Option<&str>) -> Result<MakeRustlsConnect, String> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert={path}: {e}"))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("sslrootcert={path}: {e}"))?;
                roots.add(cert).map_err(|e| format!("sslrootcert={path}: {e}"))?;
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    if roots.is_empty() {
        return Err("sslmode=require, but there are no CA certificates to verify the server \
                    with; name a PEM file with sslrootcert=PATH"
            .into());
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn validate_schema(schema: &str) -> Result<(), String> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "schema={schema} is not a valid schema name (lower-case letters, digits and _, \
             not starting with a digit, at most 63)"
        ))
    }
}

/// The schema name as a quoted identifier. Names are validated to need no
/// escaping; quoting keeps them from being read as keywords.
fn quote_ident(name: &str) -> String {
    format!("\"{name}\"")
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn version_of(raw: i64) -> Version {
    Version(raw.max(0) as u64)
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => db_error(e),
        PoolError::Timeout(_) => {
            StoreError::Unavailable("no PostgreSQL connection could be had in time".into())
        }
        other => StoreError::Unavailable(format!("PostgreSQL connection pool: {other}")),
    }
}

/// Sorts a driver error into "try again later" and "something is wrong".
fn db_error(e: tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        // No answer from the server at all: the connection failed, closed or
        // timed out. The driver's message names only the stage ("error
        // performing TLS handshake"); the causes say what went wrong.
        let mut message = format!("PostgreSQL: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        return StoreError::Unavailable(message);
    };
    let code = db.code();
    let passing = code.code().starts_with("08") // connection exception
        || code.code().starts_with("53") // insufficient resources
        || code.code().starts_with("57P") // shutting down, cannot connect now
        || *code == SqlState::QUERY_CANCELED
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::LOCK_NOT_AVAILABLE
        // A failover left us on a standby.
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION;
    let message = format!("PostgreSQL: {} ({})", db.message(), code.code());
    if passing {
        StoreError::Unavailable(message)
    } else {
        StoreError::Internal(message)
    }
}
