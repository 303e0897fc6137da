//! [`Source::Boids`](super::Source::Boids): session folders of a 3D boids
//! simulator, `config.yaml` and one Parquet file per episode.
//!
//! Agents fly in the box `[0, box_size]^3`: they steer towards their
//! neighbours' centre and heading, away from agents too close, towards one of
//! the targets, plus noise; their speed stays within `min_speed..=max_speed`
//! and they bounce off the walls. Targets are spheres whose centres drift
//! slowly (or stay put, `drift_speed: 0.0`). The scene mesh is the floor
//! plane `z = 0`.
//!
//! Each frame is written as the agents' rows (ids `1..=agents`, type `agent`)
//! followed by the targets' rows (ids `1..=targets`, type `env`; velocity and
//! properties NULL). An agent's velocity is the position change that brought
//! it there (its initial velocity at time 0). Its properties are computed
//! from its position, then "sensor failures" replace about 1% of property
//! values with NaN (list columns: one element NaN, or 0.2% of lists NULL), 0.1%
//! of velocity components with NaN, and 0.01% of positions (x, y and z
//! together) with NaN; the properties of such a row still describe the true
//! position.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use super::{bounce, compact_stamp, create_dir, signed, PartialFile, TrajectoryOptions, TrajectorySummary};
use crate::fmt::days_from_civil;
use crate::rng::{derive, splitmix64, Rng};
use crate::SampleError;

/// Names of simulator runs; a session folder is `<name>_sim_run-started-...`.
const RUN_NAMES: &[&str] = &["boids", "boids_flock", "boids_swarm", "boids_murmuration"];

/// Rows per record batch handed to the Parquet writer (whole frames, at least one).
const ROWS_PER_BATCH: usize = 8192;
/// Rows per Parquet row group.
pub(super) const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Property values (and list elements) that are NaN, in basis points.
const NAN_PROPERTY_BP: u64 = 100;
/// List properties that are NULL as a whole.
const NULL_LIST_BP: u64 = 20;
/// Velocity components that are NaN.
const NAN_VELOCITY_BP: u64 = 10;
/// Agent positions that are NaN (all three coordinates).
const NAN_POSITION_BP: u64 = 1;

// Domain separators of the PRNG streams.
const DOMAIN_RUNS: u64 = 0x426F_6964_7352_0011;
const DOMAIN_MOTION: u64 = 0x426F_6964_734D_0012;
const DOMAIN_GLITCH: u64 = 0x426F_6964_7347_0013;

/// Runs start between 2023-01-01 and three years later.
const FIRST_DAY: i64 = days_from_civil(2023, 1, 1);

/// The Parquet schema of an episode file with `targets` targets.
pub(super) fn schema(targets: u32) -> SchemaRef {
    let float = |name: &str| Field::new(name, DataType::Float64, true);
    let list =
        |name: &str| Field::new(name, DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))), true);
    let mut fields = vec![Field::new("id", DataType::Int64, true), Field::new("type", DataType::Utf8, true)];
    fields.push(Field::new("time", DataType::Int64, true));
    fields.extend(["x", "y", "z", "v_x", "v_y", "v_z"].map(float));
    for t in 1..=targets {
        fields.push(float(&format!("distance_target_center_{t}")));
        fields.push(float(&format!("distance_to_target_mesh_closest_point_{t}")));
        fields.push(list(&format!("target_mesh_closest_point_{t}")));
    }
    fields.push(float("mesh_scene_distance"));
    fields.push(list("mesh_scene_closest_point"));
    Arc::new(Schema::new(fields))
}

/// Writes `opts.sessions()` run folders into `dir`.
pub(super) fn write(
    opts: &TrajectoryOptions,
    dir: &std::path::Path,
    summary: &mut TrajectorySummary,
) -> Result<(), SampleError> {
    let key = splitmix64(opts.seed() ^ DOMAIN_RUNS);
    let mut clock = FIRST_DAY * 86_400 + Rng::new(key).below(3 * 365 * 86_400) as i64;
    let schema = schema(opts.targets());
    for s in 0..opts.sessions() {
        let mut r = Rng::new(derive(key, u64::from(s) + 1));
        let run = Run::draw(&mut r, opts.targets());
        let started = clock;
        let folder = dir.join(format!("{}_sim_run-started-{}", run.name, compact_stamp(started)));
        create_dir(&folder)?;
        let mut config = PartialFile::create(folder.join("config.yaml"))?;
        config.put(run.config_yaml(opts).as_bytes())?;
        summary.bytes += config.commit()?;
        summary.files += 1;

        let mut t = started;
        for k in 0..opts.episodes() {
            // Setting up, then simulating at 100 to 400 frames a second.
            t += 1 + r.range(3, 40) as i64 + (opts.frames() / r.range(100, 400)) as i64;
            let path = folder.join(format!("episode-{k}-completed-{}.parquet", compact_stamp(t)));
            summary.bytes += write_episode(&run, opts, k, &schema, path)?;
            summary.rows += opts.frames() * (u64::from(opts.agents()) + u64::from(opts.targets()));
            summary.files += 1;
            summary.episodes += 1;
        }
        clock = t + r.range(600, 3 * 86_400) as i64;
        summary.sessions += 1;
    }
    Ok(())
}

