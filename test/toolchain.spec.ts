import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';

class Dependency {}

@Injectable()
class Consumer {
  constructor(readonly dependency: Dependency) {}
}

describe('test toolchain', () => {
  // Nest resolves constructor injection from this metadata; a compiler that drops it breaks every e2e test.
  it('emits decorator metadata for files under test', () => {
    expect(Reflect.getMetadata('design:paramtypes', Consumer)).toEqual([Dependency]);
  });
});
