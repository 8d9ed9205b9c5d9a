-- pgbench script for scripts/checks/load.sh (make check-load): one paid
-- lookup of a random valid number.  The last digit is never 0, so no number
-- ends in 0000 (the emulator's -4, which qxt_carrier raises as QX004); every
-- transaction must succeed.  One in four numbers is written with +86 and
-- spaces, so the normaliser runs on both paths.
\set n random(1300000000, 1999999999) * 10 + random(1, 9)
\set fmt random(0, 3)
SELECT res, now_isp
FROM qxt_carrier(CASE WHEN :fmt = 0 THEN '+86 ' || substr(:n::text, 1, 3) || ' ' || substr(:n::text, 4)
                      ELSE :n::text END);
