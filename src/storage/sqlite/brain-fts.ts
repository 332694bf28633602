/**
 * Turns what a user typed into a safe FTS5 query: words become quoted terms (ANDed), "double-quoted
 * text" a phrase, a trailing `*` a prefix. FTS5 operators (NEAR, OR, NOT, parentheses, column
 * filters) in the input are plain words, so user text never reaches FTS5 syntax unescaped.
 */

const MAX_TERMS = 32;
const MAX_INPUT = 1000;

const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;

/** Splits text into index tokens the way the unicode61 tokenizer does: runs of letters and digits. */
function words(text: string): string[] {
  return text.match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** The FTS5 query for `input`, or undefined when it contains nothing searchable. */
export function toFtsQuery(input: string): string | undefined {
  const text = input.slice(0, MAX_INPUT);
  const terms: string[] = [];
  const phrasePattern = /"([^"]*)"|(\S+)/g;
  for (const match of text.matchAll(phrasePattern)) {
    if (match[1] !== undefined) {
      const phrase = words(match[1]);
      if (phrase.length > 0) terms.push(quote(phrase.join(" ")));
      continue;
    }
    const token = match[2]!;
    const parts = words(token);
    parts.forEach((part, index) => {
      const prefix = index === parts.length - 1 && token.endsWith("*");
      terms.push(prefix ? `${quote(part)}*` : quote(part));
    });
  }
  return terms.length === 0 ? undefined : terms.slice(0, MAX_TERMS).join(" ");
}
