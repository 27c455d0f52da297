-- stage_raw: what stage_load.sql decided for the rows it classified (the rows loaded directly are
-- counted in Python), plus the rows rejected by validation.
SELECT count(*) FILTER (WHERE verdict = 'new') AS loaded,
       count(*) FILTER (WHERE verdict = 'duplicate') AS duplicate,
       count(*) FILTER (WHERE verdict LIKE 'conflict%%') + (SELECT count(*) FROM stage_bad) AS rejected
FROM stage_classified
