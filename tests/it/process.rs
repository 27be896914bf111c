//! The real binary: zero-config start-up on SQLite, the one-time admin token, strict config errors,
//! no secrets in the log, and a clean exit on SIGTERM.
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ar_proc_{tag}_{}_{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary with a clean environment: only PATH, HOME and what the test passes.
fn command(cwd: &std::path::Path, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autorouter"));
    cmd.current_dir(cwd).env_clear();
    for k in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    cmd
}

fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Write;
            let _ =
                s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server on port {port} never became healthy");
}

fn http(port: u16, raw: &str) -> String {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id() as i32;
    // SAFETY-free: `kill` from the shell keeps the test free of libc bindings.
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn output_of(child: &mut Child) -> String {
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_string(&mut out).unwrap();
    }
    if let Some(mut s) = child.stderr.take() {
        s.read_to_string(&mut out).unwrap();
    }
    out
}

#[test]
fn starts_with_no_configuration_and_prints_the_admin_token_once() {
    let dir = temp_dir("zero");
    let port = free_port();
    let port_s = port.to_string();
    let mut child = command(&dir, &[("PORT", &port_s)]).spawn().unwrap();
    // The token is printed on stderr before the server listens.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut token = None;
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while token.is_none() && Instant::now() < deadline {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(t) = line.split_whitespace().find(|w| w.starts_with("art_")) {
            token = Some(t.to_string());
        }
    }
    let token = token.expect("a generated admin token is printed");
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
    });
    wait_healthy(port);

    // SQLite data, key and token hash live under ./data, secrets with mode 0600.
    let data = dir.join("data");
    assert!(data.join("autorouter.db").exists());
    for secret in ["encryption.key", "admin_token.sha256"] {
        let meta = std::fs::metadata(data.join(secret)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{secret}");
    }
    let stored = std::fs::read_to_string(data.join("admin_token.sha256")).unwrap();
    assert!(!stored.contains(&token));

    // The login page is served, and the printed token is accepted.
    let page = http(
        port,
        "GET /en/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(page.starts_with("HTTP/1.1 200"));
    let body = format!("token={token}");
    let login = http(
        port,
        &format!(
            "POST /api/ui/login HTTP/1.1\r\nHost: x\r\nOrigin: http://x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(login.contains("set-cookie: ar_session="), "{login}");
    assert!(terminate(&mut child).success());

    // A second start keeps the token and does not print it again.
    let mut child = command(&dir, &[("PORT", &port_s)]).spawn().unwrap();
    wait_healthy(port);
    assert!(terminate(&mut child).success());
    let out = output_of(&mut child);
    assert!(!out.contains("art_"), "token printed again: {out}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn invalid_configuration_stops_with_one_line_naming_the_variable() {
    let dir = temp_dir("bad");
    for (var, value) in [
        ("ALLOW_KEY_REVEAL", "maybe"),
        ("LOG_RETENTION_DAYS", "-3"),
        ("DATABASE_URL", "mysql://x"),
        ("ENCRYPTION_KEY", "not-a-key"),
        ("SERVER_THREADS", "many"),
    ] {
        let out = command(
            &dir,
            &[(var, value), ("ADMIN_TOKEN", "a-long-enough-admin-token")],
        )
        .output()
        .unwrap();
        assert!(!out.status.success(), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{var}: {stderr}");
        assert!(lines[0].contains(var), "{var}: {stderr}");
        assert!(!stderr.contains("panicked"), "{var}: {stderr}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn secrets_stay_out_of_the_log_even_at_debug_level() {
    let dir = temp_dir("secrets");
    let port = free_port();
    let token = "admin-secret-value-4242";
    let key = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=";
    let mut child = command(
        &dir,
        &[
            ("PORT", &port.to_string()),
            ("ADMIN_TOKEN", token),
            ("ENCRYPTION_KEY", key),
            ("LOG_LEVEL", "debug"),
            ("LOG_JSON", "true"),
        ],
    )
    .spawn()
    .unwrap();
    wait_healthy(port);
    let body = format!("token={token}");
    http(
        port,
        &format!(
            "POST /api/ui/login HTTP/1.1\r\nHost: x\r\nOrigin: http://x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    http(port, &format!("GET /api/admin/session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"));
    assert!(terminate(&mut child).success(), "SIGTERM exits cleanly");
    let out = output_of(&mut child);
    assert!(out.contains("request"), "debug log was written: {out}");
    assert!(!out.contains(token), "admin token leaked: {out}");
    assert!(!out.contains(key), "encryption key leaked");
    std::fs::remove_dir_all(dir).ok();
}

/// Time on CPU of each of the gateway's HTTP worker threads, in nanoseconds.
fn worker_cpu_ns(pid: u32) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if !name.starts_with("ar-http-") {
            continue;
        }
        let stat = std::fs::read_to_string(task.join("schedstat")).unwrap();
        let ns = stat.split_whitespace().next().unwrap().parse().unwrap();
        out.push((name.trim().to_string(), ns));
    }
    out.sort();
    out
}

#[test]
fn connections_are_dealt_to_every_server_thread() {
    let dir = temp_dir("threads");
    let port = free_port();
    let mut child = command(
        &dir,
        &[
            ("PORT", &port.to_string()),
            ("ADMIN_TOKEN", "a-long-enough-admin-token"),
            ("SERVER_THREADS", "3"),
        ],
    )
    .spawn()
    .unwrap();
    wait_healthy(port);
    let before = worker_cpu_ns(child.id());
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["ar-http-0", "ar-http-1", "ar-http-2"]);
    // One request per connection: the acceptor deals connections in turn, so each worker
    // serves some of these and spends time on them.
    for _ in 0..30 {
        let answer = http(
            port,
            "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let after = worker_cpu_ns(child.id());
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        assert!(a > b, "{name} served nothing: {b} ns then {a} ns");
    }
    assert!(terminate(&mut child).success());
    std::fs::remove_dir_all(dir).ok();
}

use crate::common::mock_upstream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_open_streams_finish_and_loses_no_log_row() {
    use serde_json::{json, Value};
    let upstream_key = "sk-upstream-never-logged-0123456789";
    let mock = mock_upstream::MockUpstream::start().await;
    let dir = temp_dir("drain");
    let port = free_port();
    let admin = "drain-admin-token-0123456789";
    let child = command(
        &dir,
        &[
            ("PORT", &port.to_string()),
            ("ADMIN_TOKEN", admin),
            ("ALLOW_PRIVATE_UPSTREAMS", "true"),
            ("LOG_LEVEL", "debug"),
        ],
    )
    .spawn()
    .unwrap();
    tokio::task::spawn_blocking(move || wait_healthy(port))
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let upstream: Value = http
        .post(format!("{base}/api/admin/upstreams"))
        .bearer_auth(admin)
        .json(&json!({"name": "m", "provider": "openai", "base_url": mock.base_url, "api_key": upstream_key}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created: Value = http
        .post(format!("{base}/api/admin/keys"))
        .bearer_auth(admin)
        .json(&json!({"name": "k", "upstream_ids": [upstream["id"]]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key_value"].as_str().unwrap().to_string();
    let chat = json!({"model": "gpt-4o-mini", "messages": []});
    for _ in 0..20 {
        let res = http
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&chat)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let stream = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .query(&[("x-mock-chunk-delay-ms", "100")])
        .query(&[("x-mock-events", "15")])
        .json(&json!({"model": "gpt-4o-mini", "stream": true, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let status = tokio::task::spawn_blocking(move || {
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        (child, ())
    })
    .await
    .unwrap();
    let (mut child, ()) = status;
    // The open stream still runs to its end after SIGTERM.
    let body = stream.text().await.unwrap();
    assert!(body.ends_with("data: [DONE]\n\n"), "stream was cut: {body}");
    let exit = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return (s, output_of(&mut child));
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert!(exit.0.success(), "{}", exit.1);
    assert!(
        !exit.1.contains(upstream_key),
        "upstream key in the server log"
    );
    assert!(!exit.1.contains(&key), "client key in the server log");

    let db = autorouter::server::db::Database::connect_url(
        &format!("sqlite://{}/data/autorouter.db", dir.display()),
        autorouter::server::config::DatabaseKind::Sqlite,
        1,
        1,
    )
    .await
    .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM request_logs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        rows, 21,
        "every request, the drained stream included, is logged"
    );
    let streamed: i64 =
        sqlx::query_scalar("SELECT completion_tokens FROM request_logs WHERE is_stream = 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(streamed, 7);
    std::fs::remove_dir_all(dir).ok();
}
