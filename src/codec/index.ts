/** The payload codec: typed values to readable JSON and back, the versioned envelope, and HMAC signatures. */
export { CodecRegistry, type ClassCodec } from './registry.js';
export { encodeValue, DEFAULT_MAX_DEPTH, type EncodeOptions } from './encode.js';
export { decodeValue, type DecodeOptions } from './decode.js';
export {
  encodeEnvelope,
  parseEnvelope,
  decodeEnvelopeArgs,
  type Envelope,
  type EnvelopeInput,
  type EncodeEnvelopeOptions,
  type ParseEnvelopeOptions,
  type DecodeEnvelopeOptions,
} from './envelope.js';
export {
  sign,
  verify,
  checkSignature,
  SIGNATURE_HEADER,
  type SignaturePurpose,
  type SignatureCheck,
  type VerifyOptions,
} from './sign.js';
