//! The floor: nginx as a bare reverse proxy in front of the same mock, doing the same two hops as
//! the gateway (client to proxy, proxy to mock over kept-alive upstream connections) and nothing
//! else. Configured here in a temporary directory of its own, never the system's configuration.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::procs::{free_port, wait_ready, Proc};

pub(crate) struct Nginx {
    proc: Proc,
    pub(crate) port: u16,
    pub(crate) workers: usize,
    pub(crate) version: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; a SIGKILL would leave them serving.
        self.proc.terminate(Duration::from_secs(5));
    }
}

/// The first `nginx` on PATH, or in the sbin directories a non-root PATH often leaves out.
fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

fn config(dir: &Path, port: u16, mock_port: u16, workers: usize) -> String {
    let d = dir.display();
    // Run as the current user: a master started by root would otherwise hand the workers to
    // `nobody`; anyone else's master keeps its own user and ignores the directive.
    // SAFETY: geteuid has no preconditions and cannot fail.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;\n"
    } else {
        ""
    };
    format!(
        r#"{user}worker_processes {workers};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    upstream mock {{
        server 127.0.0.1:{mock_port};
        keepalive 128;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"#
    )
}

/// Starts nginx on a free port, proxying to the mock; `Err` says why there is no floor.
pub(crate) async fn start(
    client: &reqwest::Client,
    dir: &Path,
    mock_port: u16,
) -> Result<Nginx, String> {
    let Some(binary) = find_binary() else {
        return Err("nginx not installed, floor skipped".into());
    };
    let version = Command::new(&binary)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
        .unwrap_or_default();
    std::fs::create_dir_all(dir).map_err(|e| format!("nginx: {}: {e}", dir.display()))?;
    let port = free_port();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(dir, port, mock_port, workers))
        .map_err(|e| format!("nginx: {}: {e}", conf.display()))?;
    // Check the configuration first, so a mistake is reported rather than waited for.
    let test = Command::new(&binary)
        .arg("-t")
        .arg("-q")
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf)
        .output()
        .map_err(|e| format!("nginx: {e}"))?;
    if !test.status.success() {
        return Err(format!(
            "nginx rejected its configuration, floor skipped: {}",
            String::from_utf8_lossy(&test.stderr).trim()
        ));
    }
    let proc = Proc::spawn(
        "nginx",
        Command::new(&binary)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf),
    );
    let nginx = Nginx {
        proc,
        port,
        workers,
        version,
    };
    wait_ready(client, &format!("http://127.0.0.1:{port}/v1/models")).await;
    Ok(nginx)
}

#[cfg(test)]
mod tests {
    use super::config;

    #[test]
    fn the_configuration_keeps_upstream_connections_alive_and_stays_in_its_directory() {
        let conf = config(std::path::Path::new("/tmp/x"), 8080, 9100, 2);
        for want in [
            "worker_processes 2;",
            "listen 127.0.0.1:8080;",
            "server 127.0.0.1:9100;",
            "keepalive 128;",
            "proxy_http_version 1.1;",
            r#"proxy_set_header Connection "";"#,
            "access_log off;",
            "pid /tmp/x/nginx.pid;",
            "error_log /tmp/x/error.log",
        ] {
            assert!(conf.contains(want), "missing {want:?} in\n{conf}");
        }
        for line in conf.lines().filter(|l| l.contains("_path ")) {
            assert!(line.contains(" /tmp/x/"), "outside its directory: {line}");
        }
    }
}
