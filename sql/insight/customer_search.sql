-- insight: customers whose company or contact name matches %(pattern)s (ILIKE; wildcards in the
-- search text escaped by the caller), or whose id is %(customer_id)s, with their current segment.
SELECT c.customer_id, c.company_name, concat_ws(' ', c.contact_first_name, c.contact_last_name) AS contact,
       d.label AS segment
FROM customers c
LEFT JOIN customer_segments s ON s.customer_id = c.customer_id
LEFT JOIN rfm_segment_def d ON d.segment_id = s.segment_id
WHERE c.company_name ILIKE %(pattern)s
   OR concat_ws(' ', c.contact_first_name, c.contact_last_name) ILIKE %(pattern)s
   OR c.customer_id = %(customer_id)s
ORDER BY c.company_name, c.customer_id
LIMIT %(limit)s
