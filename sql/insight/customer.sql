-- insight: one customer's name and contact.
SELECT customer_id, company_name, concat_ws(' ', contact_first_name, contact_last_name) AS contact
FROM customers
WHERE customer_id = %(customer_id)s
