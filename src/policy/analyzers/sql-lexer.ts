/**
 * SQL text as the database engines themselves read it: one tokenizer per dialect, written from the engines'
 * own rules (SQLite's tokenize.c and sqlite3_complete, PostgreSQL's scan.l), and the statements each engine
 * splits the text into. The analyser's parser has grammars of its own, which disagree with the engines on
 * comments, quoting and escapes; these tokenizers are the authority on where a statement, a string, a comment
 * or an identifier starts and ends, and the parser only ever sees text rebuilt from their tokens.
 */

/** The SQL dialects Invoke can analyse. */
export type SqlDialect = "postgresql" | "sqlite";

/** One token as the engine reads it; whitespace and comments are no tokens. */
export interface SqlToken {
  /**
   * word: keyword or bare identifier; quoted: quoted identifier; string: string literal of any form
   * (PostgreSQL's E'', U&'', B'', X'', $tag$ … $tag$ included); blob: SQLite's x'…'; number; param: a
   * placeholder ($1, ?, :name …); punct: an operator or punctuation character.
   */
  kind: "word" | "quoted" | "string" | "blob" | "number" | "param" | "punct";
  /** Where the token starts and ends in the text (end exclusive). */
  start: number;
  end: number;
  /** word: lower-cased; quoted: the identifier as written between its quotes; string: the value; otherwise the text. */
  value: string;
  /** A string literal whose value Invoke did not decode exactly (PostgreSQL's backslash escapes). */
  escaped?: boolean;
  /** The quote character of a quoted identifier or string: `"`, `` ` ``, `[`, `'` or `$`. */
  quote?: string;
}

/** One statement as the engine splits the text. */
export interface SqlStatement {
  /** The statement's text, without the `;` that ends it. */
  text: string;
  /** Where the statement starts and ends in the whole text. */
  start: number;
  end: number;
  /** The leading keyword, lower-cased ("select", "with", "pragma" …), after any opening parentheses. */
  verb: string;
  /** The leading bare words, lower-cased, up to six ("create", "temp", "trigger" …). */
  words: string[];
  /** Its tokens. */
  tokens: SqlToken[];
}

/** A text as the engine reads it. */
export interface SqlScan {
  /** The statements the engine would run, in order; empty statements (`;;`, comments only) are no statements. */
  statements: SqlStatement[];
  /**
   * Why the text has no certain reading: the engine would refuse it (an unterminated literal or comment, a
   * character it rejects), or a server setting changes how it reads.
   */
  problem?: string;
}

/** Reads a text with the dialect's engine rules. Linear in the text's length; never throws. */
export function scanSql(text: string, dialect: SqlDialect): SqlScan {
  const { tokens, problem } = dialect === "sqlite" ? tokenizeSqlite(text) : tokenizePostgresEitherWay(text);
  const statements = dialect === "sqlite" ? splitSqlite(text, tokens) : splitAtSemicolons(text, tokens);
  return problem === undefined ? { statements } : { statements, problem };
}

/**
 * The statements the engine would run for a text, each with its leading keyword and words ("create",
 * ["create", "temp", "trigger", …]): what sqlite3_exec (or
 * Bun's `db.run`) executes one after another, or what PostgreSQL's simple query protocol parses. A text
 * with an unterminated literal still yields the statement holding it (the engine fails on that statement).
 * `splitStatements(text, "sqlite").length` is the number of statements SQLite would prepare.
 */
export function splitStatements(text: string, dialect: SqlDialect): { text: string; verb: string; words: string[] }[] {
  return scanSql(text, dialect).statements.map(({ text, verb, words }) => ({ text, verb, words }));
}

// ---- Character classes ----

const isDigit = (c: number) => c >= 48 && c <= 57;
const isHexDigit = (c: number) => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Both engines read bytes; every byte of a non-ASCII character is an identifier character, so every non-ASCII code unit is. */
const isIdentStart = (c: number) => isLetter(c) || c === 95 || c >= 0x80;

