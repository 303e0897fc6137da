//! [`Source::Tracking`](super::Source::Tracking): session folders of a video
//! tracker, per camera `<camera>_tracks.csv` and `<camera>_bboxes.csv`.
//!
//! Each camera sees `tracks` animals in a 1920x1080 image. A track is born at
//! some frame (a third at frame 0) and dies at a later one (a third at the
//! last frame); in between it is lost for runs of a few frames (gaps: no row)
//! while it keeps moving. Positions follow a smooth random walk that bounces
//! off the image borders, in pixels with two decimals. Rows are sorted by
//! frame, then track id; track ids grow with the birth frame and skip a
//! number now and then, as trackers' ids do.
//!
//! `<camera>_bboxes.csv` has a row for each track row but about 1%: a box
//! around the position (which it always contains), a confidence in
//! `0.001..=1.000` and a class constant per track, mostly `bird`, else `rat`
//! or `gerbil`; about 2% of the birds' rows have an empty class (NULL, which
//! the spec reads as a bird).

use std::path::Path;

use super::{bounce, create_dir, signed, underscore_date, PartialFile, TrajectoryOptions, TrajectorySummary};
use crate::fmt::{days_from_civil, push_cents, push_padded, push_u64};
use crate::rng::{derive, splitmix64, Rng};
use crate::SampleError;

/// Image size, pixels.
const WIDTH: f64 = 1920.0;
const HEIGHT: f64 = 1080.0;
/// Closest a track's position comes to the image border, pixels.
const BORDER: f64 = 2.0;

/// A visible track is lost at the next frame with this chance (basis points)...
const LOSE_BP: u64 = 150;
/// ...and a lost one found again with this one.
const FIND_BP: u64 = 2500;
/// Track rows without a bounding-box row.
const MISSING_BBOX_BP: u64 = 100;
/// Rows of bird tracks whose class is empty.
const EMPTY_CLASS_BP: u64 = 200;
/// Tracks born at frame 0, and tracks that live to the last frame.
const FROM_START_BP: u64 = 3333;
const TO_END_BP: u64 = 3333;

const TRACKS_HEADER: &[u8] = b"track_id,frame,x,y\n";
const BBOXES_HEADER: &[u8] = b"track_id,frame,x1,y1,x2,y2,confidence,class\n";

const DOMAIN_SESSIONS: u64 = 0x5472_6163_6B53_0021;

/// Recordings start between 2023-01-01 and three years later.
const FIRST_DAY: i64 = days_from_civil(2023, 1, 1);

/// Writes `opts.sessions()` session folders into `dir`.
pub(super) fn write(opts: &TrajectoryOptions, dir: &Path, summary: &mut TrajectorySummary) -> Result<(), SampleError> {
    let key = splitmix64(opts.seed() ^ DOMAIN_SESSIONS);
    let mut day = FIRST_DAY + Rng::new(key).below(3 * 365) as i64;
    for s in 0..opts.sessions() {
        let session_key = derive(key, u64::from(s) + 1);
        let folder = dir.join(format!("{}-session_{:04}", underscore_date(day), s + 1));
        for c in 0..opts.cameras() {
            let camera = format!("cam_{}", char::from(b'a' + c as u8));
            let camera_dir = folder.join("aligned_frames").join(&camera);
            create_dir(&camera_dir)?;
            write_camera(opts, derive(session_key, u64::from(c)), &camera_dir, &camera, summary)?;
            summary.episodes += 1;
        }
        summary.sessions += 1;
        // The next recording is the next day, or (40%) the same day.
        if !Rng::new(derive(session_key, u64::MAX)).hit(4000) {
            day += 1;
        }
    }
    Ok(())
}

/// Writes one camera's two files.
fn write_camera(
    opts: &TrajectoryOptions,
    key: u64,
    dir: &Path,
    camera: &str,
    summary: &mut TrajectorySummary,
) -> Result<(), SampleError> {
    let frames = opts.frames();
    let mut tracks: Vec<Track> =
        (0..opts.tracks()).map(|j| Track::draw(frames, Rng::new(derive(key, u64::from(j))))).collect();
    // Ids in order of birth (stable: equal births keep their draw order).
    tracks.sort_by_key(|t| t.birth);
    let mut ids = Rng::new(derive(key, u64::MAX));
    let mut id = 0;
    for t in &mut tracks {
        id += 1 + if ids.hit(2000) { ids.range(1, 3) } else { 0 };
        t.id = id;
    }

    let mut points = PartialFile::create(dir.join(format!("{camera}_tracks.csv")))?;
    let mut boxes = PartialFile::create(dir.join(format!("{camera}_bboxes.csv")))?;
    points.put(TRACKS_HEADER)?;
    boxes.put(BBOXES_HEADER)?;
    let (mut point_row, mut box_row) = (Vec::with_capacity(64), Vec::with_capacity(96));
    for frame in 0..frames {
        for t in tracks.iter_mut().filter(|t| (t.birth..=t.death).contains(&frame)) {
            if !t.advance(frame) {
                continue;
            }
            point_row.clear();
            box_row.clear();
            t.rows(frame, &mut point_row, &mut box_row);
            points.put(&point_row)?;
            boxes.put(&box_row)?;
            summary.rows += 1;
        }
    }
    summary.bytes += points.commit()?;
    summary.bytes += boxes.commit()?;
    summary.files += 2;
    Ok(())
}

