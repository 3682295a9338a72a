/** The registry of class codecs: how instances of user classes are turned into payload data and rebuilt from it. */
import { InvalidArgumentError } from '../errors/invalid-argument.js';

/** Teaches the payload codec one user class: how to turn an instance into data and how to rebuild it. */
export interface ClassCodec<T = unknown> {
  /** Stable registered name, written into payloads (`{"$class":"<name>","data":...}`); never rename it while payloads are in flight. */
  name: string;
  /** The class; instances of it (and of subclasses without a codec of their own) use this codec. */
  type: abstract new (...args: never[]) => T;
  /** Turns an instance into codec-able data (may contain Dates, Datastore keys, Maps, other registered classes, ...). */
  encode(value: T): unknown;
  /** Rebuilds an instance from the data `encode` returned; may be async, e.g. to load the entity behind a Datastore key. */
  decode(data: unknown): T | Promise<T>;
}

/** Class codecs by name (for decoding) and by class (for encoding); a subclass without its own codec uses its nearest registered ancestor's. */
export class CodecRegistry {
  readonly #byName = new Map<string, ClassCodec>();
  readonly #byPrototype = new Map<object, ClassCodec>();

  /** Registers a codec; registering the same codec again is a no-op, a clashing name or class is an `InvalidArgumentError`. */
  register(codec: ClassCodec): this {
    if (codec === null || typeof codec !== 'object') {
      throw new InvalidArgumentError(
        'CodecRegistry.register() needs a ClassCodec object: { name, type, encode, decode }.',
      );
    }
    const { name, type } = codec;
    if (typeof name !== 'string' || name.trim() === '' || name !== name.trim()) {
      throw new InvalidArgumentError(
        `A class codec needs a non-empty name without surrounding spaces (got ${JSON.stringify(name)}); it is written into payloads.`,
      );
    }
    if (typeof type !== 'function' || typeof type.prototype !== 'object' || type.prototype === null) {
      throw new InvalidArgumentError(`Class codec "${name}" needs \`type\`: the class whose instances it encodes.`);
    }
    if (typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
      throw new InvalidArgumentError(`Class codec "${name}" needs both encode(value) and decode(data) functions.`);
    }
    const byName = this.#byName.get(name);
    const byType = this.#byPrototype.get(type.prototype as object);
    if (byName === codec && byType === codec) return this;
    if (byName !== undefined) {
      throw new InvalidArgumentError(
        `Class codec name "${name}" is already registered (for class ${byName.type.name || '(anonymous)'}); choose a different name.`,
      );
    }
    if (byType !== undefined) {
      throw new InvalidArgumentError(
        `Class ${type.name || '(anonymous)'} already has a codec registered under the name "${byType.name}"; register each class once.`,
      );
    }
    this.#byName.set(name, codec);
    this.#byPrototype.set(type.prototype as object, codec);
    return this;
  }

  /** The codec registered under `name`, if any. */
  get(name: string): ClassCodec | undefined {
    return this.#byName.get(name);
  }

  /** The codec for `value`'s class or its nearest registered ancestor class, if any. */
  find(value: object): ClassCodec | undefined {
    if (this.#byPrototype.size === 0) return undefined;
    let proto: object | null = Object.getPrototypeOf(value) as object | null;
    while (proto !== null && proto !== Object.prototype) {
      const codec = this.#byPrototype.get(proto);
      if (codec !== undefined) return codec;
      proto = Object.getPrototypeOf(proto) as object | null;
    }
    return undefined;
  }

  /** How many codecs are registered. */
  get size(): number {
    return this.#byName.size;
  }

  /** The registered names, in registration order. */
  names(): string[] {
    return [...this.#byName.keys()];
  }
}
