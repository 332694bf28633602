/**
 * What calling a SQL function does, for the SQL analyser. A SELECT is a read only when every function it
 * calls is one: PostgreSQL's side-effect-free built-ins are listed here, any other function (a user's, an
 * extension's, a schema-qualified one outside pg_catalog) may write, and a named set of built-ins that
 * change server state, read files or reach other servers rank with administration. SQLite resolves function
 * names against its built-ins and what the application registers (Invoke registers none), so only its
 * dangerous built-ins are listed.
 */
import type { SqlDialect } from "./sql-lexer.ts";

/** A function call's name and qualifying schema as the engine resolves them: bare names lower-cased, quoted ones as written. */
export interface FunctionCall {
  name: string;
  schema?: string;
}

/** What a call does: read (no side effect), write (code Invoke cannot see), admin (a named dangerous built-in); destructive for the worst. */
export interface FunctionRisk {
  kind: "read" | "write" | "admin";
  destructive: boolean;
}

/**
 * PostgreSQL built-ins without side effects, lower-cased. Also the SQL syntax the parser reports as calls
 * (EXISTS, ANY, ARRAY(…), NOT (…), CURRENT_DATE). Volatile functions are here when they change nothing
 * (random, now); setseed, currval, txid_current and pg_sleep are not.
 */
