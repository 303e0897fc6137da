-- The violations dataset's summaries (spec: [target] summaries = "violations").
-- Placeholder: table (the quoted table, or the rows a change adds or
-- removes).
--
-- Both are kept as tables {table}_<name> in the table's schema, one row per
-- group, computed again after every load that changed the table (about
-- half a second for 18 M rows). The `-- group:` and `-- rows:` directives
-- are the same as in sql/postgres/, where loads keep these summaries up to
-- date from the changes instead; the queries are kept alike so both engines
-- give the same rows. `pqstage summary` prints `-- show:` (default: every
-- column) in the `-- order:` order, at most `-- limit:` rows.

-- name: by_year
-- Per year: violations, total and mean current penalty.

-- group: year
-- rows: violations
-- show: year, violations, total_penalty, round(total_penalty / nullif(penalties, 0), 2) AS mean_penalty
-- order: year NULLS LAST
SELECT
    year,
    count(*)                                  AS violations,
    count(current_penalty)                    AS penalties,
    coalesce(sum(current_penalty), 0)         AS total_penalty
FROM {table}
GROUP BY year;

-- name: top_companies
-- The ten companies with the highest total current penalty.

-- group: company
-- rows: violations
-- order: total_penalty DESC, company
-- limit: 10
SELECT
    company_name_normalized                   AS company,
    count(*)                                  AS violations,
    coalesce(sum(current_penalty), 0)         AS total_penalty
FROM {table}
WHERE current_penalty IS NOT NULL
GROUP BY company_name_normalized;
