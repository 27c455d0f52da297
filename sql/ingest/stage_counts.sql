-- stage_raw: what stage_load.sql decided for the records it classified (the lines loaded directly
-- are counted in Python), plus what the row rules rejected; in physical lines.
SELECT coalesce(sum(n_lines) FILTER (WHERE verdict = 'new'), 0) AS loaded,
       coalesce(sum(n_lines) FILTER (WHERE verdict = 'duplicate'), 0) AS duplicate,
       coalesce(sum(n_lines) FILTER (WHERE verdict LIKE 'conflict%%'), 0)
           + (SELECT coalesce(sum(n_lines), 0) FROM stage_bad) AS rejected
FROM stage_classified