/// One tracked animal.
struct Track {
    /// Assigned after all tracks are drawn.
    id: u64,
    birth: u64,
    death: u64,
    class: &'static str,
    /// Bounding box size, pixels.
    size: [f64; 2],
    /// Typical detection confidence, thousandths.
    confidence: u64,
    pos: [f64; 2],
    vel: [f64; 2],
    visible: bool,
    r: Rng,
}

impl Track {
    fn draw(frames: u64, mut r: Rng) -> Track {
        let birth = if r.hit(FROM_START_BP) { 0 } else { r.below(frames) };
        let left = frames - birth;
        let death = if r.hit(TO_END_BP) { frames - 1 } else { birth + r.range(left.min(15), left) - 1 };
        let (class, size) = match r.below(100) {
            0..84 => ("bird", [r.range(40, 90), r.range(30, 70)]),
            84..93 => ("rat", [r.range(50, 120), r.range(25, 60)]),
            _ => ("gerbil", [r.range(40, 90), r.range(25, 50)]),
        };
        let confidence = r.range(600, 950);
        let at = |r: &mut Rng, extent: f64| 40.0 + (extent - 80.0) * r.unit();
        let pos = [at(&mut r, WIDTH), at(&mut r, HEIGHT)];
        let vel = [3.0 * signed(&mut r), 3.0 * signed(&mut r)];
        Track { id: 0, birth, death, class, size: size.map(|s| s as f64), confidence, pos, vel, visible: true, r }
    }

    /// Moves to `frame` (a frame of the track's life); returns whether the
    /// tracker sees it there. It is always seen at birth and at death.
    fn advance(&mut self, frame: u64) -> bool {
        let r = &mut self.r;
        if frame > self.birth {
            for (k, extent) in [WIDTH, HEIGHT].into_iter().enumerate() {
                self.vel[k] = (0.92 * self.vel[k] + 0.8 * signed(r)).clamp(-12.0, 12.0);
                self.pos[k] += self.vel[k];
                bounce(&mut self.pos[k], &mut self.vel[k], BORDER, extent - BORDER);
            }
        }
        self.visible = if frame == self.birth || frame == self.death {
            true
        } else if self.visible {
            !r.hit(LOSE_BP)
        } else {
            r.hit(FIND_BP)
        };
        self.visible
    }

    /// Appends the CSV rows of `frame` (no bounding box row, rarely).
    fn rows(&mut self, frame: u64, point: &mut Vec<u8>, bbox: &mut Vec<u8>) {
        let r = &mut self.r;
        // Centipixels, so the box's decimals compare exactly with the position's.
        let centi = self.pos.map(|p| (p * 100.0).round() as u64);
        push_u64(point, self.id);
        point.push(b',');
        push_u64(point, frame);
        for c in centi {
            point.push(b',');
            push_cents(point, c);
        }
        point.push(b'\n');

        if r.hit(MISSING_BBOX_BP) {
            return;
        }
        let mut corners = [[0u64; 2]; 2];
        for (k, extent) in [WIDTH, HEIGHT].into_iter().enumerate() {
            let span = 100.0 * self.size[k] * (1.0 + 0.05 * signed(r));
            let before = ((span * (0.5 + 0.08 * signed(r))).round() as u64).max(100);
            let after = ((span - before as f64).round() as u64).max(100);
            corners[0][k] = centi[k].saturating_sub(before);
            corners[1][k] = (centi[k] + after).min((extent * 100.0) as u64);
        }
        let confidence = (self.confidence + r.range(0, 200)).saturating_sub(100).clamp(1, 1000);
        let class = if self.class == "bird" && r.hit(EMPTY_CLASS_BP) { "" } else { self.class };

        push_u64(bbox, self.id);
        bbox.push(b',');
        push_u64(bbox, frame);
        for c in corners.as_flattened() {
            bbox.push(b',');
            push_cents(bbox, *c);
        }
        bbox.push(b',');
        push_u64(bbox, confidence / 1000);
        bbox.push(b'.');
        push_padded::<3>(bbox, confidence % 1000);
        bbox.push(b',');
        bbox.extend_from_slice(class.as_bytes());
        bbox.push(b'\n');
    }
}