/// Writes one episode file; returns its size.
fn write_episode(
    run: &Run,
    opts: &TrajectoryOptions,
    episode: u32,
    schema: &SchemaRef,
    path: PathBuf,
) -> Result<u64, SampleError> {
    let seed = u64::from(run.seed);
    let mut motion = Rng::new(derive(splitmix64(seed ^ DOMAIN_MOTION), episode.into()));
    let mut glitch = Rng::new(derive(splitmix64(seed ^ DOMAIN_GLITCH), episode.into()));
    let mut flock = Flock::new(run, opts.agents() as usize, &mut motion);

    let mut file = PartialFile::create(path)?;
    let path = file.path().to_owned();
    let failed = |source: ParquetError| SampleError::Parquet { path: path.clone(), source };
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(&mut file, schema.clone(), Some(props)).map_err(failed)?;
    let frames_per_batch = (ROWS_PER_BATCH / (flock.pos.len() + flock.centers.len())).max(1);
    let mut batch = Batch::new(schema.clone(), run.targets.len());
    for time in 0..opts.frames() {
        if time > 0 {
            flock.step(&mut motion);
        }
        batch.push_frame(time as i64, &flock, &mut glitch);
        if batch.frames == frames_per_batch || time + 1 == opts.frames() {
            let b = batch.finish().map_err(|e| failed(e.into()))?;
            writer.write(&b).map_err(failed)?;
        }
    }
    writer.close().map_err(failed)?;
    file.commit()
}

/// One run's settings as config.yaml states them. Lengths, speeds and weights
/// are kept in hundredths, so the file shows exactly what the simulation uses.
struct Run {
    name: &'static str,
    seed: u32,
    box_size: u64,
    max_speed: u64,
    min_speed: u64,
    neighbor_radius: u64,
    separation_radius: u64,
    separation_weight: u64,
    alignment_weight: u64,
    cohesion_weight: u64,
    target_weight: u64,
    noise: u64,
    targets: Vec<TargetSpec>,
}

/// A spherical target, in hundredths.
struct TargetSpec {
    radius: u64,
    center: [u64; 3],
    drift_speed: u64,
}

/// Hundredths as a float.
fn h(v: u64) -> f64 {
    v as f64 / 100.0
}

/// Hundredths as a YAML float: `2.5`, `10.0`, `5.25`.
fn dec(v: u64) -> String {
    match v % 100 {
        0 => format!("{}.0", v / 100),
        f if f % 10 == 0 => format!("{}.{}", v / 100, f / 10),
        f => format!("{}.{f:02}", v / 100),
    }
}

impl Run {
    fn draw(r: &mut Rng, targets: u32) -> Run {
        let name = r.pick(RUN_NAMES);
        let seed = (r.next_u64() >> 33) as u32;
        let box_size = r.pick(&[8000, 10_000, 10_000, 12_000]);
        let mut run = Run {
            name,
            seed,
            box_size,
            max_speed: r.range(200, 300),
            min_speed: r.range(30, 80),
            neighbor_radius: r.range(800, 1500),
            separation_radius: r.range(200, 400),
            separation_weight: r.range(100, 200),
            alignment_weight: r.range(50, 150),
            cohesion_weight: r.range(50, 150),
            target_weight: r.range(30, 100),
            noise: r.range(5, 30),
            targets: Vec::new(),
        };
        for _ in 0..targets {
            let center = [(); 3].map(|()| r.range(box_size / 4, box_size * 3 / 4));
            // A third of the targets stay put.
            let drift_speed = if r.hit(3333) { 0 } else { r.range(1, 5) };
            run.targets.push(TargetSpec { radius: r.range(300, 900), center, drift_speed });
        }
        run
    }

