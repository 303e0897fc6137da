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