/** SQLite's IdChar and PostgreSQL's ident_cont: letters, digits, `_`, `$` and non-ASCII. */
const isIdentChar = (c: number) => isIdentStart(c) || isDigit(c) || c === 36;

/** PostgreSQL's `space`: [ \t\n\r\f\v]. */
const isPostgresSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

/** SQLite's CC_SPACE: space, \t, \n, \f, \r (not \v). */
const isSqliteSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 12 || c === 13;

/** PostgreSQL's `self` and `op_chars`: the characters its grammar has tokens for. */
const POSTGRES_PUNCT = new Set(",()[].;:+-*/%^<>=~!@#&|`?");

/** SQLite's one-character tokens (its multi-character operators are made of these). */
const SQLITE_PUNCT = new Set(",()+-*/%<>=|&~.;");

// ---- SQLite (tokenize.c: sqlite3GetToken) ----

function tokenizeSqlite(text: string): { tokens: SqlToken[]; problem?: string } {
  const tokens: SqlToken[] = [];
  let problem: string | undefined;
  const fail = (message: string, at: number) => (problem ??= `${message} at character ${at + 1}`);
  let i = 0;
  while (i < text.length) {
    const start = i;
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (isSqliteSpace(c) || c === 0xfeff) {
      // U+FEFF is the byte-order mark, which SQLite skips where a token would start (inside an identifier it is part of it).
      i++;
    } else if (c === 45 && next === 45) {
      // `--` runs to the next \n only: SQLite does not end it at \r.
      const end = text.indexOf("\n", i + 2);
      i = end < 0 ? text.length : end;
    } else if (c === 47 && next === 42 && i + 2 < text.length) {
      // `/*` does not nest; unterminated, it runs to the end of the text. `/*` as the last two characters is a slash.
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (c === 39 || c === 34 || c === 96) {
      const quote = text[i]!;
      const { end, value, closed } = readDoubled(text, i, quote);
      if (!closed) fail(`unterminated ${quote === "'" ? "string" : "quoted identifier"}`, start);
      tokens.push({ kind: quote === "'" ? "string" : "quoted", start, end, value, quote });
      i = end;
    } else if (c === 91) {
      // [identifier] ends at the first `]`: no escape.
      const close = text.indexOf("]", i + 1);
      if (close < 0) fail("unterminated [identifier]", start);
      const end = close < 0 ? text.length : close + 1;
      tokens.push({ kind: "quoted", start, end, value: text.slice(i + 1, close < 0 ? text.length : close), quote: "[" });
      i = end;
    } else if ((c === 120 || c === 88) && next === 39) {
      // x'…' ends at the next quote whatever lies between; only an even number of hex digits is a blob.
      let j = i + 2;
      while (j < text.length && isHexDigit(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 39 || (j - i) % 2 !== 0) {
        fail("malformed blob literal", start);
        while (j < text.length && text.charCodeAt(j) !== 39) j++;
      }
      const end = Math.min(j + 1, text.length);
      tokens.push({ kind: "blob", start, end, value: text.slice(i + 2, j) });
      i = end;
    } else if (isDigit(c) || (c === 46 && isDigit(next))) {
      i = readSqliteNumber(text, i);
      tokens.push({ kind: "number", start, end: i, value: text.slice(start, i) });
      // Identifier characters glued to a number make one illegal token.
      if (i < text.length && isIdentChar(text.charCodeAt(i))) {
        while (i < text.length && isIdentChar(text.charCodeAt(i))) i++;
        tokens[tokens.length - 1]!.end = i;
        fail("malformed number", start);
      }
    } else if (c === 63) {
      // ?NNN
      i++;
      while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      tokens.push({ kind: "param", start, end: i, value: text.slice(start, i) });
    } else if (c === 36 || c === 64 || c === 35 || c === 58) {
      // $name, @name, #name, :name, with Tcl's `::` and a parenthesised suffix that runs to `)` or whitespace.
      i = readSqliteVariable(text, i, fail);
      tokens.push({ kind: "param", start, end: i, value: text.slice(start, i) });
    } else if (isIdentStart(c)) {
      i++;
      while (i < text.length && isIdentChar(text.charCodeAt(i))) i++;
      tokens.push({ kind: "word", start, end: i, value: text.slice(start, i).toLowerCase() });
    } else if (c === 33 && next === 61) {
      i += 2;
      tokens.push({ kind: "punct", start, end: i, value: "!=" });
    } else if (SQLITE_PUNCT.has(text[i]!)) {
      i++;
      tokens.push({ kind: "punct", start, end: i, value: text[start]! });
    } else {
      // NUL ends SQLite's input; `!`, `\`, `^`, `{`, `}`, `]`, \v and control characters are illegal tokens.
      fail(c === 0 ? "a NUL character (SQLite ignores everything after it)" : `a character SQLite rejects (${JSON.stringify(text[i])})`, start);
      i++;
      tokens.push({ kind: "punct", start, end: i, value: text[start]! });
    }
  }
  return problem === undefined ? { tokens } : { tokens, problem };
}

/** A literal closed by `quote`, where a doubled quote stands for one. */
function readDoubled(text: string, start: number, quote: string): { end: number; value: string; closed: boolean } {
  let value = "";
  let i = start + 1;
  while (i < text.length) {
    const close = text.indexOf(quote, i);
    if (close < 0) break;
    value += text.slice(i, close);
    if (text[close + 1] !== quote) return { end: close + 1, value, closed: true };
    value += quote;
    i = close + 2;
  }
  return { end: text.length, value: value + text.slice(i), closed: false };
}

function readSqliteNumber(text: string, start: number): number {
  let i = start;
  const digits = (test: (c: number) => boolean) => {
    // `_` separates digits (SQLite 3.46+).
    while (i < text.length && (test(text.charCodeAt(i)) || text[i] === "_")) i++;
  };
  if (text[i] === "0" && (text[i + 1] === "x" || text[i + 1] === "X") && isHexDigit(text.charCodeAt(i + 2))) {
    i += 2;
    digits(isHexDigit);
    return i;
  }
  digits(isDigit);
  if (text[i] === ".") {
    i++;
    digits(isDigit);
  }
  const sign = text[i + 1] === "+" || text[i + 1] === "-";
  if ((text[i] === "e" || text[i] === "E") && isDigit(text.charCodeAt(i + (sign ? 2 : 1)))) {
    i += sign ? 2 : 1;
    digits(isDigit);
  }
  return i;
}

function readSqliteVariable(text: string, start: number, fail: (message: string, at: number) => void): number {
  let i = start + 1;
  let named = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isIdentChar(c)) {
      named++;
      i++;
    } else if (c === 40 && named > 0) {
      do i++;
      while (i < text.length && !isSqliteSpace(text.charCodeAt(i)) && text[i] !== ")");
      if (text[i] === ")") i++;
      else fail("malformed variable", start);
      break;
    } else if (c === 58 && text[i + 1] === ":") {
      i += 2;
    } else {
      break;
    }
  }
  if (named === 0) fail(`a lone ${JSON.stringify(text[start])} (SQLite rejects it)`, start);
  return i;
}

