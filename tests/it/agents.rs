//! Real coding agents, unchanged, through the gateway: Claude Code (`claude -p`, then
//! `--resume`) and Codex CLI (`codex exec`, then `codex exec resume --last`) each hold a
//! three-turn session, the first turn with a tool call, against two equal mock upstreams, set up
//! exactly as the README's snippets say (the tests read them from README.md). They need the
//! agents' binaries in `AUTOROUTER_CLAUDE` and `AUTOROUTER_CODEX` (scripts/install-tools.sh
//! --test installs pinned versions into .tools/agents), so a plain `cargo test` ignores them;
//! scripts/test.sh runs them with `--ignored agents::`, and they fail, saying why, when a binary
//! is missing. Nothing the agents do leaves 127.0.0.1: they are told not to call home.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::mock_upstream::{AgentScript, MockUpstream, Received};
use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789";
/// A turn against the local mock takes well under a second; this only stops a hung agent.
const TURN_TIMEOUT: Duration = Duration::from_secs(120);
/// What the mock answers every turn (after the tool call, on the first).
const REPLY: &str = "Mock agent reply: all done.";
/// In a prompt, asks the mock for a tool call.
const MARKER: &str = "[use the tool]";
/// What the README's snippets say, to be replaced by the test gateway's address and key.
const README_BASE: &str = "http://127.0.0.1:3000";
const README_KEY: &str = "sk-auto-...";

/// The agent's binary named by `var`. Unset, or naming no file, fails the test with the reason.
fn binary(var: &str, what: &str) -> PathBuf {
    let path = std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: it names {what} (scripts/test.sh sets it to the one scripts/install-tools.sh --test installs into .tools/agents)")
    });
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{var}={} names no file: run scripts/install-tools.sh --test",
        path.display()
    );
    path
}

/// The fenced block after `<!-- tested by tests/it/agents.rs: NAME -->` in README.md.
fn readme_snippet(name: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md reads");
    let marker = format!("<!-- tested by tests/it/agents.rs: {name} -->");
    let (_, after) = readme
        .split_once(&marker)
        .unwrap_or_else(|| panic!("README.md has no {marker}"));
    let mut lines = after.lines().skip_while(|l| l.trim().is_empty());
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "README.md: a fenced block must follow {marker}"
    );
    let block: Vec<&str> = lines.take_while(|l| !l.starts_with("```")).collect();
    block.join("\n") + "\n"
}

/// `text` with the README's `placeholder` replaced, which must be there.
fn substitute(text: &str, placeholder: &str, value: &str) -> String {
    assert!(
        text.contains(placeholder),
        "the README snippet no longer contains {placeholder}:\n{text}"
    );
    text.replace(placeholder, value)
}

/// A shell snippet's `export NAME=VALUE` lines, and the command it ends with.
fn exports_and_command(sh: &str) -> (Vec<(String, String)>, String) {
    let mut exports = Vec::new();
    let mut command = String::new();
    for line in sh.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.strip_prefix("export ") {
            Some(pair) => {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("not NAME=VALUE: {line}"));
                exports.push((k.to_string(), v.trim_matches('"').to_string()));
            }
            None => command = line.to_string(),
        }
    }
    (exports, command)
}

/// A throwaway home and working directory for one agent session.
struct Sandbox {
    root: PathBuf,
    home: PathBuf,
    work: PathBuf,
}

