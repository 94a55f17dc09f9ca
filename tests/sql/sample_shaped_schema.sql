-- A database as the AWS reference sample's install leaves it (same table columns, constraints and
-- function signatures; trivial bodies), to test that sql/install.sql upgrades it in place.
CREATE SCHEMA s3vl;
CREATE TABLE s3vl.config (
  id serial PRIMARY KEY, lambda_arn text NOT NULL, aws_region text NOT NULL DEFAULT 'us-west-2',
  timeout_seconds integer DEFAULT 30, created_at timestamp DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamp DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT valid_timeout CHECK (timeout_seconds > 0 AND timeout_seconds <= 900));
CREATE TABLE s3vl.index_registry (
  id serial PRIMARY KEY, index_name text NOT NULL UNIQUE, index_arn text NOT NULL,
  description text, bucket_name text NOT NULL, region text NOT NULL DEFAULT 'us-west-2',
  account_id text NOT NULL, created_at timestamp DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamp DEFAULT CURRENT_TIMESTAMP, is_active boolean DEFAULT true,
  CONSTRAINT valid_index_name CHECK (index_name ~ '^[a-zA-Z][a-zA-Z0-9_-]*$'),
  CONSTRAINT valid_arn_format CHECK (index_arn ~ '^arn:aws:s3vectors:'));
CREATE FUNCTION s3vl.get_config() RETURNS TABLE (lambda_arn text, aws_region text,
  timeout_seconds integer, created_at timestamp, updated_at timestamp, config_age_hours numeric,
  last_validation_status text) LANGUAGE sql AS $$ SELECT NULL::text, NULL::text, NULL::integer,
  NULL::timestamp, NULL::timestamp, NULL::numeric, NULL::text WHERE false $$;
CREATE FUNCTION s3vl.list_indexes() RETURNS TABLE (index_name text, index_arn text,
  description text, bucket_name text, region text, account_id text, created_at timestamp,
  updated_at timestamp, is_active boolean) LANGUAGE sql AS $$ SELECT index_name, index_arn,
  description, bucket_name, region, account_id, created_at, updated_at, is_active
  FROM s3vl.index_registry $$;
CREATE FUNCTION s3vl.list_vectors(index_arn text DEFAULT NULL, index_name text DEFAULT NULL,
  max_results integer DEFAULT 100, next_token text DEFAULT NULL, return_data boolean DEFAULT false,
  return_metadata boolean DEFAULT true) RETURNS TABLE (vector_id text, vector_data float8[],
  metadata jsonb, response_next_token text, total_count integer)
  LANGUAGE sql AS $$ SELECT NULL::text, NULL::float8[], NULL::jsonb, NULL::text, 0 WHERE false $$;
INSERT INTO s3vl.config (lambda_arn, aws_region, timeout_seconds)
VALUES ('arn:aws:lambda:us-east-1:123456789012:function:s3vl-function', 'us-east-1', 45);
INSERT INTO s3vl.index_registry (index_name, index_arn, description, bucket_name, region,
  account_id)
VALUES ('old', 'arn:aws:s3vectors:us-east-1:123456789012:bucket/s3vl-demo/index/products',
        'from the sample', 's3vl-demo', 'us-east-1', '123456789012');
