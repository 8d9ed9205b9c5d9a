-- The README's pg_cron recipe, verbatim but for the schedule (every minute
-- here, nightly in the README) and the emulator's key and URL.
CREATE PROCEDURE refresh_customer_carriers()
LANGUAGE plpgsql AS $$
BEGIN
  -- Looks up what is older than 30 days; commits every batch.
  CALL qxt_refresh('SELECT phone FROM customers', '30 days');
  -- Copies the answers into the customer table.
  UPDATE customers c
     SET carrier = l.now_isp, ported = (l.res = 1), carrier_checked_at = l.looked_up_at
    FROM qxt_lookups l
   WHERE l.mobile = qxt_normalize_mobile(c.phone)
     AND l.code = 0
     AND c.carrier_checked_at IS DISTINCT FROM l.looked_up_at;
END $$;

SELECT cron.schedule('qxt-refresh-customers', '* * * * *',
                     'CALL refresh_customer_carriers()');
