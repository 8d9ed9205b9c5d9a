-- pg_temp.qxt_regress_catalog(): every object of extension qxt_portability
-- in this database (pg_depend, deptype 'e') with every property an upgrade
-- must get right, as (object, property, value) rows; sql/21_upgrade_1_2.sql
-- compares two databases with it.  Generic: an object added to both
-- scripts later is compared without changing this file.  Names, never
-- OIDs, so that two databases compare.
CREATE FUNCTION pg_temp.qxt_regress_catalog()
RETURNS TABLE (object text, property text, value text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $catalog$
WITH ext AS (
  SELECT e.oid, e.extname, e.extversion, e.extrelocatable, e.extnamespace::regnamespace::text AS nsp,
         e.extconfig, e.extcondition
  FROM pg_extension e WHERE e.extname = 'qxt_portability'
), members AS (
  SELECT d.classid, d.objid, d.objsubid, pg_describe_object(d.classid, d.objid, d.objsubid) AS object
  FROM pg_depend d JOIN ext ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
  WHERE d.deptype = 'e'
), rels AS (  -- relations: members, and the row types of member composite types
  SELECT c.oid, m.object FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
  UNION ALL
  SELECT t.typrelid, m.object FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
  WHERE t.typrelid <> 0
), props AS (
  -- the extension itself
  SELECT 'extension' AS object, 'version' AS property, ext.extversion AS value FROM ext
  UNION ALL SELECT 'extension', 'schema', ext.nsp FROM ext
  UNION ALL SELECT 'extension', 'relocatable', ext.extrelocatable::text FROM ext
  UNION ALL SELECT 'extension', 'config_dump',
    (SELECT string_agg(c::regclass::text || ' WHERE ' || coalesce(w, '<NULL>'), '; ' ORDER BY c::regclass::text)
     FROM unnest(ext.extconfig, ext.extcondition) AS x(c, w)) FROM ext
  -- every member: that it is one, its comment and initial privileges
  UNION ALL SELECT m.object, 'member', 'yes' FROM members m
  UNION ALL SELECT m.object, 'comment', d.description FROM members m
    JOIN pg_description d ON d.classoid = m.classid AND d.objoid = m.objid AND d.objsubid = 0
  UNION ALL SELECT m.object, 'initprivs', i.initprivs::text FROM members m
    JOIN pg_init_privs i ON i.classoid = m.classid AND i.objoid = m.objid AND i.objsubid = 0
  UNION ALL SELECT m.object, 'initprivs of column ' || a.attname, i.initprivs::text FROM members m
    JOIN pg_init_privs i ON i.classoid = m.classid AND i.objoid = m.objid AND i.objsubid <> 0
    JOIN pg_attribute a ON a.attrelid = m.objid AND a.attnum = i.objsubid
  -- functions and procedures
  UNION ALL SELECT m.object, x.k, x.v FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    CROSS JOIN LATERAL (VALUES
      ('kind', p.prokind::text), ('arguments', pg_get_function_arguments(p.oid)),
      ('result', pg_get_function_result(p.oid)), ('returns set', p.proretset::text),
      ('volatility', p.provolatile::text), ('parallel', p.proparallel::text),
      ('strict', p.proisstrict::text), ('security definer', p.prosecdef::text),
      ('leakproof', p.proleakproof::text), ('cost', p.procost::text), ('rows', p.prorows::text),
      ('config', p.proconfig::text), ('language', (SELECT l.lanname::text FROM pg_language l WHERE l.oid = p.prolang)),
      ('source', p.prosrc), ('library', p.probin), ('owner', pg_get_userbyid(p.proowner)::text),
      ('acl', p.proacl::text)) AS x(k, v)
  -- types
  UNION ALL SELECT m.object, x.k, x.v FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    CROSS JOIN LATERAL (VALUES
      ('type kind', t.typtype::text), ('category', t.typcategory::text),
      ('owner', pg_get_userbyid(t.typowner)::text), ('acl', t.typacl::text),
      ('base type', format_type(t.typbasetype, t.typtypmod)),
      ('enum labels', (SELECT string_agg(e.enumlabel::text, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))) AS x(k, v)
  -- relations (tables, views, sequences, composite types' row types)
  UNION ALL SELECT r.object, x.k, x.v FROM rels r JOIN pg_class c ON c.oid = r.oid
    CROSS JOIN LATERAL (VALUES
      ('relkind', c.relkind::text), ('persistence', c.relpersistence::text),
      ('owner', pg_get_userbyid(c.relowner)::text), ('acl', c.relacl::text),
      ('options', c.reloptions::text), ('row security', c.relrowsecurity::text || '/' || c.relforcerowsecurity::text),
      ('replica identity', c.relreplident::text),
      ('view definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END)) AS x(k, v)
  UNION ALL SELECT r.object, 'column ' || a.attname || ' ' || x.k, x.v
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    CROSS JOIN LATERAL (VALUES
      ('position', (SELECT count(*) FROM pg_attribute b WHERE b.attrelid = a.attrelid AND b.attnum > 0
                      AND NOT b.attisdropped AND b.attnum <= a.attnum)::text),
      ('type', format_type(a.atttypid, a.atttypmod)), ('not null', a.attnotnull::text),
      ('default', (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum)),
      ('identity', a.attidentity::text), ('generated', a.attgenerated::text),
      ('collation', (SELECT co.collname::text FROM pg_collation co WHERE co.oid = a.attcollation)),
      ('acl', a.attacl::text),
      -- (this server keeps a pg_attver=N marker of its own in attoptions;
      -- it differs between any two tables, so it is left out)
      ('options', (SELECT array_agg(o ORDER BY o) FROM unnest(a.attoptions) o
                   WHERE o NOT LIKE 'pg\_attver=%')::text),
      ('comment', col_description(a.attrelid, a.attnum))) AS x(k, v)
  UNION ALL SELECT r.object, 'constraint ' || co.conname, pg_get_constraintdef(co.oid)
    FROM rels r JOIN pg_constraint co ON co.conrelid = r.oid
  UNION ALL SELECT r.object, 'index ' || i.relname, pg_get_indexdef(i.oid)
    FROM rels r JOIN pg_index x ON x.indrelid = r.oid JOIN pg_class i ON i.oid = x.indexrelid
  UNION ALL SELECT r.object, 'trigger ' || t.tgname, pg_get_triggerdef(t.oid)
    FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
  UNION ALL SELECT r.object, 'policy ' || p.polname,
         p.polcmd::text || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' / ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
    FROM rels r JOIN pg_policy p ON p.polrelid = r.oid
  UNION ALL SELECT r.object, 'sequence', format('%s start %s increment %s min %s max %s cache %s cycle %s',
         format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
    FROM rels r JOIN pg_sequence s ON s.seqrelid = r.oid
  UNION ALL SELECT r.object, 'owned by', pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
    FROM rels r JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = r.oid AND d.deptype IN ('a', 'i')
    WHERE d.refclassid = 'pg_class'::regclass
)
SELECT p.object, p.property, coalesce(p.value, '<NULL>') FROM props p
$catalog$;
