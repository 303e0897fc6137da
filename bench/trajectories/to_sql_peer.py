#!/usr/bin/env python3
"""Benchmark peer: the trajectory users' current loader, pandas `to_sql`.

    to_sql_peer.py --engine postgres --db postgres://user@host:port/db SESSION_DIR...
    to_sql_peer.py --engine duckdb --db FILE.duckdb SESSION_DIR...

What the users' loader does, step by step, per episode file of a 3D boids
session folder: read the file with pandas; upsert the episode row; build the
observation rows and insert them with `DataFrame.to_sql(if_exists='append')`
(pandas' defaults: method=None, no chunksize); read the episode's
observation ids back with a SELECT into a dict keyed by (time_index,
agent_id, agent_type_id); build the extended_properties rows in a Python
loop, mapping each property value's natural key through that dict; insert
them with `to_sql`. Every step commits on its own, as theirs does.

Both engines go through SQLAlchemy: PostgreSQL with psycopg2, DuckDB with
the duckdb_engine dialect (DuckDB's Python package underneath).

Added to what the users' loader does, so that a benchmark can run twice on
one database: the category, session and episode rows are upserted (a
session keeps its category and an episode its session: see upsert_sql),
and an episode already loaded has its extended_properties and then its
observations deleted first, each delete committed on its own (DuckDB 1.5
refuses to delete the observations in the transaction that deleted their
properties).

The tables are created from sql/<engine>/trajectories_schema.sql (blocks
create_schema, seed_agent_types, seed_property_definitions, in the schema
"public") when the observations table is missing.

The input rules (a session folder `<name>_sim_run-started-YYYYMMDD-HHMMSS/`
with config.yaml and `episode-{k}-completed-YYYYMMDD-HHMMSS.parquet` files)
are in the functions below; text_copy_peer.py imports them, so both peers
load the same rows.

Prints one JSON line on stdout at the end: {"peer", "engine", "episodes",
"observations", "properties", "seconds", "obs_seconds", "props_seconds"}.
seconds is the whole run after the imports (connecting, creating the
schema, reading the files, loading); obs_seconds the building and inserting
of the observation rows; props_seconds the id read-back, the mapping and the
inserting of the property rows. Progress goes to stderr.
"""

import argparse
import json
import math
import re
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = "public"
CATEGORY = ("boids_3d", "3D boids simulations", "Sessions of the 3D boids simulator")
EPISODE_FILES = "episode-*-completed-*.parquet"
DEFAULT_FRAME_RATE = 30.0

# The observation columns, in the table's order after observation_id.
OBS_COLUMNS = ["episode_id", "time_index", "agent_id", "agent_type_id", "x", "y", "z", "v_x", "v_y", "v_z"]
# property_id <- (episode file column, element of a list column or None).
# Only the first target's columns (_1) are read.
PROPERTIES = [
    ("distance_to_target_center", "distance_target_center_1", None),
    ("distance_to_target_mesh", "distance_to_target_mesh_closest_point_1", None),
    ("distance_to_scene_mesh", "mesh_scene_distance", None),
    ("target_mesh_closest_x", "target_mesh_closest_point_1", 0),
    ("target_mesh_closest_y", "target_mesh_closest_point_1", 1),
    ("target_mesh_closest_z", "target_mesh_closest_point_1", 2),
    ("scene_mesh_closest_x", "mesh_scene_closest_point", 0),
    ("scene_mesh_closest_y", "mesh_scene_closest_point", 1),
    ("scene_mesh_closest_z", "mesh_scene_closest_point", 2),
]


def log(msg):
    print(f"[{Path(sys.argv[0]).stem}] {msg}", file=sys.stderr, flush=True)


# --- our SQL files ----------------------------------------------------------

def named_blocks(path):
    """The `-- name: x` blocks of one of our SQL files: {name: sql}."""
    blocks, name, lines = {}, None, []
    for line in Path(path).read_text().splitlines(keepends=True):
        m = re.match(r"\s*-- name:\s*(\S+)", line)
        if m:
            if name:
                blocks[name] = "".join(lines).strip()
            name, lines = m.group(1), []
        elif name:
            lines.append(line)
    if name:
        blocks[name] = "".join(lines).strip()
    return blocks


def schema_statements(engine, names, schema=SCHEMA):
    """The statements of the named blocks of sql/<engine>/trajectories_schema.sql,
    one by one, with {schema} filled in. Our files end each statement with a
    semicolon at the end of a line, and have none inside a statement."""
    blocks = named_blocks(REPO / "sql" / engine / "trajectories_schema.sql")
    quoted = '"' + schema.replace('"', '""') + '"'
    out = []
    for name in names:
        sql = blocks[name].replace("{schema}", quoted)
        for stmt in re.split(r";[ \t]*(?:--[^\n]*)?\n", sql + "\n"):
            code = [l for l in stmt.splitlines() if l.strip() and not l.strip().startswith("--")]
            if code:
                out.append(stmt.strip().rstrip(";"))
    return out


