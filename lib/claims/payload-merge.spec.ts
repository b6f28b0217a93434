import { describe, expect, it } from 'vitest';
import { mergePayloadText } from './payload-merge.js';

describe('merging a patch into a JWT payload', () => {
  it('sets keys, removes those set to null, keeps the rest (shallow)', () => {
    const merged = mergePayloadText('{"a":1,"b":{"x":1},"c":true}', { b: { y: 2 }, c: null, d: [1] });
    expect(JSON.parse(merged)).toEqual({ a: 1, b: { y: 2 }, d: [1] });
  });

  it('keeps `__proto__` an own key, never the prototype', () => {
    const merged = mergePayloadText('{}', JSON.parse('{"__proto__":{"admin":true}}'));
    const parsed = JSON.parse(merged) as Record<string, unknown>;
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect(({} as { admin?: boolean }).admin).toBeUndefined();
  });

  it.each([null, [1], 'x', 3])('refuses a patch that is not a plain object: %j', (patch) => {
    expect(() => mergePayloadText('{}', patch)).toThrow(expect.objectContaining({ type: 'GENERAL_ERROR' }));
  });

  it('refuses a payload created as something other than an object', () => {
    expect(() => mergePayloadText('[1,2]', { a: 1 })).toThrow(/not an object/);
  });

  it('refuses what JSON cannot carry and a merged payload over 2,048 bytes', () => {
    expect(() => mergePayloadText('{}', { when: new Date(0) })).toThrow(/must be JSON/);
    expect(() => mergePayloadText('{}', { gone: undefined })).toThrow(/must be JSON/);
    expect(() => mergePayloadText(JSON.stringify({ a: 'x'.repeat(1500) }), { b: 'y'.repeat(600) })).toThrow(
      /limit is 2048/,
    );
  });
});
