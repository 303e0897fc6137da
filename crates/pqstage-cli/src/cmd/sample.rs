//! `pqstage sample`: violations CSV, or trajectory session folders.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{anyhow, Context};
use pqstage_sample::{
    spec_toml, write_part, write_trajectories, Dataset, Generator, Part, SampleOptions, Source, TrajectoryOptions,
};

use crate::args::{Cli, SampleArgs, SamplePart};
use crate::output::{bytes, count};
use crate::Failure;

/// Rows of violations when --rows is not given.
const DEFAULT_ROWS: u64 = 1_000_000;

pub fn run(cli: &Cli, a: &SampleArgs) -> Result<(), Failure> {
    match a.dataset.parse::<Generator>()? {
        Generator::Csv(dataset) => {
            refuse_unless(
                "trajectories",
                &[
                    ("--source", a.source.is_some()),
                    ("--sessions", a.sessions.is_some()),
                    ("--episodes", a.episodes.is_some()),
                    ("--agents", a.agents.is_some()),
                    ("--targets", a.targets.is_some()),
                    ("--frames", a.frames.is_some()),
                    ("--cameras", a.cameras.is_some()),
                    ("--tracks", a.tracks.is_some()),
                ],
            )?;
            csv(cli, a, dataset)
        }
        Generator::Trajectories => trajectories(cli, a),
    }
}

/// Fails on the first flag given that applies only to `what`.
fn refuse_unless(what: &str, flags: &[(&str, bool)]) -> Result<(), Failure> {
    if let Some((flag, _)) = flags.iter().find(|(_, given)| *given) {
        return Err(anyhow!("{flag} applies to {what} only").into());
    }
    Ok(())
}

/// Creates the parent folder of each output file.
fn create_parents<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), Failure> {
    for path in paths {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
    }
    Ok(())
}

fn write_spec(path: Option<&Path>, spec: &str) -> Result<(), Failure> {
    if let Some(path) = path {
        std::fs::write(path, spec).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn csv(cli: &Cli, a: &SampleArgs, dataset: Dataset) -> Result<(), Failure> {
    let opts = SampleOptions {
        rows: a.rows.unwrap_or(DEFAULT_ROWS),
        seed: a.seed,
        threads: a.threads.unwrap_or(0),
        revision: a.revision.unwrap_or(0),
    };
    let part = match a.part {
        SamplePart::Whole => Part::Whole,
        SamplePart::Changes => Part::Changes,
        SamplePart::Added => Part::Added,
        SamplePart::RemovedKeys => Part::RemovedKeys,
    };
    if part != Part::Whole && opts.revision == 0 {
        return Err(anyhow!(
            "--part changes, added and removed-keys need --revision N (1, 2, ...): the first dump has no changes"
        )
        .into());
    }
    create_parents([&a.spec_out, &a.out].into_iter().flatten().filter(|p| p.as_os_str() != "-").map(|p| p.as_path()))?;
    write_spec(a.spec_out.as_deref(), spec_toml(dataset))?;
    let Some(out) = &a.out else { return Ok(()) };
    if out.as_os_str() == "-" {
        write_part(dataset, &opts, part, std::io::stdout().lock())?;
        return Ok(());
    }
    // Write next to the target and rename, so an interrupted run never leaves a short file.
    let tmp = out.with_extension("partial");
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let summary = write_part(dataset, &opts, part, &mut w)?;
    w.flush().with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))?;
    if !cli.quiet {
        let what = match part {
            Part::Whole => "rows",
            Part::Changes => "corrected and added rows",
            Part::Added => "added rows",
            Part::RemovedKeys => "removed keys",
        };
        eprintln!("wrote {} {what} ({}) of {dataset} to {}", count(summary.rows), bytes(summary.bytes), out.display());
    }
    Ok(())
}

fn trajectories(cli: &Cli, a: &SampleArgs) -> Result<(), Failure> {
    refuse_unless(
        "violations",
        &[
            ("--rows", a.rows.is_some()),
            ("--threads", a.threads.is_some()),
            ("--revision", a.revision.is_some()),
            ("--part", a.part != SamplePart::Whole),
        ],
    )?;
    let source = a.source.unwrap_or_default();
    match source {
        Source::Boids => {
            refuse_unless("--source tracking", &[("--cameras", a.cameras.is_some()), ("--tracks", a.tracks.is_some())])?
        }
        Source::Tracking => refuse_unless(
            "--source boids",
            &[
                ("--episodes", a.episodes.is_some()),
                ("--agents", a.agents.is_some()),
                ("--targets", a.targets.is_some()),
            ],
        )?,
    }
    if a.out.as_ref().is_some_and(|out| out.as_os_str() == "-") {
        return Err(anyhow!("trajectories are folders of files; --out - (stdout) is for violations").into());
    }

    let mut b = TrajectoryOptions::builder(source).with_seed(a.seed);
    b = set(b, a.sessions, |b, n| b.with_sessions(n));
    b = set(b, a.episodes, |b, n| b.with_episodes(n));
    b = set(b, a.agents, |b, n| b.with_agents(n));
    b = set(b, a.targets, |b, n| b.with_targets(n));
    b = set(b, a.frames, |b, n| b.with_frames(n));
    b = set(b, a.cameras, |b, n| b.with_cameras(n));
    b = set(b, a.tracks, |b, n| b.with_tracks(n));
    let opts = b.build()?;

    create_parents(a.spec_out.as_deref())?;
    write_spec(a.spec_out.as_deref(), source.spec_toml())?;
    let Some(out) = &a.out else { return Ok(()) };
    let summary = write_trajectories(&opts, out)?;
    if !cli.quiet {
        eprintln!(
            "wrote {}, {}, {} observation rows ({} in {} files) of trajectories ({source}) to {}",
            plural(summary.sessions, "session"),
            plural(summary.episodes, "episode"),
            count(summary.rows),
            bytes(summary.bytes),
            count(summary.files),
            out.display()
        );
    }
    Ok(())
}

/// Applies a setter when the flag was given.
fn set<B, T>(b: B, value: Option<T>, setter: impl FnOnce(B, T) -> B) -> B {
    match value {
        Some(v) => setter(b, v),
        None => b,
    }
}

/// "1 session", "3 sessions".
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", count(n))
    }
}
