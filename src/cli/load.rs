//! Reads a plan and its inventory from disk and runs the pure parse and validation over them.

use super::{CliError, read};
use crate::inventory::{self, Inventory};
use crate::plan::diagnostic::{Diagnostic, FileId, Severity, SourceFile, render};
use crate::plan::model::Plan;
use crate::plan::parse::parse;
use crate::plan::validate::{Context, validate};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// Flags shared by every command that reads a plan.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// The plan file (TOML).
    pub plan: PathBuf,
    /// Inventory file; overrides the plan's `[inventory] path` (e.g. staging for a rehearsal).
    #[arg(long, short = 'i')]
    pub inventory: Option<PathBuf>,
    /// Judge time rules (fire time in the past / too soon) as of this RFC 3339 instant.
    #[arg(long, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| format!("{e}; write e.g. 2027-01-14T02:00:00Z"))
}

/// A plan read and checked: the texts for rendering diagnostics, and the outcome.
pub struct Loaded {
    /// Plan file name as given.
    pub plan_name: String,
    /// Plan text.
    pub plan_text: String,
    /// Inventory file name and text, if one was read.
    pub inventory_file: Option<(String, String)>,
    /// The validated plan, if it had no errors.
    pub plan: Option<Plan>,
    /// The resolved inventory, if it loaded.
    pub inventory: Option<Inventory>,
    /// Every problem, plan and inventory.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// Renders every diagnostic against the file it points into.
    pub fn render_diagnostics(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| render(d, self.source_of(d)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The file a diagnostic points into.
    pub fn source_of(&self, d: &Diagnostic) -> SourceFile<'_> {
        match (&d.file, &self.inventory_file) {
            (FileId::Inventory, Some((name, text))) => SourceFile { name, text },
            _ => SourceFile {
                name: &self.plan_name,
                text: &self.plan_text,
            },
        }
    }

    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.plan.is_none()
    }
}

/// Reads and checks a plan; I/O errors on the plan itself are returned, everything else is a diagnostic.
pub fn load(args: &PlanArgs) -> Result<Loaded, CliError> {
    let plan_text = read(&args.plan)?;
    let parsed = parse(&plan_text);
    let mut diagnostics = parsed.diagnostics;
    let mut loaded = Loaded {
        plan_name: args.plan.display().to_string(),
        plan_text: String::new(),
        inventory_file: None,
        plan: None,
        inventory: None,
        diagnostics: Vec::new(),
    };
    if let Some(raw) = &parsed.raw {
        let from_plan = raw
            .inventory
            .as_ref()
            .map(|i| relative_to(&args.plan, &i.path));
        let inv_path = args.inventory.clone().or(from_plan);
        let inventory = match &inv_path {
            Some(p) => {
                let at = args
                    .inventory
                    .is_none()
                    .then(|| parsed.spans.value("inventory.path"))
                    .flatten();
                load_inventory(p, at, &mut diagnostics, &mut loaded.inventory_file)
            }
            None => {
                diagnostics.push(
                    Diagnostic::warning("no inventory: host-dependent checks were skipped", None)
                        .with_hint("add [inventory] path = \"...\" or pass --inventory FILE"),
                );
                None
            }
        };
        let now = args.now.unwrap_or_else(crate::clock::now);
        let (plan, diags) = validate(
            raw,
            &parsed.spans,
            Context {
                now,
                inventory: inventory.as_ref(),
                failed: &parsed.failed,
            },
        );
        diagnostics.extend(diags);
        let clean = !diagnostics.iter().any(|d| d.severity == Severity::Error);
        loaded.plan = plan.filter(|_| clean).map(|p| with_files(p, &args.plan));
        loaded.inventory = inventory;
    }
    diagnostics.sort_by_key(|d| {
        (
            d.file == FileId::Inventory,
            d.span.as_ref().map_or(0, |s| s.start),
        )
    });
    loaded.plan_text = plan_text;
    loaded.diagnostics = diagnostics;
    Ok(loaded)
}

/// The plan with the content hash of every file it sends to hosts (read relative to the plan
/// file), so the digest covers what is executed, not only its name.
fn with_files(mut plan: Plan, plan_path: &Path) -> Plan {
    let files = plan
        .referenced_files()
        .into_iter()
        .map(|f| {
            let sha = std::fs::read(relative_to(plan_path, f)).map_or_else(
                |_| "missing".to_string(),
                |b| crate::remote::files::sha256_hex(&b),
            );
            (f.to_string(), sha)
        })
        .collect();
    plan.files = files;
    plan
}

fn load_inventory(
    path: &Path,
    named_at: Option<std::ops::Range<usize>>,
    diags: &mut Vec<Diagnostic>,
    file: &mut Option<(String, String)>,
) -> Option<Inventory> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            let msg = format!("cannot read inventory {shown}: {e}");
            diags.push(Diagnostic::error(msg, named_at).with_hint(
                "paths in the plan are relative to the plan file; or pass --inventory FILE",
            ));
            return None;
        }
    };
    let parsed = inventory::parse(&text, inventory::detect_format(path, &text), &shown);
    *file = Some((shown, text));
    match parsed {
        Ok(inv) => Some(inv),
        Err(e) => {
            let text = file.as_ref().map_or("", |(_, t)| t.as_str());
            let span = e.position().map(|p| p.to_offset(text)).map(|o| o..o + 1);
            diags.push(Diagnostic::error(e.message(), span).in_inventory());
            None
        }
    }
}

/// Resolves a path written in the plan relative to the plan file's directory.
pub fn relative_to(plan: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        plan.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// The plan and inventory the run started with (its snapshots), and the plan file's path
/// (secrets, uploads and known_hosts are relative to it).
pub(super) fn run_snapshots(
    dir: &crate::journal::rundir::RunDir,
) -> Result<
    (
        crate::plan::model::Plan,
        crate::inventory::Inventory,
        PathBuf,
    ),
    CliError,
> {
    let usage = |e: String| CliError::Usage(e);
    let records = super::report::records(dir)?.0;
    let plan_path = records
        .iter()
        .find_map(|r| match &r.event {
            crate::run::event::RunEvent::Started { plan_path, .. } => {
                Some(PathBuf::from(plan_path))
            }
            _ => None,
        })
        .unwrap_or_else(|| dir.path.join(crate::journal::rundir::PLAN_FILE));
    let plan_text = super::read(&dir.path.join(crate::journal::rundir::PLAN_FILE))?;
    let inv_text = super::read(&dir.path.join(crate::journal::rundir::INVENTORY_FILE))?;
    let inventory = crate::inventory::parse(
        &inv_text,
        crate::inventory::detect_format(
            &dir.path.join(crate::journal::rundir::INVENTORY_FILE),
            &inv_text,
        ),
        crate::journal::rundir::INVENTORY_FILE,
    )
    .map_err(|e| usage(e.to_string()))?;
    let parsed = parse(&plan_text);
    let raw = parsed
        .raw
        .ok_or_else(|| usage("the run's plan snapshot does not parse".into()))?;
    let cx = Context {
        now: chrono::DateTime::UNIX_EPOCH,
        inventory: None,
        failed: &[],
    };
    let (plan, _) = validate(&raw, &parsed.spans, cx);
    let plan = plan.ok_or_else(|| usage("the run's plan snapshot does not validate".into()))?;
    Ok((plan, inventory, plan_path))
}