    /// The run's config.yaml (no frame rate: the spec's default applies).
    fn config_yaml(&self, opts: &TrajectoryOptions) -> String {
        let mut y = vec![
            format!("# {}: 3D boids simulator run", self.name),
            "simulator:".into(),
            format!("  name: {}", self.name),
            format!("  seed: {}", self.seed),
            format!("  num_agents: {}", opts.agents()),
            format!("  num_targets: {}", opts.targets()),
            format!("  num_frames: {}", opts.frames() - 1),
            format!("  num_episodes: {}", opts.episodes()),
            format!("  box_size: {}", dec(self.box_size)),
            format!("  max_speed: {}", dec(self.max_speed)),
            format!("  min_speed: {}", dec(self.min_speed)),
            "agents:".into(),
            format!("  neighbor_radius: {}", dec(self.neighbor_radius)),
            format!("  separation_radius: {}", dec(self.separation_radius)),
            format!("  separation_weight: {}", dec(self.separation_weight)),
            format!("  alignment_weight: {}", dec(self.alignment_weight)),
            format!("  cohesion_weight: {}", dec(self.cohesion_weight)),
            format!("  target_weight: {}", dec(self.target_weight)),
            format!("  noise: {}", dec(self.noise)),
            "targets:".into(),
        ];
        for (i, t) in self.targets.iter().enumerate() {
            let [cx, cy, cz] = t.center.map(dec);
            y.push(format!("  - id: {}", i + 1));
            y.push("    shape: sphere".into());
            y.push(format!("    radius: {}", dec(t.radius)));
            y.push(format!("    center: [{cx}, {cy}, {cz}]"));
            y.push(format!("    drift_speed: {}", dec(t.drift_speed)));
        }
        y.extend(
            [
                "scene:",
                "  mesh: floor_plane",
                "  normal: [0.0, 0.0, 1.0]",
                "output:",
                "  format: parquet",
                "  compression: snappy",
                "  properties:",
                "    - distance_target_center",
                "    - distance_to_target_mesh_closest_point",
                "    - target_mesh_closest_point",
                "    - mesh_scene_distance",
                "    - mesh_scene_closest_point",
            ]
            .map(String::from),
        );
        let mut text = y.join("\n");
        text.push('\n');
        text
    }
}

type V3 = [f64; 3];

fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn scale(a: V3, k: f64) -> V3 {
    [a[0] * k, a[1] * k, a[2] * k]
}
fn norm(a: V3) -> f64 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

/// A uniformly random direction (rejection sampling: no trigonometry, so
/// every platform draws the same bits).
fn direction(r: &mut Rng) -> V3 {
    loop {
        let v = [signed(r), signed(r), signed(r)];
        let n = norm(v);
        if n > 1e-3 && n <= 1.0 {
            return scale(v, 1.0 / n);
        }
    }
}

/// The simulation's state.
struct Flock {
    box_size: f64,
    max_speed: f64,
    min_speed: f64,
    neighbor_radius: f64,
    separation_radius: f64,
    separation_weight: f64,
    alignment_weight: f64,
    cohesion_weight: f64,
    target_weight: f64,
    noise: f64,
    pos: Vec<V3>,
    vel: Vec<V3>,
    /// The change of position that brought each agent where it is.
    moved: Vec<V3>,
    centers: Vec<V3>,
    radii: Vec<f64>,
    drift_speed: Vec<f64>,
    drift_dir: Vec<V3>,
    // Scratch space of `step`.
    sum_pos: Vec<V3>,
    sum_vel: Vec<V3>,
    push: Vec<V3>,
    neighbors: Vec<u32>,
}

impl Flock {
    fn new(run: &Run, agents: usize, r: &mut Rng) -> Flock {
        let box_size = h(run.box_size);
        let (min_speed, max_speed) = (h(run.min_speed), h(run.max_speed));
        let pos: Vec<V3> = (0..agents).map(|_| [(); 3].map(|()| box_size * r.unit())).collect();
        let vel: Vec<V3> = (0..agents)
            .map(|_| {
                let speed = min_speed + (max_speed - min_speed) * r.unit();
                scale(direction(r), speed)
            })
            .collect();
        Flock {
            box_size,
            max_speed,
            min_speed,
            neighbor_radius: h(run.neighbor_radius),
            separation_radius: h(run.separation_radius),
            separation_weight: h(run.separation_weight),
            alignment_weight: h(run.alignment_weight),
            cohesion_weight: h(run.cohesion_weight),
            target_weight: h(run.target_weight),
            noise: h(run.noise),
            moved: vel.clone(),
            pos,
            vel,
            centers: run.targets.iter().map(|t| t.center.map(h)).collect(),
            radii: run.targets.iter().map(|t| h(t.radius)).collect(),
            drift_speed: run.targets.iter().map(|t| h(t.drift_speed)).collect(),
            drift_dir: run.targets.iter().map(|_| direction(r)).collect(),
            sum_pos: vec![[0.0; 3]; agents],
            sum_vel: vec![[0.0; 3]; agents],
            push: vec![[0.0; 3]; agents],
            neighbors: vec![0; agents],
        }
    }

