-- The violations sample's summary queries, run by `pqstage summary` against
-- a loaded table. Placeholder: table (the quoted table). A query's title in
-- the output is its description.

-- name: by_year
-- Per year: violations, total and mean current penalty, distinct companies.
SELECT
    year,
    count(*)                                  AS violations,
    sum(current_penalty)                      AS total_penalty,
    round(avg(current_penalty), 2)            AS mean_penalty,
    count(DISTINCT company_name_normalized)   AS companies
FROM {table}
GROUP BY year
ORDER BY year NULLS LAST;

-- name: top_companies
-- The ten companies with the highest total current penalty.
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
