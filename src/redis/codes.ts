/** Reply codes of the Lua functions, generated from lua/includes/codes.lua. */
import { CODES } from './generated/lua.js';

export const Code = CODES;

export type CodeValue = (typeof Code)[keyof typeof Code];

const KNOWN: ReadonlySet<number> = new Set(Object.values(Code));

export function isCode(n: unknown): n is CodeValue {
  return typeof n === 'number' && KNOWN.has(n);
}