    /// Advances one frame: targets drift, then agents steer and move.
    fn step(&mut self, r: &mut Rng) {
        for t in 0..self.centers.len() {
            if self.drift_speed[t] == 0.0 {
                continue;
            }
            let wobble = [signed(r), signed(r), signed(r)];
            let dir = add(self.drift_dir[t], scale(wobble, 0.05));
            let n = norm(dir);
            let mut dir = if n > 1e-9 { scale(dir, 1.0 / n) } else { self.drift_dir[t] };
            let mut c = add(self.centers[t], scale(dir, self.drift_speed[t]));
            let (lo, hi) = (self.radii[t] + 1.0, self.box_size - self.radii[t] - 1.0);
            for k in 0..3 {
                bounce(&mut c[k], &mut dir[k], lo, hi);
            }
            self.centers[t] = c;
            self.drift_dir[t] = dir;
        }

        let n = self.pos.len();
        self.sum_pos.fill([0.0; 3]);
        self.sum_vel.fill([0.0; 3]);
        self.push.fill([0.0; 3]);
        self.neighbors.fill(0);
        let near2 = self.neighbor_radius * self.neighbor_radius;
        let close2 = self.separation_radius * self.separation_radius;
        for i in 0..n {
            for j in i + 1..n {
                let d = sub(self.pos[i], self.pos[j]);
                let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                if d2 >= near2 {
                    continue;
                }
                self.sum_pos[i] = add(self.sum_pos[i], self.pos[j]);
                self.sum_pos[j] = add(self.sum_pos[j], self.pos[i]);
                self.sum_vel[i] = add(self.sum_vel[i], self.vel[j]);
                self.sum_vel[j] = add(self.sum_vel[j], self.vel[i]);
                self.neighbors[i] += 1;
                self.neighbors[j] += 1;
                if d2 < close2 && d2 > 1e-12 {
                    let away = scale(d, 1.0 / d2);
                    self.push[i] = add(self.push[i], away);
                    self.push[j] = sub(self.push[j], away);
                }
            }
        }

        for i in 0..n {
            let (p, v) = (self.pos[i], self.vel[i]);
            let mut a = scale(self.push[i], 0.05 * self.separation_weight);
            if self.neighbors[i] > 0 {
                let k = 1.0 / f64::from(self.neighbors[i]);
                a = add(a, scale(sub(scale(self.sum_pos[i], k), p), 0.005 * self.cohesion_weight));
                a = add(a, scale(sub(scale(self.sum_vel[i], k), v), 0.05 * self.alignment_weight));
            }
            if !self.centers.is_empty() {
                let to = sub(self.centers[i % self.centers.len()], p);
                let d = norm(to);
                if d > 1e-9 {
                    a = add(a, scale(to, 0.1 * self.target_weight / d));
                }
            }
            a = add(a, scale([signed(r), signed(r), signed(r)], 0.5 * self.noise));

            let mut v = add(v, a);
            let speed = norm(v);
            if speed > self.max_speed {
                v = scale(v, self.max_speed / speed);
            } else if speed < self.min_speed && speed > 1e-12 {
                v = scale(v, self.min_speed / speed);
            }
            let mut q = add(p, v);
            for k in 0..3 {
                bounce(&mut q[k], &mut v[k], 0.0, self.box_size);
            }
            self.moved[i] = sub(q, p);
            self.pos[i] = q;
            self.vel[i] = v;
        }
    }
}

/// The columns of one target.
struct TargetColumns {
    center_distance: Float64Builder,
    mesh_distance: Float64Builder,
    mesh_point: ListBuilder<Float64Builder>,
}