impl Sandbox {
    fn new(agent: &str) -> Sandbox {
        let root = std::env::temp_dir().join(format!(
            "autorouter_agent_{agent}_{}_{}",
            std::process::id(),
            common::now_ms()
        ));
        let (home, work) = (root.join("home"), root.join("work"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        Sandbox { root, home, work }
    }

    /// The agent with an empty environment but `PATH` (Codex's launcher runs under Node.js), a
    /// home of its own, proxies bypassed for the gateway, and no standard input.
    fn command(&self, binary: &Path) -> Command {
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .current_dir(&self.work)
            .stdin(Stdio::null());
        cmd
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs one turn to its end (killed after [`TURN_TIMEOUT`]); it must exit 0. Returns stdout and
/// stderr.
async fn run_turn(mut cmd: Command, dir: &Path, label: &str) -> (String, String) {
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let label = label.to_string();
    tokio::task::spawn_blocking(move || {
        cmd.stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{label}: cannot start the agent: {e}"));
        let deadline = Instant::now() + TURN_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        match status {
            None => panic!("{label}: no end after {TURN_TIMEOUT:?}\n{stdout}\n{stderr}"),
            Some(s) if !s.success() => panic!("{label}: exited with {s}\n{stdout}\n{stderr}"),
            Some(_) => (stdout, stderr),
        }
    })
    .await
    .unwrap()
}

/// Two equal upstreams of `provider` answering as `script` says, balanced round robin (so a
/// session that did not stick would alternate), and a key for both: (mocks, upstream ids,
/// key id, key).
async fn two_upstreams(
    app: &TestApp,
    provider: &str,
    script: AgentScript,
) -> ([MockUpstream; 2], [String; 2], String, String) {
    let mocks = [MockUpstream::start().await, MockUpstream::start().await];
    let mut ids = Vec::new();
    for (i, mock) in mocks.iter().enumerate() {
        mock.update(|k| k.agent = Some(script.clone()));
        ids.push(
            app.upstream(json!({
                "name": format!("{provider}-{i}"), "provider": provider,
                "base_url": mock.base_url, "api_key": UPSTREAM_KEY
            }))
            .await,
        );
    }
    let (status, body) = app
        .admin_json(
            Method::PUT,
            "/api/admin/settings",
            json!({"lb_strategy": "round_robin"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (key_id, key) = app.key(&[&ids[0], &ids[1]]).await;
    let ids = [ids[0].clone(), ids[1].clone()];
    (mocks, ids, key_id, key)
}

/// The one mock that received the session's requests (the other received none): its index.
fn the_one_upstream(mocks: &[MockUpstream; 2]) -> usize {
    let hits = (mocks[0].hits(), mocks[1].hits());
    assert!(
        (hits.0 > 0) != (hits.1 > 0),
        "every turn of the session must reach one upstream, not both or none: {hits:?}"
    );
    if hits.0 > 0 {
        0
    } else {
        1
    }
}

/// What every log row of a session must show.
struct Expected<'a> {
    rows: usize,
    key_id: &'a str,
    /// The session's name as the agent sent it (the log keeps a digest of key and name).
    session: &'a str,
    upstream_id: &'a str,
    path: &'a str,
    model: &'a str,
    /// (prompt, completion, cached, cache_creation, reasoning) tokens of each turn.
    tokens: [i64; 5],
    cost_usd: f64,
}

/// The rows of the session, oldest first: one session (the digest of key and name), one
/// upstream, sticky from the second request on, the mock's tokens and their cost.
async fn assert_logged(app: &TestApp, want: &Expected<'_>) {
    let mut rows = app.logs(want.rows).await;
    assert_eq!(rows.len(), want.rows, "{rows:#?}");
    rows.sort_by_key(|r| r["id"].as_i64());
    let digest =
        autorouter::server::crypto::sha256(format!("{}\0{}", want.key_id, want.session).as_bytes());
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    for (i, row) in rows.iter().enumerate() {
        let at = format!("row {i}: {row}");
        assert_eq!(row["status_code"], 200, "{at}");
        assert_eq!(row["path"], want.path, "{at}");
        assert_eq!(row["is_stream"], true, "{at}");
        assert_eq!(row["model_requested"], want.model, "{at}");
        assert_eq!(row["upstream_id"], want.upstream_id, "{at}");
        assert_eq!(row["session_id"], short.as_str(), "{at}");
        assert_eq!(row["sticky"], i > 0, "{at}");
        let tokens = [
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "cache_creation_tokens",
            "reasoning_tokens",
        ]
        .map(|f| row[f].as_i64().unwrap_or(-1));
        assert_eq!(tokens, want.tokens, "{at}");
        let cost = row["cost_usd"].as_f64().expect("the row has a cost");
        assert!((cost - want.cost_usd).abs() < 1e-12, "{at}");
    }
}

/// Claude Code 2.1: three turns, the first reading a file with its `Read` tool, the next two
/// resuming the session by id.
async fn claude_code_session(backend: common::Backend) {
    let claude = binary("AUTOROUTER_CLAUDE", "Claude Code's `claude`");
    let app = TestApp::spawn_with(backend, &[("ALLOW_PRIVATE_UPSTREAMS", "true")]).await;
    let sandbox = Sandbox::new("claude");
    let note = sandbox.work.join("note.txt");
    std::fs::write(&note, "The note says: forty-two.\n").unwrap();
    let script = AgentScript {
        text: REPLY.into(),
        tool_marker: MARKER.into(),
        tool_name: "Read".into(),
        tool_input: json!({"file_path": note.display().to_string()}),
    };
    let (mocks, ids, key_id, key) = two_upstreams(&app, "anthropic", script).await;
    let sh = substitute(&readme_snippet("claude-code"), README_BASE, &app.base);
    let sh = substitute(&sh, README_KEY, &key);
    let (exports, command) = exports_and_command(&sh);
    assert_eq!(command, "claude", "the README's snippet starts claude");

    let prompts = [
        format!("What does note.txt say? {MARKER}"),
        "Thanks. Anything else to add?".to_string(),
        "Then we are done.".to_string(),
    ];
    let mut session: Option<String> = None;
    for (turn, prompt) in prompts.iter().enumerate() {
        let mut cmd = sandbox.command(&claude);
        cmd.envs(exports.iter().map(|(k, v)| (k, v)))
            // Test isolation: its own configuration, and nothing sent anywhere but the gateway.
            .env("CLAUDE_CONFIG_DIR", sandbox.home.join(".claude"))
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .args(["-p", prompt.as_str(), "--output-format", "json"])
            .args(["--model", "claude-sonnet-4-5", "--allowedTools", "Read"]);
        if let Some(id) = &session {
            cmd.args(["--resume", id]);
        }
        let label = format!("claude turn {}", turn + 1);
        let (stdout, stderr) = run_turn(cmd, &sandbox.root, &label).await;
        let result: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{label}: not JSON ({e}):\n{stdout}\n{stderr}"));
        assert_eq!(result["is_error"], false, "{label}: {result}");
        assert_eq!(result["result"], REPLY, "{label}: {result}");
        let id = result["session_id"]
            .as_str()
            .expect("a session id")
            .to_string();
        if let Some(first) = &session {
            assert_eq!(&id, first, "{label}: --resume continues the session");
        }
        session = Some(id);
    }
    let session = session.unwrap();

    let served = the_one_upstream(&mocks);
    let reqs: Vec<Received> = mocks[served].received();
    // The tool call and its result make the first turn two requests.
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    for r in &reqs {
        // Claude Code's beta query and headers pass through; the upstream sees its own key.
        assert_eq!(r.path, "/v1/messages?beta=true");
        assert_eq!(r.header("x-api-key"), Some(UPSTREAM_KEY));
        assert!(r
            .header("anthropic-beta")
            .is_some_and(|b| b.contains("claude-code-")));
        assert_eq!(r.header("x-claude-code-session-id"), Some(session.as_str()));
    }
    // The Read tool ran in the agent and its result came back on the next request.
    let last = reqs[1].json().unwrap()["messages"]
        .as_array()
        .and_then(|m| m.last().cloned())
        .unwrap();
    let result = last["content"]
        .as_array()
        .and_then(|c| c.iter().find(|b| b["type"] == "tool_result").cloned())
        .unwrap_or_else(|| panic!("no tool_result in {last}"));
    assert_eq!(result["tool_use_id"], "toolu_agent_1");
    assert!(result.to_string().contains("forty-two"), "{result}");

    // Per turn: 120 + 40 written + 800 read = 960 input, 30 output. At claude-sonnet-4-5's
    // $3 input, $0.30 cache read, $3.75 cache write, $15 output per million:
    // 120 × 3 + 800 × 0.3 + 40 × 3.75 + 30 × 15 = 1200 micro-USD.
    assert_logged(
        &app,
        &Expected {
            rows: 4,
            key_id: &key_id,
            session: &session,
            upstream_id: &ids[served],
            path: "/v1/messages",
            model: "claude-sonnet-4-5",
            tokens: [960, 30, 800, 40, 0],
            cost_usd: 0.0012,
        },
    )
    .await;
    app.cleanup().await;
}

/// Settings only the test adds to the README's config.toml: nothing leaves 127.0.0.1 (no update
/// check, analytics, feedback, OpenTelemetry export or plugin sync from GitHub).
const CODEX_TEST_TOP: &str = "check_for_update_on_startup = false\n\n";
const CODEX_TEST_TABLES: &str = "
[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = \"none\"

[features]
plugins = false
";

/// Codex CLI 0.171: three turns, the first running `echo` through its `exec_command` tool, the
/// next two resuming the latest session.
async fn codex_session(backend: common::Backend) {
    let codex = binary("AUTOROUTER_CODEX", "Codex CLI's `codex`");
    let app = TestApp::spawn_with(backend, &[("ALLOW_PRIVATE_UPSTREAMS", "true")]).await;
    let sandbox = Sandbox::new("codex");
    let script = AgentScript {
        text: REPLY.into(),
        tool_marker: MARKER.into(),
        tool_name: "exec_command".into(),
        tool_input: json!({"cmd": "echo agent-tool-ok"}),
    };
    let (mocks, ids, key_id, key) = two_upstreams(&app, "openai", script).await;
    let config = substitute(&readme_snippet("codex-config"), README_BASE, &app.base);
    let codex_home = sandbox.home.join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        format!("{CODEX_TEST_TOP}{config}{CODEX_TEST_TABLES}"),
    )
    .unwrap();
    let sh = substitute(&readme_snippet("codex-env"), README_KEY, &key);
    let (exports, command) = exports_and_command(&sh);
    assert_eq!(command, "codex", "the README's snippet starts codex");

    let prompts = [
        format!("Run echo agent-tool-ok, please. {MARKER}"),
        "Thanks. Anything else to add?".to_string(),
        "Then we are done.".to_string(),
    ];
    for (turn, prompt) in prompts.iter().enumerate() {
        let mut cmd = sandbox.command(&codex);
        cmd.envs(exports.iter().map(|(k, v)| (k, v)))
            .env("CODEX_HOME", &codex_home)
            .arg("exec");
        if turn > 0 {
            cmd.args(["resume", "--last"]);
        }
        // --strict-config: a setting this version does not know fails the turn.
        cmd.args(["--strict-config", "--skip-git-repo-check", prompt.as_str()]);
        let label = format!("codex turn {}", turn + 1);
        let (stdout, stderr) = run_turn(cmd, &sandbox.root, &label).await;
        // `codex exec` prints the final answer alone on stdout, the transcript on stderr.
        assert_eq!(stdout.trim(), REPLY, "{label}:\n{stdout}\n{stderr}");
    }

    let served = the_one_upstream(&mocks);
    let reqs: Vec<Received> = mocks[served].received();
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    let session = reqs[0]
        .header("session-id")
        .expect("Codex names its session in `session-id`, and the gateway passes it on")
        .to_string();
    for r in &reqs {
        assert_eq!(r.path, "/v1/responses");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {UPSTREAM_KEY}").as_str())
        );
        assert_eq!(r.header("session-id"), Some(session.as_str()));
        assert_eq!(r.json().unwrap()["prompt_cache_key"], session.as_str());
    }
    // `echo` ran in the agent and its output came back on the next request.
    let input = reqs[1].json().unwrap()["input"].clone();
    let output = input
        .as_array()
        .and_then(|i| {
            i.iter()
                .find(|x| x["type"] == "function_call_output")
                .cloned()
        })
        .unwrap_or_else(|| panic!("no function_call_output in {input}"));
    assert_eq!(output["call_id"], "call_agent_1");
    assert!(output.to_string().contains("agent-tool-ok"), "{output}");

    // Per turn: 2000 input of which 1500 cached, 50 output of which 20 reasoning. At gpt-5's
    // $1.25 input, $0.125 cached, $10 output per million:
    // 500 × 1.25 + 1500 × 0.125 + 50 × 10 = 1312.5 micro-USD.
    assert_logged(
        &app,
        &Expected {
            rows: 4,
            key_id: &key_id,
            session: &session,
            upstream_id: &ids[served],
            path: "/v1/responses",
            model: "gpt-5",
            tokens: [2000, 50, 1500, 0, 20],
            cost_usd: 0.0013125,
        },
    )
    .await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTOROUTER_CLAUDE; scripts/test.sh runs it"]
async fn claude_code_three_turns_on_one_upstream_on_sqlite() {
    claude_code_session(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTOROUTER_CLAUDE; scripts/test.sh runs it"]
async fn claude_code_three_turns_on_one_upstream_on_postgres() {
    claude_code_session(common::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTOROUTER_CODEX; scripts/test.sh runs it"]
async fn codex_three_turns_on_one_upstream_on_sqlite() {
    codex_session(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTOROUTER_CODEX; scripts/test.sh runs it"]
async fn codex_three_turns_on_one_upstream_on_postgres() {
    codex_session(common::Backend::Postgres).await;
}