/**
 * SQLite's statement boundaries: a `;` ends a statement, except inside CREATE [TEMP] TRIGGER … BEGIN … END,
 * whose body holds `;`-terminated statements and ends at `; END`. This is sqlite3_complete's state machine,
 * which agrees with the parser on every text the parser accepts.
 */
function splitSqlite(text: string, tokens: SqlToken[]): SqlStatement[] {
  const SEMI = 0, OTHER = 2, EXPLAIN = 3, CREATE = 4, TEMP = 5, TRIGGER = 6, END = 7;
  // Rows: states INVALID, START, NORMAL, EXPLAIN, CREATE, TRIGGER, SEMI, END; columns: the token classes above (WS unused).
  const transitions = [
    [1, 0, 2, 3, 4, 2, 2, 2],
    [1, 1, 2, 3, 4, 2, 2, 2],
    [1, 2, 2, 2, 2, 2, 2, 2],
    [1, 3, 3, 2, 4, 2, 2, 2],
    [1, 4, 2, 2, 2, 4, 5, 2],
    [6, 5, 5, 5, 5, 5, 5, 5],
    [6, 6, 5, 5, 5, 5, 5, 7],
    [1, 7, 5, 5, 5, 5, 5, 5],
  ];
  const classOf = (token: SqlToken): number => {
    if (token.kind === "punct" && token.value === ";") return SEMI;
    if (token.kind !== "word") return OTHER;
    switch (token.value) {
      case "explain":
        return EXPLAIN;
      case "create":
        return CREATE;
      case "temp":
      case "temporary":
        return TEMP;
      case "trigger":
        return TRIGGER;
      case "end":
        return END;
      default:
        return OTHER;
    }
  };
  const statements: SqlStatement[] = [];
  let state = 1;
  let current: SqlToken[] = [];
  for (const token of tokens) {
    const tokenClass = classOf(token);
    state = transitions[state]![tokenClass]!;
    if (tokenClass === SEMI && state === 1) {
      if (current.length > 0) statements.push(statementOf(text, current));
      current = [];
    } else {
      current.push(token);
    }
  }
  if (current.length > 0) statements.push(statementOf(text, current));
  return statements;
}

