/** Reply codes of the Lua scripts; mirrors lua/includes/common.lua. */
export const Code = {
  OK: 1,
  REPLAYED: 2,
  CONFLICT: -1,
  NOT_FOUND: -2,
  TERMINATED: -3,
  EXISTS: -4,
  TOO_LARGE: -5,
} as const;

export type CodeValue = (typeof Code)[keyof typeof Code];

const KNOWN: ReadonlySet<number> = new Set(Object.values(Code));

export function isCode(n: unknown): n is CodeValue {
  return typeof n === 'number' && KNOWN.has(n);
}