/// Rows of whole frames, waiting to be written as one record batch.
struct Batch {
    schema: SchemaRef,
    frames: usize,
    id: Int64Builder,
    kind: StringBuilder,
    time: Int64Builder,
    pos: [Float64Builder; 3],
    vel: [Float64Builder; 3],
    targets: Vec<TargetColumns>,
    scene_distance: Float64Builder,
    scene_point: ListBuilder<Float64Builder>,
}

/// `v`, or NaN with probability `bp` basis points.
fn glitched(g: &mut Rng, v: f64, bp: u64) -> f64 {
    if g.hit(bp) {
        f64::NAN
    } else {
        v
    }
}

/// Appends a 3-vector to a list column: NULL as a whole (rarely), else each
/// element possibly NaN.
fn push_point(list: &mut ListBuilder<Float64Builder>, g: &mut Rng, p: V3) {
    if g.hit(NULL_LIST_BP) {
        list.append_null();
        return;
    }
    for v in p {
        list.values().append_value(glitched(g, v, NAN_PROPERTY_BP));
    }
    list.append(true);
}

impl Batch {
    fn new(schema: SchemaRef, targets: usize) -> Batch {
        let list = || ListBuilder::new(Float64Builder::new());
        Batch {
            schema,
            frames: 0,
            id: Int64Builder::new(),
            kind: StringBuilder::new(),
            time: Int64Builder::new(),
            pos: [(); 3].map(|()| Float64Builder::new()),
            vel: [(); 3].map(|()| Float64Builder::new()),
            targets: (0..targets)
                .map(|_| TargetColumns {
                    center_distance: Float64Builder::new(),
                    mesh_distance: Float64Builder::new(),
                    mesh_point: list(),
                })
                .collect(),
            scene_distance: Float64Builder::new(),
            scene_point: list(),
        }
    }

    /// Appends the agents' rows, then the targets' rows, of frame `time`.
    fn push_frame(&mut self, time: i64, flock: &Flock, g: &mut Rng) {
        for (i, (&p, &moved)) in flock.pos.iter().zip(&flock.moved).enumerate() {
            self.id.append_value(i as i64 + 1);
            self.kind.append_value("agent");
            self.time.append_value(time);
            let lost = g.hit(NAN_POSITION_BP);
            for (column, v) in self.pos.iter_mut().zip(p) {
                column.append_value(if lost { f64::NAN } else { v });
            }
            for (column, v) in self.vel.iter_mut().zip(moved) {
                column.append_value(glitched(g, v, NAN_VELOCITY_BP));
            }
            for (t, cols) in self.targets.iter_mut().enumerate() {
                let (c, radius) = (flock.centers[t], flock.radii[t]);
                let off = sub(p, c);
                let d = norm(off);
                let closest = if d > 0.0 { add(c, scale(off, radius / d)) } else { add(c, [0.0, 0.0, radius]) };
                cols.center_distance.append_value(glitched(g, d, NAN_PROPERTY_BP));
                cols.mesh_distance.append_value(glitched(g, d - radius, NAN_PROPERTY_BP));
                push_point(&mut cols.mesh_point, g, closest);
            }
            self.scene_distance.append_value(glitched(g, p[2], NAN_PROPERTY_BP));
            push_point(&mut self.scene_point, g, [p[0], p[1], 0.0]);
        }
        for (t, c) in flock.centers.iter().enumerate() {
            self.id.append_value(t as i64 + 1);
            self.kind.append_value("env");
            self.time.append_value(time);
            for (column, v) in self.pos.iter_mut().zip(c) {
                column.append_value(*v);
            }
            for column in &mut self.vel {
                column.append_null();
            }
            for cols in &mut self.targets {
                cols.center_distance.append_null();
                cols.mesh_distance.append_null();
                cols.mesh_point.append_null();
            }
            self.scene_distance.append_null();
            self.scene_point.append_null();
        }
        self.frames += 1;
    }

    /// The rows appended since the last call, as a record batch.
    fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        self.frames = 0;
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(self.id.finish()), Arc::new(self.kind.finish()), Arc::new(self.time.finish())];
        columns.extend(self.pos.iter_mut().chain(&mut self.vel).map(|b| Arc::new(b.finish()) as ArrayRef));
        for cols in &mut self.targets {
            columns.push(Arc::new(cols.center_distance.finish()));
            columns.push(Arc::new(cols.mesh_distance.finish()));
            columns.push(Arc::new(cols.mesh_point.finish()));
        }
        columns.push(Arc::new(self.scene_distance.finish()));
        columns.push(Arc::new(self.scene_point.finish()));
        RecordBatch::try_new(self.schema.clone(), columns)
    }
}
