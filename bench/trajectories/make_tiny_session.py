#!/usr/bin/env python3
"""Writes a tiny session folder of the 3D boids simulator, to test the peers.

    make_tiny_session.py OUT_DIR [--name tiny] [--started 20250101-120000]
                                 [--episodes 2] [--agents 3] [--frames 5]
                                 [--targets 2] [--frame-rate 25]

Creates OUT_DIR/<name>_sim_run-started-<started>/ with config.yaml and one
episode-{k}-completed-YYYYMMDD-HHMMSS.parquet per episode (completed k + 1
minutes after the start), with the
simulator's columns: id, type ('agent' | 'env'), time, x y z v_x v_y v_z, and
per target t (1..targets) distance_target_center_t,
distance_to_target_mesh_closest_point_t, target_mesh_closest_point_t (a list
of 3 floats), then mesh_scene_distance and mesh_scene_closest_point (a list
of 3 floats). Every frame has the agents (ids 0..agents-1) and one env row
whose id is 0, so an id appears under two types, as in the simulator's files.

A few values are missing on purpose, some NaN and some NULL: z and
velocities (stored as NULL), distances, an element of a closest point and a
whole closest point list (not stored as properties). x and y are never
missing: the schema keeps them NOT NULL. The missing values are placed
once frames >= 5 and agents >= 3.

Prints one JSON line on stdout with what a correct load of the folder holds,
counted here from the values written and not by any loader's rules:
{"session": path, "session_id": ..., "frame_rate": ..., "episodes":
[{"episode_id", "file", "observations", "properties"}, ...],
"observations": total, "properties": total}.
"""

import argparse
import datetime
import json
import math
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

NAN = float("nan")


def episode_rows(episode, agents, frames, targets):
    """The rows of one episode, as dicts, in the simulator's order: by frame,
    agents first, then the env row. Values are made from (episode, frame,
    id) so a check can tell the rows apart."""
    rows = []
    for t in range(frames):
        for kind, ids in (("agent", range(agents)), ("env", [0])):
            for i in ids:
                base = 1000.0 * episode + 10.0 * t + i + (0.25 if kind == "env" else 0.0)
                row = {
                    "id": i,
                    "type": kind,
                    "time": t,
                    "x": base + 0.1,
                    "y": base + 0.2,
                    "z": base + 0.3,
                    "v_x": 0.01 * base,
                    "v_y": 0.02 * base,
                    "v_z": 0.03 * base,
                }
                for k in range(1, targets + 1):
                    row[f"distance_target_center_{k}"] = base + 0.4 + k
                    row[f"distance_to_target_mesh_closest_point_{k}"] = base + 0.5 + k
                    row[f"target_mesh_closest_point_{k}"] = [base + 0.61 + k, base + 0.62 + k, base + 0.63 + k]
                row["mesh_scene_distance"] = base + 0.7
                row["mesh_scene_closest_point"] = [base + 0.81, base + 0.82, base + 0.83]
                if kind == "env":
                    # The environment has no velocity and no distances.
                    row.update(v_x=NAN, v_y=NAN, v_z=NAN, mesh_scene_distance=NAN, mesh_scene_closest_point=None)
                    for k in range(1, targets + 1):
                        row[f"distance_target_center_{k}"] = NAN
                        row[f"distance_to_target_mesh_closest_point_{k}"] = NAN
                        row[f"target_mesh_closest_point_{k}"] = None
                rows.append(row)
    # The missing values, placed by rule.
    for row in rows:
        if row["type"] != "agent":
            continue
        t, i = row["time"], row["id"]
        if (t, i) == (1, 2):
            row["z"] = NAN
            row["distance_target_center_1"] = NAN
        if (t, i) == (2, 0):
            row["v_y"] = NAN
            row["target_mesh_closest_point_1"] = [row["target_mesh_closest_point_1"][0], NAN, row["target_mesh_closest_point_1"][2]]
        if (t, i) == (3, 1):
            row["mesh_scene_closest_point"] = None
            row["distance_to_target_mesh_closest_point_1"] = NAN
        # NULLs as well as NaNs.
        if (t, i) == (4, 0):
            row["v_z"] = None
            row["mesh_scene_distance"] = None
        if (t, i) == (4, 1):
            row["target_mesh_closest_point_1"] = row["target_mesh_closest_point_1"][:2] + [None]
    return rows


