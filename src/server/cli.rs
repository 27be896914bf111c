//! The binary's one-off commands beside serving: `export` and `import` (configuration as code,
//! and the move from the original AutoRouter). Parsing and printing only: the work is the
//! services' (docs/config-as-code.md).
use std::io::{Read, Write};

use crate::model::config::{ImportResult, JsImportSummary, Tally};
use crate::server::clock;
use crate::server::config::Config;
use crate::server::rest::config::{parse_document, to_yaml};
use crate::server::service::autorouter_js;
use crate::server::service::config_io::{self, KeyRefs};
use crate::server::startup::build_command_state;

pub const USAGE: &str = "\
usage:
  autorouter                       serve (the default)
  autorouter export [--output FILE] [--json] [--api-key-env]
      write the configuration as YAML (or JSON) to FILE or standard output
  autorouter import FILE|- [--dry-run] [--prune] [--json] [--keys-out FILE]
      apply a configuration document (YAML or JSON); - reads standard input
  autorouter import --from-autorouter-js POSTGRES_URL [--dry-run] [--json]
      copy the original AutoRouter's upstreams, keys, links, breaker settings and logs

The database, ENCRYPTION_KEY and the rest come from the environment, as for serving.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Serve,
    Help,
    Export {
        output: Option<String>,
        json: bool,
        key_refs: bool,
    },
    Import {
        file: String,
        dry_run: bool,
        prune: bool,
        json: bool,
        keys_out: Option<String>,
    },
    ImportJs {
        url: String,
        dry_run: bool,
        json: bool,
    },
}

/// The command the arguments (without the program's name) ask for.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some(first) = args.first() else {
        return Ok(Command::Serve);
    };
    let rest = &args[1..];
    let flag = |name: &str| rest.iter().any(|a| a == name);
    let value = |name: &str| -> Result<Option<String>, String> {
        match rest.iter().position(|a| a == name) {
            None => Ok(None),
            Some(i) => rest
                .get(i + 1)
                .filter(|v| !v.starts_with("--"))
                .cloned()
                .map(Some)
                .ok_or_else(|| format!("{name} needs a value")),
        }
    };
    let known = |allowed: &[&str], with_value: &[&str]| -> Result<Vec<String>, String> {
        let mut positional = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            let a = &rest[i];
            if with_value.contains(&a.as_str()) {
                i += 2;
                continue;
            }
            if a.starts_with("--") && !allowed.contains(&a.as_str()) {
                return Err(format!("unknown option {a}"));
            }
            if !a.starts_with("--") || a == "-" {
                positional.push(a.clone());
            }
            i += 1;
        }
        Ok(positional)
    };
    match first.as_str() {
        "serve" => Ok(Command::Serve),
        "help" | "--help" | "-h" => Ok(Command::Help),
        "export" => {
            let positional = known(&["--json", "--api-key-env"], &["--output", "-o"])?;
            if !positional.is_empty() {
                return Err(format!("export takes no argument {:?}", positional[0]));
            }
            Ok(Command::Export {
                output: value("--output")?.or(value("-o")?),
                json: flag("--json"),
                key_refs: flag("--api-key-env"),
            })
        }
        "import" => {
            if let Some(url) = value("--from-autorouter-js")? {
                let positional = known(&["--dry-run", "--json"], &["--from-autorouter-js"])?;
                if !positional.is_empty() {
                    return Err("--from-autorouter-js takes no file".into());
                }
                return Ok(Command::ImportJs {
                    url,
                    dry_run: flag("--dry-run"),
                    json: flag("--json"),
                });
            }
            let positional = known(&["--dry-run", "--prune", "--json"], &["--keys-out"])?;
            let [file] = positional.as_slice() else {
                return Err("import needs one FILE (or - for standard input)".into());
            };
            Ok(Command::Import {
                file: file.clone(),
                dry_run: flag("--dry-run"),
                prune: flag("--prune"),
                json: flag("--json"),
                keys_out: value("--keys-out")?,
            })
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

fn fail(what: &str, e: impl std::fmt::Display) -> i32 {
    eprintln!("autorouter {what}: {e}");
    1
}

/// Runs a command other than `Serve`; the process's exit code.
pub async fn run(command: Command, config: Config) -> i32 {
    if command == Command::Help {
        println!("{USAGE}");
        return 0;
    }
    let state = match build_command_state(config, clock::system()).await {
        Ok(s) => s,
        Err(e) => return fail("", format!("cannot start: {e}")),
    };
    let code = match command {
        Command::Export {
            output,
            json,
            key_refs,
        } => export(&state, output, json, key_refs).await,
        Command::Import {
            file,
            dry_run,
            prune,
            json,
            keys_out,
        } => import(&state, &file, dry_run, prune, json, keys_out).await,
        Command::ImportJs { url, dry_run, json } => {
            match autorouter_js::import(&state, &url, dry_run).await {
                Ok(summary) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&summary).unwrap_or_default()
                        );
                    } else {
                        print_summary(&summary);
                    }
                    0
                }
                Err(e) => fail("import", e),
            }
        }
        Command::Serve | Command::Help => 0,
    };
    state.db.pool.close().await;
    code
}

