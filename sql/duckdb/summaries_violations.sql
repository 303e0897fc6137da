-- The violations dataset's summaries (spec: [target] summaries = "violations").
-- Placeholder: table (the quoted table, or the rows a change adds or
-- removes).
--
-- Both are kept: a table {table}_<name> in the table's schema holds one row
-- per group. The `-- group:` directive names the group columns; every other
-- column is a count or a sum that is never NULL (hence the coalesce), so a
-- load that applies change sets keeps the table up to date by adding the
-- aggregates of the rows it writes and subtracting those of the rows it
-- replaces or deletes, in the same transaction, instead of computing the
-- summary again from 18 M rows. A group whose `-- rows:` column falls to 0
-- goes. Loads that replace whole partitions compute the summary again.
-- `pqstage summary` prints `-- show:` (default: every column) in the
-- `-- order:` order, at most `-- limit:` rows.

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