SCHEMA_BLOCKS = ["create_schema", "seed_agent_types", "seed_property_definitions"]


# --- the input rules --------------------------------------------------------

class Session:
    """A session folder: its row and its episode files in name order."""

    def __init__(self, folder):
        folder = Path(folder)
        if not folder.is_dir():
            raise SystemExit(f"{folder}: not a folder")
        config_path = folder / "config.yaml"
        if not config_path.is_file():
            raise SystemExit(f"{config_path}: missing (a session folder has config.yaml)")
        self.config = yaml.safe_load(config_path.read_text()) or {}
        name = folder.resolve().name
        self.session_id = f"session-{name}"
        self.session_name = name
        simulator = self.config.get("simulator") if isinstance(self.config, dict) else None
        rate = simulator.get("frame_rate") if isinstance(simulator, dict) else None
        self.frame_rate = float(rate) if rate is not None else DEFAULT_FRAME_RATE
        files = sorted(folder.glob(EPISODE_FILES), key=lambda p: p.name)
        if not files:
            raise SystemExit(f"{folder}: no {EPISODE_FILES} files")
        # (episode_number, episode_id, path)
        self.episodes = [(n, f"episode-{n}-{p.stem}", p) for n, p in enumerate(files)]

    def config_json(self):
        # YAML dates and the like become strings.
        return json.dumps(self.config, default=str)


def read_episode(path):
    """The whole episode file, as the users read it, less the rows without a
    position: x and y are NOT NULL in their schema, so a NaN there fails the
    whole insert; pqstage keeps such rows aside, and the peers drop them, so
    all load the same rows."""
    df = pd.read_parquet(path)
    return df[df["x"].notna() & df["y"].notna()]


def episode_row(session, number, episode_id, path, df):
    return {
        "episode_id": episode_id,
        "session_id": session.session_id,
        "episode_number": number,
        "num_frames": int(df["time"].max()) + 1,
        "num_agents": int(df["id"].nunique()),
        "frame_rate": session.frame_rate,
        "file_path": str(path),
    }


def observation_frame(df, episode_id):
    """The observation rows; NaN stays NaN (written as NULL)."""
    obs = pd.DataFrame({
        "episode_id": episode_id,
        "time_index": df["time"].astype("int64"),
        "agent_id": df["id"].astype("int64"),
        "agent_type_id": df["type"].astype(object),
        "x": df["x"], "y": df["y"], "z": df["z"],
        "v_x": df["v_x"], "v_y": df["v_y"], "v_z": df["v_z"],
    })
    return obs[OBS_COLUMNS]


def missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def element(values, i):
    """Element i of each list in a column of lists; NaN where the list is NULL."""
    def pick(v):
        if v is None or (isinstance(v, float) and math.isnan(v)) or len(v) <= i:
            return math.nan
        x = v[i]
        return math.nan if x is None else float(x)
    return values.map(pick).astype("float64")


def property_series(df):
    """For the agent rows: property_id -> Series of values indexed by the
    natural key (time_index, agent_id, agent_type_id), NaN where missing."""
    agents = df[df["type"] == "agent"]
    index = pd.MultiIndex.from_arrays(
        [agents["time"].astype("int64"), agents["id"].astype("int64"), agents["type"].astype(object)],
        names=["time_index", "agent_id", "agent_type_id"])
    out = {}
    for property_id, column, i in PROPERTIES:
        values = agents[column] if i is None else element(agents[column], i)
        out[property_id] = pd.Series(values.to_numpy(dtype="float64"), index=index)
    return out


# --- the database -----------------------------------------------------------

def sqlalchemy_url(engine, db):
    if engine == "duckdb":
        return f"duckdb:///{db}"
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg2://", db)


def upsert_sql(table, key, columns, update=()):
    """INSERT ... ON CONFLICT (key): DO UPDATE SET the columns in `update`,
    or DO NOTHING. Key and foreign key columns are never in `update`: DuckDB
    1.5 turns an UPDATE of an indexed column into a delete and an insert,
    which its foreign keys refuse while other rows reference the row."""
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    action = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)) if update else "DO NOTHING"
    return f"INSERT INTO {SCHEMA}.{table} ({names}) VALUES ({values}) ON CONFLICT ({key}) {action}"


CATEGORY_UPSERT = upsert_sql("categories", "category_id", ["category_id", "category_name", "description"])
SESSION_UPSERT = upsert_sql("sessions", "session_id", ["session_id", "session_name", "category_id", "config"],
                            update=["session_name", "config"])