// ---- PostgreSQL (scan.l) ----

/**
 * PostgreSQL's tokens with standard_conforming_strings on (the default since 9.1: a backslash in '…' is a
 * backslash). A server configured with it off reads `\'` in '…' as an escaped quote; a text whose tokens
 * differ between the two settings is refused, since Invoke cannot know the server's setting.
 */
function tokenizePostgresEitherWay(text: string): { tokens: SqlToken[]; problem?: string } {
  const standard = tokenizePostgres(text, true);
  const backslashed = standard.tokens.some(
    (token) => token.kind === "string" && token.quote === "'" && !token.escaped && text.slice(token.start, token.end).includes("\\"),
  );
  if (!backslashed) return standard;
  const escaping = tokenizePostgres(text, false).tokens;
  const same =
    escaping.length === standard.tokens.length && escaping.every((token, i) => token.start === standard.tokens[i]!.start && token.end === standard.tokens[i]!.end);
  if (same || standard.problem !== undefined) return standard;
  return { tokens: standard.tokens, problem: "a backslash before a quote reads differently when standard_conforming_strings is off" };
}

function tokenizePostgres(text: string, standardStrings: boolean): { tokens: SqlToken[]; problem?: string } {
  const tokens: SqlToken[] = [];
  let problem: string | undefined;
  const fail = (message: string, at: number) => (problem ??= `${message} at character ${at + 1}`);
  let i = 0;
  while (i < text.length) {
    const start = i;
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (isPostgresSpace(c)) {
      i++;
    } else if (c === 45 && next === 45) {
      // `--` ends at \n or \r. Inside an operator too: scan.l cuts operators at `--` and `/*`.
      i += 2;
      while (i < text.length && text[i] !== "\n" && text[i] !== "\r") i++;
    } else if (c === 47 && next === 42) {
      const end = skipNestedComment(text, i);
      if (end < 0) fail("unterminated /* comment", start);
      i = end < 0 ? text.length : end;
    } else if (c === 39) {
      i = readPostgresString(text, i, standardStrings ? "standard" : "escape", tokens, fail);
    } else if ((c === 101 || c === 69) && next === 39) {
      i = readPostgresString(text, i, "escape", tokens, fail);
    } else if ((c === 98 || c === 66 || c === 120 || c === 88) && next === 39) {
      i = readPostgresString(text, i, "bits", tokens, fail);
    } else if ((c === 110 || c === 78) && next === 39) {
      i = readPostgresString(text, i, standardStrings ? "standard" : "escape", tokens, fail);
    } else if ((c === 117 || c === 85) && next === 38 && text[i + 2] === "'") {
      i = readPostgresString(text, i, "standard", tokens, fail);
    } else if ((c === 117 || c === 85) && next === 38 && text[i + 2] === '"') {
      i = readPostgresIdentifier(text, i, i + 2, tokens, fail);
    } else if (c === 34) {
      i = readPostgresIdentifier(text, i, i, tokens, fail);
    } else if (c === 36) {
      i = readPostgresDollar(text, i, tokens, fail);
    } else if (isDigit(c) || (c === 46 && isDigit(next))) {
      i = readPostgresNumber(text, i, tokens, fail);
    } else if (isIdentStart(c)) {
      // An identifier runs on through digits and `$`: `a$$b` is one identifier, never a dollar quote.
      i++;
      while (i < text.length && isIdentChar(text.charCodeAt(i))) i++;
      tokens.push({ kind: "word", start, end: i, value: text.slice(start, i).toLowerCase() });
    } else if (POSTGRES_PUNCT.has(text[i]!)) {
      i++;
      tokens.push({ kind: "punct", start, end: i, value: text[start]! });
    } else {
      // scan.l's {other}: a character no rule of the grammar accepts (`\`, `{`, `}`, control characters, NUL).
      fail(`a character PostgreSQL rejects (${JSON.stringify(text[i])})`, start);
      i++;
      tokens.push({ kind: "punct", start, end: i, value: text[start]! });
    }
  }
  return problem === undefined ? { tokens } : { tokens, problem };
}

