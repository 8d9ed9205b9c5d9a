-- qxt_portability 1.0: the SQL surface.
\echo Use "CREATE EXTENSION qxt_portability" to load this file. \quit

-- One lookup's answer.  res: 0 not ported, 1 ported, 3 virtual operator.
-- mobile is the normalised 11-digit number, so
-- JOIN ... ON r.mobile = qxt_normalize_mobile(c.phone) works.
CREATE TYPE qxt_carrier_result AS (
    res      smallint,
    mobile   text,
    area     text,
    init_isp text,
    now_isp  text
);

CREATE FUNCTION qxt_normalize_mobile(mobile text)
RETURNS text
AS 'MODULE_PATHNAME', 'qxt_normalize_mobile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION qxt_normalize_mobile(text) IS
'The 11-digit form of a Chinese mobile number (+86, 0086, 86, spaces, dashes, dots accepted), or NULL. No network.';

CREATE FUNCTION qxt_carrier(mobile text)
RETURNS qxt_carrier_result
AS 'MODULE_PATHNAME', 'qxt_carrier'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION qxt_carrier(text) IS
'One paid portability lookup. Use it with LATERAL, not (qxt_carrier(x)).*.';

CREATE FUNCTION qxt_carrier_batch(mobiles text[])
RETURNS SETOF qxt_carrier_result
AS 'MODULE_PATHNAME', 'qxt_carrier_batch'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
ROWS 1000;

COMMENT ON FUNCTION qxt_carrier_batch(text[]) IS
'Paid portability lookups of many numbers: one row per array element, in array order; each distinct valid number is sent once.';

CREATE FUNCTION qxt_balance()
RETURNS TABLE (fee_type text, balance bigint)
AS 'MODULE_PATHNAME', 'qxt_balance'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
ROWS 1;

COMMENT ON FUNCTION qxt_balance() IS
'The vendor account''s fee type (预付费 prepaid / 后付费 postpaid) and remaining lookups.';

-- Spending the balance is a privilege.
REVOKE EXECUTE ON FUNCTION qxt_carrier(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION qxt_carrier_batch(text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION qxt_balance() FROM PUBLIC;
