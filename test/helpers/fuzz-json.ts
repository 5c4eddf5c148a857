/**
 * JSON values that mean something to someone on the way: MongoDB (`$` operators, dotted paths, `_id`),
 * JavaScript (`__proto__`, `constructor`, `prototype`, `toJSON`), Socket.IO (`_placeholder`) and
 * UTF-16 (lone surrogates). fast-check builds objects with own properties (defineProperty), so
 * `__proto__` here is a plain key, exactly what JSON.parse makes of `{"__proto__": …}`.
 */
import fc from "fast-check";

export const HOSTILE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "$where",
  "$set",
  "$gt",
  "$ne",
  "$",
  "$$",
  "$numberLong",
  "$oid",
  "$date",
  "$regex",
  "a.b",
  ".",
  "..",
  "",
  "_id",
  "offset",
  "epoch",
  "channel",
  "data",
  "_placeholder",
  "num",
  "toJSON",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "__defineGetter__",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff",
  "é",
  "😀",
] as const;

/** Keys whose presence makes a payload "hostile" for coverage counts. */
const PROTO_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export const HOSTILE_STRINGS = [
  "",
  "$where",
  "function () { return true; }",
  "{$gt: ''}",
  "\u0000",
  "\ud800",
  "\udfff\ud800",
  "\u2028\u2029",
  "\ufeff",
  "😀",
  "é",
  '"',
  "\\",
  "</script>",
  "at Object.<anonymous> (/x.ts:1:1)",
] as const;

const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_KEYS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
);

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.constantFrom(0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, 1e-300, 1e300),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 16 }),
  fc.string({ unit: "binary", maxLength: 16 }),
  fc.constantFrom(...HOSTILE_STRINGS),
);

const tree = fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 4 }),
  object: fc.dictionary(key, tie("value"), { maxKeys: 5 }),
}));

/** Any JSON-able value, leaning on hostile keys and strings. */
export const jsonish: fc.Arbitrary<unknown> = tree.value;

/** An object that certainly carries at least one hostile key, at the top or one level down. */
export const hostileObject: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.constantFrom(...HOSTILE_KEYS),
    jsonish,
    tree.object,
    fc.boolean(),
    fc.constantFrom(...HOSTILE_KEYS),
  )
  .map(([k, v, rest, nest, inner]) => {
    const target = nest ? ownObject([[inner, ownObject([[k, v]])]]) : ownObject([[k, v]]);
    for (const [rk, rv] of Object.entries(rest)) if (!Object.hasOwn(target, rk)) setOwn(target, rk, rv);
    return target;
  });

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function ownObject(entries: Array<[string, unknown]>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) setOwn(o, k, v);
  return o;
}

/** Whether a parsed JSON value has a `__proto__` / `constructor` / `prototype` or `$`-key anywhere. */
export function hasHostileKey(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== "object") continue;
    for (const [k, child] of Object.entries(v)) {
      if (!Array.isArray(v) && (PROTO_KEYS.has(k) || k.startsWith("$"))) return true;
      stack.push(child);
    }
  }
  return false;
}