const POSTGRES_READ_FUNCTIONS: ReadonlySet<string> = new Set([
  // Syntax the parser represents as function calls
  "exists", "any", "all", "some", "array", "row", "not", "cast", "extract", "overlay", "position", "substring", "trim",
  "treat", "nullif", "coalesce", "greatest", "least",
  // Mathematics
  "abs", "cbrt", "ceil", "ceiling", "degrees", "div", "exp", "factorial", "floor", "gcd", "lcm", "ln", "log", "log10",
  "min_scale", "mod", "pi", "power", "pow", "radians", "round", "scale", "sign", "sqrt", "trim_scale", "trunc",
  "width_bucket", "acos", "acosd", "asin", "asind", "atan", "atand", "atan2", "atan2d", "cos", "cosd", "cot", "cotd",
  "sin", "sind", "tan", "tand", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "gamma", "lgamma",
  "random", "random_normal", "numeric_inc",
  // Strings and bytes
  "ascii", "bit_length", "btrim", "char_length", "character_length", "chr", "concat", "concat_ws", "convert",
  "convert_from", "convert_to", "decode", "encode", "format", "initcap", "left", "length", "lower", "lpad", "ltrim",
  "md5", "normalize", "octet_length", "parse_ident", "quote_ident", "quote_literal", "quote_nullable", "regexp_count",
  "regexp_instr", "regexp_like", "regexp_match", "regexp_matches", "regexp_replace", "regexp_split_to_array",
  "regexp_split_to_table", "regexp_substr", "repeat", "replace", "reverse", "right", "rpad", "rtrim", "split_part",
  "starts_with", "string_to_array", "string_to_table", "strpos", "substr", "to_ascii", "to_bin", "to_hex", "to_oct",
  "translate", "unistr", "upper", "casefold", "sha224", "sha256", "sha384", "sha512", "crc32", "crc32c", "bit_count",
  "get_bit", "get_byte", "set_bit", "set_byte", "text", "varchar", "bpchar", "similar_to_escape", "like_escape",
  // Date and time
  "age", "clock_timestamp", "current_date", "current_time", "current_timestamp", "localtime", "localtimestamp", "now",
  "statement_timestamp", "timeofday", "transaction_timestamp", "date_add", "date_bin", "date_part", "date_subtract",
  "date_trunc", "isfinite", "justify_days", "justify_hours", "justify_interval", "make_date", "make_interval",
  "make_time", "make_timestamp", "make_timestamptz", "to_timestamp", "timezone", "overlaps",
  // Formatting
  "to_char", "to_date", "to_number",
  // Aggregates
  "array_agg", "avg", "bit_and", "bit_or", "bit_xor", "bool_and", "bool_or", "count", "every", "json_agg",
  "json_agg_strict", "jsonb_agg", "jsonb_agg_strict", "json_object_agg", "json_object_agg_strict",
  "json_object_agg_unique", "json_object_agg_unique_strict", "jsonb_object_agg", "jsonb_object_agg_strict",
  "jsonb_object_agg_unique", "jsonb_object_agg_unique_strict", "json_objectagg", "json_arrayagg", "max", "min",
  "range_agg", "range_intersect_agg", "string_agg", "sum", "xmlagg", "any_value", "corr", "covar_pop", "covar_samp",
  "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2", "regr_slope", "regr_sxx", "regr_sxy",
  "regr_syy", "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "mode", "percentile_cont",
  "percentile_disc", "grouping",
  // Window functions
  "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
  "last_value", "nth_value",
  // JSON
  "to_json", "to_jsonb", "array_to_json", "row_to_json", "json_build_array", "jsonb_build_array", "json_build_object",
  "jsonb_build_object", "json_object", "jsonb_object", "json_array", "json_array_length", "jsonb_array_length",
  "json_each", "jsonb_each", "json_each_text", "jsonb_each_text", "json_extract_path", "jsonb_extract_path",
  "json_extract_path_text", "jsonb_extract_path_text", "json_object_keys", "jsonb_object_keys",
  "json_populate_record", "jsonb_populate_record", "json_populate_recordset", "jsonb_populate_recordset",
  "json_to_record", "jsonb_to_record", "json_to_recordset", "jsonb_to_recordset", "json_strip_nulls",
  "jsonb_strip_nulls", "jsonb_set", "jsonb_set_lax", "jsonb_insert", "jsonb_pretty", "json_typeof", "jsonb_typeof",
  "jsonb_path_exists", "jsonb_path_match", "jsonb_path_query", "jsonb_path_query_array", "jsonb_path_query_first",
  "jsonb_path_exists_tz", "jsonb_path_match_tz", "jsonb_path_query_tz", "jsonb_path_query_array_tz",
  "jsonb_path_query_first_tz", "json_array_elements", "jsonb_array_elements", "json_array_elements_text",
  "jsonb_array_elements_text", "json_scalar", "json_serialize", "json", "json_exists", "json_query", "json_value",
  "jsonb_concat", "jsonb_contains", "jsonb_exists",
  // Arrays and series
  "array_append", "array_cat", "array_dims", "array_fill", "array_length", "array_lower", "array_ndims",
  "array_position", "array_positions", "array_prepend", "array_remove", "array_replace", "array_reverse",
  "array_sample", "array_shuffle", "array_sort", "array_to_string", "array_upper", "cardinality", "trim_array",
  "unnest", "generate_subscripts", "generate_series",
  // TABLESAMPLE methods
  "bernoulli", "system",
  // Conditionals and comparison helpers
  "num_nulls", "num_nonnulls",
  // Ranges
  "upper_inc", "lower_inc", "upper_inf", "lower_inf", "isempty", "range_merge", "int4range", "int8range",
  "numrange", "tsrange", "tstzrange", "daterange", "int4multirange", "int8multirange", "nummultirange",
  "tsmultirange", "tstzmultirange", "datemultirange", "multirange",
  // Text search
  "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery", "ts_rank", "ts_rank_cd",
  "ts_headline", "setweight", "strip", "numnode", "querytree", "array_to_tsvector", "tsvector_to_array",
  // Network addresses
  "host", "hostmask", "masklen", "netmask", "network", "broadcast", "family", "abbrev", "inet_same_family",
  "inet_merge", "set_masklen",
  // UUIDs
  "gen_random_uuid", "uuidv4", "uuidv7", "uuid_extract_timestamp", "uuid_extract_version",
  // Session and type information (read-only)
  "current_database", "current_catalog", "current_schema", "current_schemas", "current_user", "current_role",
  "session_user", "user", "version", "current_setting", "pg_backend_pid", "pg_typeof", "format_type", "to_regclass",
  "to_regtype", "to_regtypemod", "pg_column_size", "pg_size_pretty", "pg_size_bytes", "pg_input_is_valid",
]);

/** PostgreSQL built-ins that end sessions, change configuration, take locks, touch files, sequences or large objects, or reach other servers. */
const POSTGRES_ADMIN_FUNCTIONS: ReadonlySet<string> = new Set([
  "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_read_file",
  "pg_read_binary_file", "pg_stat_file", "set_config", "pg_switch_wal", "pg_switch_xlog", "pg_create_restore_point",
  "pg_promote", "pg_logical_emit_message", "setval", "nextval", "pg_notify", "loread", "lowrite",
  "pg_backup_start", "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "pg_drop_replication_slot",
  "pg_log_backend_memory_contexts", "pg_import_system_collations", "pg_stat_statements_reset", "pg_wal_replay_pause",
  "pg_wal_replay_resume", "pg_sync_replication_slots", "pg_copy_physical_replication_slot",
  "pg_copy_logical_replication_slot", "pg_replication_slot_advance", "pg_clear_relation_stats",
  "pg_restore_relation_stats", "pg_clear_attribute_stats", "pg_restore_attribute_stats",
]);