async fn export(
    state: &crate::server::state::AppState,
    output: Option<String>,
    json: bool,
    key_refs: bool,
) -> i32 {
    let refs = if key_refs {
        KeyRefs::Env
    } else {
        KeyRefs::Omit
    };
    let doc = match config_io::export(state, refs).await {
        Ok(d) => d,
        Err(e) => return fail("export", e),
    };
    let text = if json {
        serde_json::to_string_pretty(&doc)
            .map(|t| t + "\n")
            .map_err(|e| e.to_string())
    } else {
        to_yaml(&doc).map_err(|e| e.to_string())
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => return fail("export", e),
    };
    let written = match output.as_deref() {
        None | Some("-") => std::io::stdout().write_all(text.as_bytes()),
        Some(path) => std::fs::write(path, text.as_bytes()),
    };
    match written {
        Ok(()) => 0,
        Err(e) => fail("export", e),
    }
}

async fn import(
    state: &crate::server::state::AppState,
    file: &str,
    dry_run: bool,
    prune: bool,
    json: bool,
    keys_out: Option<String>,
) -> i32 {
    let mut body = Vec::new();
    let read = if file == "-" {
        std::io::stdin().read_to_end(&mut body).map(drop)
    } else {
        std::fs::read(file).map(|b| body = b)
    };
    if let Err(e) = read {
        return fail("import", format!("{file}: {e}"));
    }
    let is_json = file.ends_with(".json");
    let doc = match parse_document(&body, is_json) {
        Ok(d) => d,
        Err(e) => return fail("import", format!("{file}: {e}")),
    };
    let mut result = match config_io::import(state, doc, dry_run, prune).await {
        Ok(r) => r,
        Err(e) => return fail("import", e),
    };
    if let Some(path) = keys_out.as_deref() {
        let text = serde_json::to_string_pretty(&result.issued_keys).unwrap_or_default();
        if let Err(e) =
            crate::server::crypto::write_private_file(std::path::Path::new(path), text.as_bytes())
        {
            return fail("import", format!("--keys-out {path}: {e}"));
        }
        result.issued_keys.clear();
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        );
    } else {
        print_plan(&result, keys_out.as_deref());
    }
    0
}

fn print_plan(result: &ImportResult, keys_out: Option<&str>) {
    for c in &result.changes {
        if c.fields.is_empty() {
            println!("{} {} {:?}", c.action, c.kind, c.name);
        } else {
            println!(
                "{} {} {:?}: {}",
                c.action,
                c.kind,
                c.name,
                c.fields.join(", ")
            );
        }
    }
    let n = result.changes.len();
    match (n, result.dry_run) {
        (0, _) => println!("no changes: the gateway already matches the document"),
        (_, true) => println!("{n} change(s) planned (dry run: nothing was changed)"),
        (_, false) => println!("{n} change(s) applied"),
    }
    if let Some(path) = keys_out {
        println!("the new keys' values are in {path} (mode 0600)");
    }
    for k in &result.issued_keys {
        println!(
            "new key {:?}: {} (shown only this once)",
            k.name, k.key_value
        );
    }
}

fn tally(what: &str, t: Tally) {
    println!(
        "{what}: {} copied, {} already here, {} skipped",
        t.copied, t.already, t.skipped
    );
}

fn print_summary(s: &JsImportSummary) {
    println!("the original's layout: {}", s.layout);
    tally("upstreams", s.upstreams);
    tally("keys", s.keys);
    tally("key-upstream links", s.links);
    tally("breaker settings", s.breaker_configs);
    tally("request logs", s.request_logs);
    for w in &s.warnings {
        println!("warning: {w}");
    }
    if s.dry_run {
        println!("dry run: nothing was written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse(&[]).unwrap(), Command::Serve);
        assert_eq!(
            parse(&args("export --api-key-env -o out.yaml")).unwrap(),
            Command::Export {
                output: Some("out.yaml".into()),
                json: false,
                key_refs: true
            }
        );
        assert_eq!(
            parse(&args("import cfg.yaml --dry-run")).unwrap(),
            Command::Import {
                file: "cfg.yaml".into(),
                dry_run: true,
                prune: false,
                json: false,
                keys_out: None
            }
        );
        assert_eq!(
            parse(&args(
                "import --from-autorouter-js postgres://x/y --dry-run"
            ))
            .unwrap(),
            Command::ImportJs {
                url: "postgres://x/y".into(),
                dry_run: true,
                json: false
            }
        );
        assert!(parse(&args("import")).is_err());
        assert!(parse(&args("import a b")).is_err());
        assert!(parse(&args("export --bogus")).is_err());
        assert!(parse(&args("frobnicate")).is_err());
    }
}
