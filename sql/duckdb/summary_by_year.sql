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
