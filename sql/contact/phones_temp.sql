-- validate_phones: one batch of results, filled by COPY, gone at the batch's commit.
CREATE TEMP TABLE tmp_phone_validation (
    customer_id     bigint PRIMARY KEY,
    phone           text,       -- the raw phone that was validated
    checked_input   text NOT NULL,
    valid           boolean NOT NULL,
    e164            text,
    international   text,
    reason          text
) ON COMMIT DROP