EPISODE_UPSERT = upsert_sql("episodes", "episode_id",
                            ["episode_id", "session_id", "episode_number", "num_frames", "num_agents", "frame_rate", "file_path"],
                            update=["episode_number", "num_frames", "num_agents", "frame_rate", "file_path"])


def ensure_schema(eng, engine_name):
    from sqlalchemy import inspect
    if inspect(eng).has_table("observations", schema=SCHEMA):
        return
    log(f"creating the trajectory tables in schema {SCHEMA}")
    with eng.begin() as conn:
        for stmt in schema_statements(engine_name, SCHEMA_BLOCKS):
            conn.exec_driver_sql(stmt)


def main():
    t_start = time.perf_counter()
    ap = argparse.ArgumentParser(description="The users' to_sql loader, as a benchmark peer.")
    ap.add_argument("--engine", choices=["postgres", "duckdb"], required=True)
    ap.add_argument("--db", required=True, help="PostgreSQL URL, or DuckDB file")
    ap.add_argument("sessions", nargs="+", help="session folders")
    args = ap.parse_args()
    sessions = [Session(s) for s in args.sessions]

    from sqlalchemy import create_engine, text
    eng = create_engine(sqlalchemy_url(args.engine, args.db))
    ensure_schema(eng, args.engine)

    counts = {"episodes": 0, "observations": 0, "properties": 0}
    obs_seconds = props_seconds = 0.0
    for session in sessions:
        with eng.begin() as conn:
            conn.execute(text(CATEGORY_UPSERT), dict(zip(["category_id", "category_name", "description"], CATEGORY)))
            conn.execute(text(SESSION_UPSERT), {"session_id": session.session_id, "session_name": session.session_name,
                          "category_id": CATEGORY[0], "config": session.config_json()})
        for number, episode_id, path in session.episodes:
            df = read_episode(path)
            # A reload: the old rows go first, children first, each delete
            # committed on its own.
            with eng.connect() as conn:
                old = conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.observations WHERE episode_id = :e"),
                                   {"e": episode_id}).scalar()
            if old:
                log(f"{episode_id}: replacing its {old} observations and their properties")
                with eng.begin() as conn:
                    conn.execute(text(
                        f"DELETE FROM {SCHEMA}.extended_properties WHERE observation_id IN "
                        f"(SELECT observation_id FROM {SCHEMA}.observations WHERE episode_id = :e)"), {"e": episode_id})
                with eng.begin() as conn:
                    conn.execute(text(f"DELETE FROM {SCHEMA}.observations WHERE episode_id = :e"), {"e": episode_id})
            row = episode_row(session, number, episode_id, path, df)
            with eng.begin() as conn:
                conn.execute(text(EPISODE_UPSERT), row)

            t0 = time.perf_counter()
            obs = observation_frame(df, episode_id)
            obs.to_sql("observations", eng, schema=SCHEMA, if_exists="append", index=False)
            t1 = time.perf_counter()

            # The ids the database gave the observations, by natural key.
            with eng.connect() as conn:
                rows = conn.execute(text(
                    f"SELECT observation_id, time_index, agent_id, agent_type_id FROM {SCHEMA}.observations "
                    f"WHERE episode_id = :e"), {"e": episode_id}).fetchall()
            ids = {(r[1], r[2], r[3]): r[0] for r in rows}
            records, unmatched = [], 0
            for property_id, series in property_series(df).items():
                for (t, a, kind), value in series.items():
                    if missing(value):
                        continue
                    observation_id = ids.get((int(t), int(a), kind))
                    if observation_id is None:
                        unmatched += 1
                        continue
                    records.append({"observation_id": observation_id, "property_id": property_id,
                                    "value_float": float(value), "value_text": None})
            if unmatched:
                log(f"{episode_id}: {unmatched} property values have no observation")
            if records:
                pd.DataFrame.from_records(records, columns=["observation_id", "property_id", "value_float", "value_text"]) \
                    .to_sql("extended_properties", eng, schema=SCHEMA, if_exists="append", index=False)
            t2 = time.perf_counter()

            obs_seconds += t1 - t0
            props_seconds += t2 - t1
            counts["episodes"] += 1
            counts["observations"] += len(obs)
            counts["properties"] += len(records)
            log(f"{episode_id}: {len(obs)} observations in {t1 - t0:.2f} s, {len(records)} properties in {t2 - t1:.2f} s")
    eng.dispose()
    print(json.dumps({
        "peer": "to_sql", "engine": args.engine, **counts,
        "seconds": round(time.perf_counter() - t_start, 3),
        "obs_seconds": round(obs_seconds, 3), "props_seconds": round(props_seconds, 3),
    }))


if __name__ == "__main__":
    main()
