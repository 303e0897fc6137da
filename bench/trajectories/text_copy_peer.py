#!/usr/bin/env python3
"""Benchmark peer: the trajectory users' planned loader, text COPY (PostgreSQL).

    text_copy_peer.py --db postgres://user@host:port/db SESSION_DIR...

The path the users plan to replace their to_sql loader with, per episode
file, in one transaction per episode:

  1. read the file with pandas and upsert the episode row;
  2. COPY the observation rows, as CSV text (psycopg2 `copy_expert`),
     straight into observations; observation_id comes from its sequence;
  3. COPY the property values in long form (episode_id, time_index,
     agent_id, agent_type_id, property_id, value_float, value_text), as CSV
     text, into a TEMP table;
  4. INSERT INTO extended_properties SELECT o.observation_id, ... FROM the
     temp table JOIN observations o ON the four key columns.

As in their plan, the join is on the four key columns only (no constant
episode_id condition), and the temp table is neither indexed nor analyzed.

The input rules, the schema creation and the upserts are the ones of
to_sql_peer.py (imported from it), so both peers load the same rows; an
episode already loaded has its extended_properties and observations deleted
first, in the same transaction (PostgreSQL allows it).

Prints one JSON line on stdout at the end: {"peer", "engine", "episodes",
"observations", "properties", "seconds", "obs_seconds", "props_seconds"}.
seconds is the whole run after the imports; obs_seconds the building of the
observations' CSV text and its COPY; props_seconds the building of the long
form and its CSV text, the temp table, its COPY, the INSERT ... SELECT and
the commit.
Progress goes to stderr.
"""

import argparse
import io
import json
import sys
import time
from pathlib import Path

import pandas as pd
import psycopg2

# No __pycache__ in the repository for the import below.
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from to_sql_peer import (  # noqa: E402  (the shared input rules)
    CATEGORY, OBS_COLUMNS, PROPERTIES, SCHEMA, SCHEMA_BLOCKS, Session, element, episode_row, log,
    observation_frame, read_episode, schema_statements,
)

STAGE_COLUMNS = ["episode_id", "time_index", "agent_id", "agent_type_id", "property_id", "value_float", "value_text"]


def long_properties(df, episode_id):
    """The property values of the agent rows in long form, without the
    missing ones (NaN or NULL)."""
    agents = df[df["type"] == "agent"]
    key = pd.DataFrame({
        "episode_id": episode_id,
        "time_index": agents["time"].astype("int64"),
        "agent_id": agents["id"].astype("int64"),
        "agent_type_id": agents["type"].astype(object),
    })
    parts = []
    for property_id, column, i in PROPERTIES:
        values = agents[column] if i is None else element(agents[column], i)
        part = key.assign(property_id=property_id, value_float=values.astype("float64"), value_text=None)
        parts.append(part[part["value_float"].notna()])
    return pd.concat(parts, ignore_index=True)[STAGE_COLUMNS]


def csv_text(frame):
    """CSV without header or index; NaN and None are written as nothing,
    which COPY ... (FORMAT csv) reads as NULL. Floats keep every digit."""
    buf = io.StringIO()
    frame.to_csv(buf, header=False, index=False)
    buf.seek(0)
    return buf


def ensure_schema(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f'"{SCHEMA}".observations',))
        if cur.fetchone()[0] is not None:
            return
        log(f"creating the trajectory tables in schema {SCHEMA}")
        for stmt in schema_statements("postgres", SCHEMA_BLOCKS):
            cur.execute(stmt)
    conn.commit()