/** The end of a PostgreSQL block comment starting at `start` (they nest), or -1 when it never ends. */
function skipNestedComment(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    if (text[i] === "/" && text[i + 1] === "*") {
      depth++;
      i += 2;
    } else if (text[i] === "*" && text[i + 1] === "/") {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return -1;
}

/**
 * A string in one of scan.l's quoted states: standard ('' only; `\` is literal with standard_conforming_strings
 * on, the default since 9.1), escape (E'': a backslash escapes the next character), bits (B'', X'': no escape
 * at all). After the closing quote, whitespace holding a newline (and `--` comments) followed by a quote
 * continues the same string in the same state.
 */
function readPostgresString(
  text: string,
  start: number,
  mode: "standard" | "escape" | "bits",
  tokens: SqlToken[],
  fail: (message: string, at: number) => void,
): number {
  let i = text.indexOf("'", start) + 1;
  let value = "";
  for (;;) {
    let closed = false;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === "\\" && mode === "escape") {
        value += text[i + 1] ?? "";
        i += 2;
      } else if (ch === "'") {
        if (mode !== "bits" && text[i + 1] === "'") {
          value += "'";
          i += 2;
        } else {
          i++;
          closed = true;
          break;
        }
      } else {
        value += ch;
        i++;
      }
    }
    if (!closed) {
      fail("unterminated quoted string", start);
      tokens.push({ kind: "string", start, end: text.length, value, quote: "'", escaped: mode === "escape" });
      return text.length;
    }
    const continued = continuation(text, i);
    if (continued < 0) break;
    i = continued;
  }
  tokens.push({ kind: "string", start, end: i, value, quote: "'", ...(mode === "escape" ? { escaped: true } : {}) });
  return i;
}

/** Where a string continues after its closing quote at `from - 1` (just past the next quote), or -1. */
function continuation(text: string, from: number): number {
  // scan.l's {quotecontinue}: non-newline whitespace or `--` comments, a newline, then whitespace or `--` comments that end in a newline.
  let i = from;
  let newline = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "\n" || ch === "\r") {
      newline = true;
      i++;
    } else if (ch === " " || ch === "\t" || ch === "\f" || ch === "\v") {
      i++;
    } else if (ch === "-" && text[i + 1] === "-") {
      while (i < text.length && text[i] !== "\n" && text[i] !== "\r") i++;
    } else {
      break;
    }
  }
  return newline && text[i] === "'" ? i + 1 : -1;
}

function readPostgresIdentifier(text: string, start: number, quoteAt: number, tokens: SqlToken[], fail: (message: string, at: number) => void): number {
  const { end, value, closed } = readDoubled(text, quoteAt, '"');
  if (!closed) fail("unterminated quoted identifier", start);
  else if (value === "") fail("zero-length delimited identifier", start);
  tokens.push({ kind: "quoted", start, end, value, quote: '"' });
  return end;
}

