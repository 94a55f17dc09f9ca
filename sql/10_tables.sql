-- Configuration (one row) and the index registry. Created if missing; columns added by later
-- versions are added with ADD COLUMN IF NOT EXISTS so an upgrade keeps every existing row.

CREATE TABLE IF NOT EXISTS s3vl.config (
  id serial PRIMARY KEY,
  lambda_arn text NOT NULL,
  aws_region text NOT NULL,
  timeout_seconds integer NOT NULL DEFAULT 30,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE s3vl.config ADD COLUMN IF NOT EXISTS last_validated_at timestamptz;
ALTER TABLE s3vl.config ADD COLUMN IF NOT EXISTS last_validation_status text;
-- Attempts per Lambda invocation when Lambda throttles (429) or fails (5xx): s3vl.set_invoke_retries.
ALTER TABLE s3vl.config ADD COLUMN IF NOT EXISTS max_attempts integer NOT NULL DEFAULT 10;
COMMENT ON TABLE s3vl.config IS
  's3vl: the Lambda function to call (one row, written by s3vl.configure)';

CREATE TABLE IF NOT EXISTS s3vl.index_registry (
  id serial PRIMARY KEY,
  index_name text NOT NULL UNIQUE,
  index_arn text NOT NULL,
  description text,
  bucket_name text NOT NULL,
  region text NOT NULL,
  account_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  is_active boolean NOT NULL DEFAULT true
);
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS partition text NOT NULL DEFAULT 'aws';
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS s3_index_name text;
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS dimension integer;
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS distance_metric text;
CREATE INDEX IF NOT EXISTS index_registry_arn_idx ON s3vl.index_registry (index_arn);
COMMENT ON TABLE s3vl.index_registry IS
  's3vl: friendly index names mapped to S3 Vectors index ARNs, with dimension and metric';

-- Keeps updated_at honest whatever path changes a row.
CREATE OR REPLACE FUNCTION s3vl._touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

DO $triggers$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'config_touch_updated_at'
                 AND tgrelid = 's3vl.config'::regclass) THEN
    CREATE TRIGGER config_touch_updated_at BEFORE UPDATE ON s3vl.config
      FOR EACH ROW EXECUTE FUNCTION s3vl._touch_updated_at();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'index_registry_touch_updated_at'
                 AND tgrelid = 's3vl.index_registry'::regclass) THEN
    CREATE TRIGGER index_registry_touch_updated_at BEFORE UPDATE ON s3vl.index_registry
      FOR EACH ROW EXECUTE FUNCTION s3vl._touch_updated_at();
  END IF;
END
$triggers$;