def main():
    t_start = time.perf_counter()
    ap = argparse.ArgumentParser(description="The users' planned text COPY loader (PostgreSQL), as a benchmark peer.")
    ap.add_argument("--db", required=True, help="PostgreSQL URL")
    ap.add_argument("--engine", choices=["postgres"], default="postgres", help="PostgreSQL only")
    ap.add_argument("sessions", nargs="+", help="session folders")
    args = ap.parse_args()
    sessions = [Session(s) for s in args.sessions]

    conn = psycopg2.connect(args.db)
    ensure_schema(conn)
    s = SCHEMA
    counts = {"episodes": 0, "observations": 0, "properties": 0}
    obs_seconds = props_seconds = 0.0
    for session in sessions:
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {s}.categories (category_id, category_name, description) VALUES (%s, %s, %s) "
                        "ON CONFLICT (category_id) DO NOTHING", CATEGORY)
            cur.execute(f"INSERT INTO {s}.sessions (session_id, session_name, category_id, config) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (session_id) DO UPDATE SET session_name = excluded.session_name, config = excluded.config",
                        (session.session_id, session.session_name, CATEGORY[0], session.config_json()))
        conn.commit()
        for number, episode_id, path in session.episodes:
            df = read_episode(path)
            row = episode_row(session, number, episode_id, path, df)
            with conn.cursor() as cur:
                cur.execute(f"DELETE FROM {s}.extended_properties WHERE observation_id IN "
                            f"(SELECT observation_id FROM {s}.observations WHERE episode_id = %s)", (episode_id,))
                cur.execute(f"DELETE FROM {s}.observations WHERE episode_id = %s", (episode_id,))
                if cur.rowcount:
                    log(f"{episode_id}: replacing its {cur.rowcount} observations and their properties")
                cur.execute(
                    f"INSERT INTO {s}.episodes (episode_id, session_id, episode_number, num_frames, num_agents, frame_rate, file_path) "
                    "VALUES (%(episode_id)s, %(session_id)s, %(episode_number)s, %(num_frames)s, %(num_agents)s, %(frame_rate)s, %(file_path)s) "
                    "ON CONFLICT (episode_id) DO UPDATE SET episode_number = excluded.episode_number, num_frames = excluded.num_frames, "
                    "num_agents = excluded.num_agents, frame_rate = excluded.frame_rate, file_path = excluded.file_path", row)

                t0 = time.perf_counter()
                obs = observation_frame(df, episode_id)
                cur.copy_expert(f"COPY {s}.observations ({', '.join(OBS_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", csv_text(obs))
                t1 = time.perf_counter()

                props = long_properties(df, episode_id)
                cur.execute("CREATE TEMP TABLE props_stage (episode_id varchar, time_index integer, agent_id integer, "
                            "agent_type_id varchar, property_id varchar, value_float double precision, value_text text) "
                            "ON COMMIT DROP")
                cur.copy_expert(f"COPY props_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", csv_text(props))
                cur.execute(
                    f"INSERT INTO {s}.extended_properties (observation_id, property_id, value_float, value_text) "
                    "SELECT o.observation_id, t.property_id, t.value_float, t.value_text "
                    f"FROM props_stage AS t JOIN {s}.observations AS o "
                    "ON o.episode_id = t.episode_id AND o.time_index = t.time_index "
                    "AND o.agent_id = t.agent_id AND o.agent_type_id = t.agent_type_id")
                inserted = cur.rowcount
            conn.commit()
            t2 = time.perf_counter()
            if inserted != len(props):
                log(f"{episode_id}: {len(props) - inserted} property values have no observation")

            obs_seconds += t1 - t0
            props_seconds += t2 - t1
            counts["episodes"] += 1
            counts["observations"] += len(obs)
            counts["properties"] += inserted
            log(f"{episode_id}: {len(obs)} observations in {t1 - t0:.2f} s, {inserted} properties in {t2 - t1:.2f} s")
    conn.close()
    print(json.dumps({
        "peer": "text_copy", "engine": "postgres", **counts,
        "seconds": round(time.perf_counter() - t_start, 3),
        "obs_seconds": round(obs_seconds, 3), "props_seconds": round(props_seconds, 3),
    }))


if __name__ == "__main__":
    main()
