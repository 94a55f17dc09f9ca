-- What the function or aws_lambda answers, mapped to SQLSTATEs with DETAIL and HINT.
\pset null '(null)'
\x on
-- every error type of docs/protocol.md
SELECT regress.answer('*', '{"success": false, "request_id": "req-1", "error": {"type": "ValidationError", "message": "top_k: too large", "code": "ValidationException", "retryable": false, "field": "top_k"}}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": false, "request_id": "req-2", "error": {"type": "NotFound", "message": "index not found", "code": "NotFoundException", "retryable": false, "field": null}}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": false, "request_id": "req-3", "error": {"type": "AccessDenied", "message": "not allowed", "code": "AccessDeniedException", "retryable": false, "field": null}}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": false, "request_id": "req-4", "error": {"type": "Conflict", "message": "conflict", "code": "ConflictException", "retryable": false, "field": null}}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": false, "request_id": "req-5", "error": {"type": "Throttled", "message": "slow down", "code": "TooManyRequestsException", "retryable": true, "field": null}}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": false, "request_id": "req-6", "error": {"type": "ServiceError", "message": "internal", "code": "InternalServerException", "retryable": true, "field": null}}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": false, "request_id": "req-7", "error": {"type": "Timeout", "message": "read timeout", "code": "ReadTimeoutError", "retryable": true, "field": null}}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": false, "request_id": "req-8", "error": {"type": "InternalError", "message": "bug", "code": "InternalError", "retryable": false, "field": null}}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
-- malformed envelopes
SELECT regress.answer('*', '{"result": []}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": false}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '[1, 2]');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
-- aws_lambda itself fails
SELECT regress.raise('*', 'XX000', 'invoke API failed', 'AWS Lambda client returned ''Unable to connect to endpoint''.');
SELECT * FROM regress.try($$SELECT * FROM s3vl.get_vectors(ARRAY['a'], 'demo')$$);
SELECT regress.raise('*', '42501', 'permission denied for function invoke');
SELECT * FROM regress.try($$SELECT * FROM s3vl.get_vectors(ARRAY['a'], 'demo')$$);
\x off
-- an answer of another protocol version is refused before its result is read (every answer
-- carries protocol_version; one without it, from a function older than 0.4.0, is read as before)
\x on
SELECT regress.answer('*', '{"success": true, "result": {"vectors": [], "next_token": null}, "protocol_version": 2}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": false, "error": {"type": "Brand new", "message": "?"}, "protocol_version": "2.0"}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
SELECT regress.answer('*', '{"success": true, "result": {"vectors": [], "next_token": null}, "protocol_version": 1}');
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo')$$);
\x off
