-- Appended to the extension script by sql/build-extension.sh (extension installs only).
--
-- pg_dump keeps the rows of every table that holds user state: every permanent (logged) table of
-- the schema, and the sequences those tables own. UNLOGGED tables are caches (PostgreSQL empties
-- them after a crash anyway) and are left out. The list comes from the catalog, so a table added
-- by a later version is kept without anyone remembering to list it.
DO $config_dump$
DECLARE
  rel regclass;
BEGIN
  FOR rel IN
    SELECT c.oid::regclass FROM pg_catalog.pg_class c
    WHERE c.relnamespace = 's3vl'::regnamespace AND c.relkind = 'r' AND c.relpersistence = 'p'
    UNION ALL
    SELECT s.oid::regclass FROM pg_catalog.pg_class s
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass
      AND d.objid = s.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.deptype IN ('a', 'i')
    JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
    WHERE s.relkind = 'S' AND s.relnamespace = 's3vl'::regnamespace
      AND t.relkind = 'r' AND t.relpersistence = 'p'
  LOOP
    PERFORM pg_catalog.pg_extension_config_dump(rel, '');
  END LOOP;
END
$config_dump$;

-- s3vl.cache_limits has one row, inserted by the script. A restore runs CREATE EXTENSION (which
-- inserts it) and then copies the dumped row: that copy updates the row instead of failing on
-- the key. The script itself (an upgrade re-inserting the default) is left alone.
CREATE OR REPLACE FUNCTION s3vl._cache_limits_restore()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_catalog.current_setting('s3vl.extension_script', true) IS DISTINCT FROM 'on' THEN
    UPDATE s3vl.cache_limits l SET max_entries = NEW.max_entries, max_bytes = NEW.max_bytes
      WHERE l.id = NEW.id;
    IF FOUND THEN
      RETURN NULL;
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION s3vl._cache_limits_restore() FROM PUBLIC;
DO $restore_trigger$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgname = 'cache_limits_restore'
                 AND tgrelid = 's3vl.cache_limits'::regclass) THEN
    CREATE TRIGGER cache_limits_restore BEFORE INSERT ON s3vl.cache_limits
      FOR EACH ROW EXECUTE FUNCTION s3vl._cache_limits_restore();
  END IF;
END
$restore_trigger$;
