"""The catalog SQL and limits the PostgreSQL sink's modules share."""

import re

MAX_IDENTIFIER_BYTES = 63
# format_type's numeric: unconstrained, or (precision, scale); the scale is negative or above
# the precision only since PostgreSQL 15.
NUMERIC = re.compile(r"^numeric(?:\((\d+),(-?\d+)\))?$")
NUMERIC_MAX_PRECISION = 1000
GRANTEE = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END"
GRANT_OPTION = "CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END"
# The statements that give the new table ($2) the privileges and comments of the live one
# ($1), written by the server so that every name and literal is quoted by its own rules.
# When either table has an ACL, the new one's (from default privileges, if any) is revoked
# and the live one's granted entry by entry; column privileges and comments follow for the
# columns both tables have. Grantors become the table's owner.
CARRY_OVER_SQL = f"""
WITH live AS (SELECT oid, relowner, relacl FROM pg_class WHERE oid = to_regclass($1)),
fresh AS (SELECT oid, relowner, relacl FROM pg_class WHERE oid = to_regclass($2)),
pairs AS (
    SELECT f.oid AS fresh_oid, la.attname, la.attacl, la.attnum, l.oid AS live_oid
    FROM live l CROSS JOIN fresh f
    JOIN pg_attribute la ON la.attrelid = l.oid AND la.attnum > 0 AND NOT la.attisdropped
    JOIN pg_attribute fa ON fa.attrelid = f.oid AND fa.attname = la.attname
        AND NOT fa.attisdropped
)
SELECT statement FROM (
    SELECT 1 AS step, format('REVOKE ALL ON TABLE %s FROM %s', f.oid::regclass, {GRANTEE})
        AS statement
    FROM live l CROSS JOIN fresh f
    CROSS JOIN LATERAL aclexplode(coalesce(f.relacl, acldefault('r', f.relowner))) a
    WHERE l.relacl IS NOT NULL OR f.relacl IS NOT NULL
    GROUP BY f.oid, a.grantee
    UNION ALL
    SELECT 2, format('GRANT %s ON TABLE %s TO %s%s', string_agg(a.privilege_type, ', '),
        f.oid::regclass, {GRANTEE}, {GRANT_OPTION})
    FROM live l CROSS JOIN fresh f
    CROSS JOIN LATERAL aclexplode(coalesce(l.relacl, acldefault('r', l.relowner))) a
    WHERE l.relacl IS NOT NULL OR f.relacl IS NOT NULL
    GROUP BY f.oid, a.grantee, a.is_grantable
    UNION ALL
    SELECT 3, format('GRANT %s (%I) ON TABLE %s TO %s%s', string_agg(a.privilege_type, ', '),
        p.attname, p.fresh_oid::regclass, {GRANTEE}, {GRANT_OPTION})
    FROM pairs p CROSS JOIN LATERAL aclexplode(p.attacl) a
    GROUP BY p.fresh_oid, p.attname, a.grantee, a.is_grantable
    UNION ALL
    SELECT 4, format('COMMENT ON TABLE %s IS %L', f.oid::regclass, d.description)
    FROM live l CROSS JOIN fresh f
    JOIN pg_description d ON d.objoid = l.oid AND d.classoid = 'pg_class'::regclass
        AND d.objsubid = 0
    UNION ALL
    SELECT 5, format('COMMENT ON COLUMN %s.%I IS %L', p.fresh_oid::regclass, p.attname,
        d.description)
    FROM pairs p JOIN pg_description d ON d.objoid = p.live_oid
        AND d.classoid = 'pg_class'::regclass AND d.objsubid = p.attnum
) AS carried ORDER BY step, statement
"""
OWNER_SQL = (
    "SELECT l.relowner <> f.relowner, quote_ident(pg_get_userbyid(l.relowner)) "
    "FROM pg_class l, pg_class f WHERE l.oid = to_regclass($1) AND f.oid = to_regclass($2)"
)
# The comment on every enum sluice creates: an enum without it is someone else's.
OURS = "created by sluice for columns read from a source enum"
ENUM_SQL = (
    "SELECT t.typtype = 'e', format_type(t.oid, NULL), (SELECT coalesce(json_agg(e.enumlabel "
    "ORDER BY e.enumsortorder), '[]')::text FROM pg_enum e WHERE e.enumtypid = t.oid), "
    "coalesce(obj_description(t.oid, 'pg_type') = $3, false) "
    "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = $1 AND t.typname = $2"
)
CREATE_ENUM_SQL = (
    "SELECT format('CREATE TYPE %I.%I AS ENUM (%s)', $1::text, $2::text, (SELECT "
    "string_agg(quote_literal(u.label), ', ' ORDER BY u.n) FROM "
    "json_array_elements_text($3::json) WITH ORDINALITY AS u(label, n))), "
    "format('COMMENT ON TYPE %I.%I IS %L', $1::text, $2::text, $4::text)"
)
# ENUM_SQL's columns for a type given by its spelling ($1): a live column's type.
ENUM_OF_TYPE_SQL = (
    "SELECT t.typtype = 'e', format_type(t.oid, NULL), (SELECT coalesce(json_agg(e.enumlabel "
    "ORDER BY e.enumsortorder), '[]')::text FROM pg_enum e WHERE e.enumtypid = t.oid), "
    "coalesce(obj_description(t.oid, 'pg_type') = $2, false) "
    "FROM pg_type t WHERE t.oid = to_regtype($1)"
)
RELATION_SQL = (
    "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relname = $2"
)
# A type that keeps a table of its name from being created: not a relation's row type, and
# not an array type (PostgreSQL renames one of those out of a new table's way itself).
BLOCKING_TYPE_SQL = (
    "SELECT t.typtype = 'e', format_type(t.oid, NULL), "
    "coalesce(obj_description(t.oid, 'pg_type') = $3, false) "
    "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = $1 AND t.typname = $2 AND t.typrelid = 0 "
    "AND NOT EXISTS (SELECT 1 FROM pg_type a WHERE a.typarray = t.oid)"
)
# Everything that depends on a type ($1) or on its array type: columns (of tables, views,
# composite types), functions, domains, ... Each with whether it is a column of a table sluice
# loads ({loaded}, over the table c and its schema n).
DEPENDENTS_SQL = """
SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
    coalesce(c.relkind IN ('r', 'p') AND (starts_with(c.relname, '__sluice_') OR {loaded}),
        false)
FROM pg_type t
JOIN pg_depend d ON d.refclassid = 'pg_type'::regclass AND d.refobjid IN (t.oid, t.typarray)
LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.oid = to_regtype($1)
    AND NOT (d.classid = 'pg_type'::regclass AND d.objid = t.typarray)
"""
# ALTER COLUMN TYPE refused for the objects using the column (feature_not_supported: a view,
# rule, policy or trigger; dependent_objects_still_exist).
DEPENDENT_SQLSTATES = frozenset({"0A000", "2BP01"})
# The objects that use column $2 of table $1 and that PostgreSQL does not rebuild itself on
# ALTER COLUMN TYPE (indexes and constraints it does): a view or rule named by its relation.
COLUMN_DEPENDENTS_SQL = """
SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass THEN
    CASE v.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' ELSE 'rule on ' END
        || v.oid::regclass::text
    ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END
FROM pg_depend d
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
LEFT JOIN pg_class v ON v.oid = r.ev_class
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass($1)
    AND a.attname = $2 AND d.deptype = 'n'
    AND NOT (d.classid = 'pg_rewrite'::regclass AND r.ev_class = d.refobjid)
ORDER BY 1
"""
SCHEMA_SQL = "SELECT 1 FROM pg_namespace WHERE nspname = $1"
NAME_TAKEN_SQL = (
    "SELECT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = $1 AND t.typname = $2) OR EXISTS (SELECT 1 FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2)"
)