/** Families of PostgreSQL built-ins ranked with administration by name prefix (every advisory lock and unlock, every dblink call …). */
const POSTGRES_ADMIN_PREFIXES: readonly string[] = [
  "pg_advisory_", "pg_try_advisory_", "dblink", "lo_", "pg_ls_", "pg_stat_reset", "pg_replication_origin_",
  "pg_file_", "pg_create_", "pg_logical_slot_",
];

/** SQLite built-ins that load code, write or read files, or reach into SQLite's internals; the destructive ones are denied outright. */
const SQLITE_ADMIN_FUNCTIONS: ReadonlyMap<string, boolean> = new Map([
  ["load_extension", true],
  ["writefile", true],
  ["edit", true],
  ["fts3_tokenizer", true],
  ["readfile", false],
]);

/** PRAGMAs that only describe the schema: read-only when queried (`PRAGMA table_info(t)`, `pragma_table_info('t')`), never when assigned. */
const SQLITE_READ_PRAGMAS: ReadonlySet<string> = new Set([
  "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
  "collation_list", "function_list", "module_list", "pragma_list",
]);

/** sqlite_* functions that only report the library's version. */
const SQLITE_VERSION_FUNCTIONS: ReadonlySet<string> = new Set(["sqlite_version", "sqlite_source_id"]);

/** SQL syntax the parser's tree shows as a call (EXISTS (…), x = ANY (…), NOT (…), ARRAY (…), ROW (…)): no function is called. */
const SYNTAX_CALLS: ReadonlySet<string> = new Set(["exists", "any", "all", "some", "not", "array", "row"]);

/** Whether a call in the parser's tree is SQL syntax rather than a function, so the analysis does not list it. */
export function isSyntaxCall(call: FunctionCall): boolean {
  return call.schema === undefined && SYNTAX_CALLS.has(call.name);
}

/** The name the analysis reports for a call: lower-cased, schema-qualified unless the schema is PostgreSQL's pg_catalog. */
export function functionFactName(call: FunctionCall): string {
  const name = call.name.toLowerCase();
  const schema = call.schema?.toLowerCase();
  return schema === undefined || schema === "pg_catalog" ? name : `${schema}.${name}`;
}

/** Whether a function of this name (whatever its schema or case) is one of the dialect's dangerous built-ins, and destructive. */
export function deniedFunction(name: string, dialect: SqlDialect): FunctionRisk | undefined {
  const lower = name.toLowerCase();
  if (dialect === "sqlite") {
    const destructive = SQLITE_ADMIN_FUNCTIONS.get(lower);
    if (destructive !== undefined) return { kind: "admin", destructive };
    // A PRAGMA's table-valued function runs the PRAGMA: pragma_optimize analyses tables, as PRAGMA optimize does.
    if (lower.startsWith("pragma_") && !isReadOnlyPragma(lower.slice("pragma_".length))) return { kind: "admin", destructive: true };
    return lower.startsWith("sqlite_") && !SQLITE_VERSION_FUNCTIONS.has(lower) ? { kind: "admin", destructive: false } : undefined;
  }
  if (POSTGRES_ADMIN_FUNCTIONS.has(lower) || POSTGRES_ADMIN_PREFIXES.some((prefix) => lower.startsWith(prefix))) {
    return { kind: "admin", destructive: false };
  }
  return undefined;
}

/**
 * What calling this function does. The dangerous built-ins stay dangerous even when `readFunctions` names
 * them; `readFunctions` (lower-cased, bare or schema-qualified names) declares the operator's own read-only
 * functions. A PostgreSQL name quoted with capitals ("Lower"), or qualified by a schema other than pg_catalog,
 * is not the built-in: the operator may have created a function of that name.
 */
export function functionRisk(call: FunctionCall, dialect: SqlDialect, readFunctions: ReadonlySet<string>): FunctionRisk {
  const denied = deniedFunction(call.name, dialect);
  if (denied !== undefined) return denied;
  if (dialect === "sqlite") return { kind: "read", destructive: false };
  if (readFunctions.has(functionFactName(call))) return { kind: "read", destructive: false };
  const builtin = (call.schema === undefined || call.schema === "pg_catalog") && POSTGRES_READ_FUNCTIONS.has(call.name);
  return { kind: builtin ? "read" : "write", destructive: false };
}

/** Whether a SQLite PRAGMA (lower-cased name) only describes the schema. */
export function isReadOnlyPragma(name: string): boolean {
  return SQLITE_READ_PRAGMAS.has(name);
}

/** Whether a bare name is one of PostgreSQL's side-effect-free built-ins. */
export function isPostgresReadFunction(name: string): boolean {
  return POSTGRES_READ_FUNCTIONS.has(name.toLowerCase());
}