def present(v):
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def expected_properties(rows):
    """The property values a load keeps: for agent rows, each present value
    among the three distances and the six closest-point coordinates of the
    first target and the scene."""
    n = 0
    for row in rows:
        if row["type"] != "agent":
            continue
        for col in ("distance_target_center_1", "distance_to_target_mesh_closest_point_1", "mesh_scene_distance"):
            n += present(row[col])
        for col in ("target_mesh_closest_point_1", "mesh_scene_closest_point"):
            point = row[col]
            if point is not None:
                n += sum(present(v) for v in point)
    return n


def write_episode(path, rows, targets):
    f64, point = pa.float64(), pa.list_(pa.float64())
    fields = [("id", pa.int64()), ("type", pa.string()), ("time", pa.int64())]
    fields += [(c, f64) for c in ("x", "y", "z", "v_x", "v_y", "v_z")]
    for k in range(1, targets + 1):
        fields += [
            (f"distance_target_center_{k}", f64),
            (f"distance_to_target_mesh_closest_point_{k}", f64),
            (f"target_mesh_closest_point_{k}", point),
        ]
    fields += [("mesh_scene_distance", f64), ("mesh_scene_closest_point", point)]
    schema = pa.schema(fields)
    columns = {name: [row[name] for row in rows] for name in schema.names}
    # from_pydict keeps float NaN as NaN (not NULL) and None as NULL.
    pq.write_table(pa.Table.from_pydict(columns, schema=schema), path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--name", default="tiny", help="the session's name, before _sim_run")
    ap.add_argument("--started", default="20250101-120000", help="YYYYMMDD-HHMMSS")
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--targets", type=int, default=2)
    ap.add_argument("--frame-rate", type=float, default=25.0,
                    help="written as simulator.frame_rate; 0 leaves it out (loaders then use 30)")
    args = ap.parse_args()
    if args.episodes < 1 or args.agents < 1 or args.frames < 1 or args.targets < 1:
        sys.exit("make_tiny_session.py: --episodes, --agents, --frames and --targets must be at least 1")

    try:
        started = datetime.datetime.strptime(args.started, "%Y%m%d-%H%M%S")
    except ValueError:
        sys.exit(f"make_tiny_session.py: --started {args.started!r} is not YYYYMMDD-HHMMSS")
    folder = f"{args.name}_sim_run-started-{args.started}"
    session = args.out_dir / folder
    session.mkdir(parents=True, exist_ok=True)
    simulator = {"name": "boids_3d", "num_agents": args.agents, "num_frames": args.frames}
    if args.frame_rate:
        simulator["frame_rate"] = args.frame_rate
    config = {
        "simulator": simulator,
        "environment": {"num_targets": args.targets, "scene": "tiny.obj"},
        "notes": "written by bench/trajectories/make_tiny_session.py",
    }
    # JSON is YAML: the config is written without needing a YAML writer.
    (session / "config.yaml").write_text(json.dumps(config, indent=2) + "\n")

    names = [
        f"episode-{k}-completed-{started + datetime.timedelta(minutes=k + 1):%Y%m%d-%H%M%S}.parquet"
        for k in range(args.episodes)
    ]
    # Episodes are numbered in file name order: episode-10-... comes before
    # episode-2-...
    number = {name: n for n, name in enumerate(sorted(names))}
    episodes, total_obs, total_props = [], 0, 0
    for k, name in enumerate(names):
        rows = episode_rows(k, args.agents, args.frames, args.targets)
        write_episode(session / name, rows, args.targets)
        props = expected_properties(rows)
        episodes.append({
            "episode_id": f"episode-{number[name]}-{name.removesuffix('.parquet')}",
            "file": str(session / name),
            "observations": len(rows),
            "properties": props,
        })
        total_obs += len(rows)
        total_props += props
    episodes.sort(key=lambda e: e["file"])
    print(json.dumps({
        "session": str(session),
        "session_id": f"session-{folder}",
        "frame_rate": args.frame_rate or 30.0,
        "episodes": episodes,
        "observations": total_obs,
        "properties": total_props,
    }))


if __name__ == "__main__":
    main()
