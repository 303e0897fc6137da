-- The violations dataset's summaries (spec: [target] summaries = "violations").
-- Each is a materialized view {table}_<name> in the table's schema, created
-- by the first load and refreshed after every load that changed the table:
-- CONCURRENTLY (readers keep reading the old rows meanwhile) through the
-- unique index on the `-- unique:` columns. `pqstage summary` prints them,
-- in the `-- order:` order. Placeholder: table (the quoted parent table).

-- name: by_year
-- Per year: violations, total and mean current penalty.

-- unique: year
-- order: year NULLS LAST
SELECT
    year,
    count(*)                                  AS violations,
    sum(current_penalty)                      AS total_penalty,
    round(avg(current_penalty), 2)            AS mean_penalty
FROM {table}
GROUP BY year;

-- name: top_companies
-- The ten companies with the highest total current penalty.

-- unique: company
-- order: total_penalty DESC, company
SELECT
    company_name_normalized                   AS company,
    count(*)                                  AS violations,
    sum(current_penalty)                      AS total_penalty,
    min(year)                                 AS first_year,
    max(year)                                 AS last_year
FROM {table}
WHERE current_penalty IS NOT NULL
GROUP BY company_name_normalized
ORDER BY total_penalty DESC, company
LIMIT 10;
