-- The violations dataset's summaries (spec: [target] summaries = "violations").
-- After every load that changed the table, each is stored as the table
-- {table}_<name> (CREATE OR REPLACE TABLE ... AS), in the load's schema;
-- `pqstage summary` prints them. Placeholder: table (the quoted table).
-- After the description: `-- order:` orders the printed rows.

-- name: by_year
-- Per year: violations, total and mean current penalty.

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
