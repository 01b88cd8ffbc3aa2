/**
 * Finds where JSON text stops being valid. JSON.parse's messages do not always carry a position
 * (V8 words some errors as "Unexpected token … is not valid JSON"), so when it fails we scan the
 * text once more to report a line and column. One pass, no recursion: nesting is kept on an
 * explicit stack, so neither a long file nor a deeply nested one can make the scan itself fail.
 */

const HEX4 = /[0-9a-fA-F]{4}/y;
const ESCAPES = '"\\/bfnrt';

const OBJECT = 0;
const ARRAY = 1;

/** What the scanner expects next. */
const Expect = { Value: 0, Key: 1, AfterValue: 2 } as const;

/** The offset in `text` at which it stops being one valid JSON value; -1 when it is valid. */
export function jsonErrorPosition(text: string): number {
  const length = text.length;
  let i = 0;
  const skipSpace = (): void => {
    for (; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code !== 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) return;
    }
  };
  /** Reads a string starting at its opening quote; false (with `i` at the fault) when invalid. */
  const readString = (): boolean => {
    i++;
    while (i < length) {
      const code = text.charCodeAt(i);
      if (code === 0x22) {
        i++;
        return true;
      }
      if (code === 0x5c) {
        i++;
        const escape = text[i];
        if (escape === 'u') {
          HEX4.lastIndex = i + 1;
          if (!HEX4.test(text)) return false;
          i += 5;
          continue;
        }
        if (escape === undefined || !ESCAPES.includes(escape)) return false;
        i++;
        continue;
      }
      if (code < 0x20) return false;
      i++;
    }
    return false;
  };
  const isDigit = (at: number): boolean => {
    const code = text.charCodeAt(at);
    return code >= 0x30 && code <= 0x39;
  };
  const readDigits = (): boolean => {
    if (!isDigit(i)) return false;
    while (isDigit(i)) i++;
    return true;
  };
  /** Reads a number; false (with `i` at the fault, where V8 reports it) when invalid. */
  const readNumber = (): boolean => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (!readDigits()) return false;
    if (text[i] === '.') {
      i++;
      if (!readDigits()) return false;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (!readDigits()) return false;
    }
    return true;
  };
  const readLiteral = (word: string): boolean => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) return false;
    return true;
  };
  const stack: number[] = [];
  let expect: number = Expect.Value;
  for (;;) {
    skipSpace();
    if (expect === Expect.Key) {
      if (text[i] !== '"' || !readString()) return Math.min(i, length);
      skipSpace();
      if (text[i] !== ':') return Math.min(i, length);
      i++;
      expect = Expect.Value;
      continue;
    }
    if (expect === Expect.AfterValue) {
      if (stack.length === 0) return i < length ? i : -1;
      const open = stack[stack.length - 1];
      const ch = text[i];
      if (ch === ',') {
        i++;
        expect = open === OBJECT ? Expect.Key : Expect.Value;
      } else if ((ch === '}' && open === OBJECT) || (ch === ']' && open === ARRAY)) {
        i++;
        stack.pop();
      } else return Math.min(i, length);
      continue;
    }
    const ch = text[i];
    if (ch === '{' || ch === '[') {
      i++;
      skipSpace();
      if (text[i] === (ch === '{' ? '}' : ']')) {
        i++;
        expect = Expect.AfterValue;
      } else {
        stack.push(ch === '{' ? OBJECT : ARRAY);
        expect = ch === '{' ? Expect.Key : Expect.Value;
      }
      continue;
    }
    let ok: boolean;
    if (ch === '"') ok = readString();
    else if (ch === 't') ok = readLiteral('true');
    else if (ch === 'f') ok = readLiteral('false');
    else if (ch === 'n') ok = readLiteral('null');
    else ok = readNumber();
    if (!ok) return Math.min(i, length);
    expect = Expect.AfterValue;
  }
}
