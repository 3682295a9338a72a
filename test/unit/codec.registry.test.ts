// Unit tests of CodecRegistry: registering class codecs, lookups by name and by instance, and clear errors on clashes.
import { describe, expect, it } from 'vitest';
import { CodecRegistry, InvalidArgumentError, type ClassCodec } from '../../src/index.js';

class Animal {}
class Dog extends Animal {}
class Puppy extends Dog {}
class Car {}

const codec = (name: string, type: abstract new (...args: never[]) => unknown): ClassCodec => ({
  name,
  type,
  encode: () => null,
  decode: () => ({}),
});

describe('CodecRegistry', () => {
  it('finds codecs by name and by instance, and is chainable', () => {
    const animal = codec('Animal', Animal);
    const car = codec('Car', Car);
    const registry = new CodecRegistry().register(animal).register(car);
    expect(registry.get('Animal')).toBe(animal);
    expect(registry.get('Nope')).toBeUndefined();
    expect(registry.find(new Car())).toBe(car);
    expect(registry.find({})).toBeUndefined();
    expect(registry.find(Object.create(null) as object)).toBeUndefined();
    expect(registry.find(new Date())).toBeUndefined();
    expect(registry.size).toBe(2);
    expect(registry.names()).toEqual(['Animal', 'Car']);
  });

  it('uses the nearest registered ancestor for subclasses', () => {
    const animal = codec('Animal', Animal);
    const dog = codec('Dog', Dog);
    const registry = new CodecRegistry().register(animal);
    expect(registry.find(new Puppy())).toBe(animal);
    registry.register(dog);
    expect(registry.find(new Puppy())).toBe(dog);
    expect(registry.find(new Animal())).toBe(animal);
  });

  it('ignores registering the same codec twice', () => {
    const animal = codec('Animal', Animal);
    const registry = new CodecRegistry().register(animal).register(animal);
    expect(registry.size).toBe(1);
  });

  it('refuses a second codec under the same name or for the same class', () => {
    const registry = new CodecRegistry().register(codec('Animal', Animal));
    expect(() => registry.register(codec('Animal', Car))).toThrow(
      /name "Animal" is already registered \(for class Animal\)/,
    );
    expect(() => registry.register(codec('Beast', Animal))).toThrow(
      /Class Animal already has a codec registered under the name "Animal"/,
    );
  });

  it.each([
    ['no object', null, /needs a ClassCodec object/],
    ['an empty name', { ...codec('', Car) }, /non-empty name/],
    ['a padded name', { ...codec(' Car', Car) }, /non-empty name/],
    ['no type', { ...codec('Car', Car), type: undefined }, /needs `type`/],
    ['an arrow function as type', { ...codec('Car', Car), type: () => 1 }, /needs `type`/],
    ['no decode', { ...codec('Car', Car), decode: undefined }, /encode\(value\) and decode\(data\)/],
  ])('refuses %s with InvalidArgumentError', (_name, bad, message) => {
    expect(() => new CodecRegistry().register(bad as unknown as ClassCodec)).toThrow(InvalidArgumentError);
    expect(() => new CodecRegistry().register(bad as unknown as ClassCodec)).toThrow(message);
  });
});
