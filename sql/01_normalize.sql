-- qxt_normalize_mobile: the normalisation every lookup applies, no network.
SELECT input, qxt_normalize_mobile(input) AS normalised
FROM (VALUES
  ('13972565391'), ('139 7256 5391'), ('139-7256-5391'), ('139.7256.5391'),
  ('+8613972565391'), ('+86 139 7256 5391'), ('+86-139-7256-5391'),
  ('008613972565391'), ('0086 139 7256 5391'), ('8613972565391'),
  ('86 139 7256 5391'), ('  13972565391  '), ('19212345678'), ('17012345678'),
  ('14712345678'), ('16612345678'), ('19912345678')
) AS t(input);

-- Every way not to be a Chinese mobile number gives NULL.
SELECT left(input, 24) AS input, qxt_normalize_mobile(input) IS NULL AS rejected
FROM (VALUES
  (''), ('   '), ('1397256539'), ('139725653911'), ('12972565391'),
  ('10972565391'), ('23972565391'), ('+1 415 555 0100'), ('+85213972565391'),
  ('013972565391'), ('86139725653'), ('+86'), ('abc'), ('1397256539a'),
  ('139 7256 539１'), ('+86+8613972565391'), ('139725653９1'), ('--13972565391'),
  ('139_7256_5391'), ('8686 13972565391'), (repeat('1', 1000)), ('139/7256/5391')
) AS t(input);

-- STRICT, IMMUTABLE, PARALLEL SAFE: usable in an index and a JOIN key.
SELECT qxt_normalize_mobile(NULL) IS NULL AS null_in_null_out;
CREATE TEMP TABLE phones(p text);
INSERT INTO phones VALUES ('+86 139 7256 5391'), ('0086-139-7256-5391'), ('junk');
CREATE INDEX ON phones (qxt_normalize_mobile(p));
SELECT count(*) FROM phones WHERE qxt_normalize_mobile(p) = '13972565391';
