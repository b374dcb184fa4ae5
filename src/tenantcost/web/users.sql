-- Dashboard users' API tokens with their expiry and last use (migration 0013).
-- Loaded with queries("tenantcost.web", "users.sql").

-- name: user_insert
INSERT INTO dashboard_users (name, role, password_hash, token_hash, token_expires_at)
VALUES (%(name)s, %(role)s, %(password_hash)s, %(token_hash)s,
        CASE WHEN %(token_hash)s::text IS NULL THEN NULL
             ELSE now() + make_interval(secs => %(expires_seconds)s) END)
RETURNING id;

-- name: user_set_token
UPDATE dashboard_users
   SET token_hash = %(token_hash)s,
       token_expires_at = CASE WHEN %(token_hash)s::text IS NULL THEN NULL
                               ELSE now() + make_interval(secs => %(expires_seconds)s) END,
       token_last_used_at = NULL
 WHERE name = %(name)s
RETURNING id, token_expires_at;

-- name: user_by_token
-- The token's user while the token is valid; notes its use at most once a minute, so a
-- busy API client does not write a row version per request.
WITH found AS (
    SELECT id, name, role, token_last_used_at
      FROM dashboard_users
     WHERE token_hash = %(token_hash)s AND token_expires_at > now()
), touched AS (
    UPDATE dashboard_users u SET token_last_used_at = now()
      FROM found f
     WHERE u.id = f.id
       AND (f.token_last_used_at IS NULL OR f.token_last_used_at < now() - interval '1 minute')
)
SELECT id, name, role FROM found;

-- name: users_list
SELECT u.name, u.role, u.password_hash IS NOT NULL AS has_password,
       u.token_hash IS NOT NULL AS has_token, u.token_expires_at, u.token_last_used_at,
       u.created_at, u.created_by, u.last_login_at,
       (SELECT count(*) FROM dashboard_sessions s
         WHERE s.user_id = u.id AND s.expires_at > now()) AS active_sessions
  FROM dashboard_users u ORDER BY u.name;