/** `$1`, `$tag$ … $tag$` (ends at the first identical delimiter; nothing inside is special), or a lone `$`. */
function readPostgresDollar(text: string, start: number, tokens: SqlToken[], fail: (message: string, at: number) => void): number {
  let i = start + 1;
  if (isDigit(text.charCodeAt(i))) {
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    if (i < text.length && isIdentStart(text.charCodeAt(i))) fail("trailing junk after parameter", start);
    tokens.push({ kind: "param", start, end: i, value: text.slice(start, i) });
    return i;
  }
  if (isIdentStart(text.charCodeAt(i)) && text.charCodeAt(i) !== 36) {
    i++;
    // A tag continues like an identifier but without `$`.
    while (i < text.length && isIdentChar(text.charCodeAt(i)) && text[i] !== "$") i++;
  }
  if (text[i] !== "$") {
    // {dolqfailed}: the `$` alone is a token and the rest is read again.
    tokens.push({ kind: "punct", start, end: start + 1, value: "$" });
    return start + 1;
  }
  const delimiter = text.slice(start, i + 1);
  const close = text.indexOf(delimiter, i + 1);
  if (close < 0) {
    fail("unterminated dollar-quoted string", start);
    tokens.push({ kind: "string", start, end: text.length, value: text.slice(i + 1), quote: "$" });
    return text.length;
  }
  tokens.push({ kind: "string", start, end: close + delimiter.length, value: text.slice(i + 1, close), quote: "$" });
  return close + delimiter.length;
}

/** scan.l's integers (decimal, 0x, 0o, 0b, with `_` between digits), numerics and reals; `1..2` is 1, `..`, 2. */
const POSTGRES_NUMBER = /^(?:0[xX](?:_?[0-9A-Fa-f])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*(?:\.(?!\.)(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][-+]?\d(?:_?\d)*)?)/;

function readPostgresNumber(text: string, start: number, tokens: SqlToken[], fail: (message: string, at: number) => void): number {
  const match = POSTGRES_NUMBER.exec(text.slice(start, start + 256));
  const end = start + (match?.[0].length ?? 1);
  tokens.push({ kind: "number", start, end, value: text.slice(start, end) });
  // PostgreSQL 15+ rejects identifier characters glued to a number ("trailing junk"); older servers read them as an alias.
  if (end < text.length && isIdentStart(text.charCodeAt(end))) fail("trailing junk after numeric literal", start);
  return end;
}

/** PostgreSQL's statement boundaries: every `;` outside literals and comments. */
function splitAtSemicolons(text: string, tokens: SqlToken[]): SqlStatement[] {
  // The server also accepts `;` inside CREATE FUNCTION … BEGIN ATOMIC … END; splitting there too only makes more statements, never fewer.
  const statements: SqlStatement[] = [];
  let current: SqlToken[] = [];
  for (const token of tokens) {
    if (token.kind === "punct" && token.value === ";") {
      if (current.length > 0) statements.push(statementOf(text, current));
      current = [];
    } else {
      current.push(token);
    }
  }
  if (current.length > 0) statements.push(statementOf(text, current));
  return statements;
}

function statementOf(text: string, tokens: SqlToken[]): SqlStatement {
  const start = tokens[0]!.start;
  const end = tokens[tokens.length - 1]!.end;
  let first = 0;
  // `(SELECT …)` is a SELECT.
  while (first < tokens.length - 1 && tokens[first]!.kind === "punct" && tokens[first]!.value === "(") first++;
  const words: string[] = [];
  for (let i = first; i < tokens.length && words.length < 6 && tokens[i]!.kind === "word"; i++) words.push(tokens[i]!.value);
  const lead = tokens[first]!;
  const verb = lead.kind === "word" ? lead.value : text.slice(lead.start, lead.end);
  return { text: text.slice(start, end), start, end, verb, words, tokens };
}
