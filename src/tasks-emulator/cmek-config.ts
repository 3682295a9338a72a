/**
 * The CMEK configuration of each location (v2beta3 GetCmekConfig / UpdateCmekConfig): the Cloud KMS key name is kept
 * and validated like the real service's; the emulator encrypts nothing with it.
 */
import type { PlainMessage } from './messages.js';
import { invalidArgument } from './rpc-errors.js';

const CONFIG_RE = /^(projects\/[^/]+\/locations\/([^/]+))\/cmekConfig$/;
const KEY_RE = /^projects\/[^/]+\/locations\/([^/]+)\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;

function parseConfigName(name: string): { location: string; locationId: string } {
  const match = CONFIG_RE.exec(name);
  if (!match) {
    throw invalidArgument(
      `CmekConfig name must be formatted: "projects/<PROJECT_ID>/locations/<LOCATION_ID>/cmekConfig", got "${name}".`,
    );
  }
  return { location: match[1]!, locationId: match[2]! };
}

/** The KMS key of each location's CMEK configuration ('' = none, Google-managed encryption). */
export class CmekConfigs {
  private readonly keys = new Map<string, string>();

  getCmekConfig(req: { name?: string }): PlainMessage {
    const name = req.name ?? '';
    const { location } = parseConfigName(name);
    return { name, kmsKey: this.keys.get(location) ?? '' };
  }

  updateCmekConfig(req: {
    cmekConfig?: { name?: string; kmsKey?: string } | null;
    updateMask?: { paths?: string[] } | null;
  }) {
    const name = req.cmekConfig?.name ?? '';
    const { location, locationId } = parseConfigName(name);
    const paths = (req.updateMask?.paths ?? []).map((p) => p.trim());
    for (const path of paths) {
      if (path !== 'kms_key' && path !== 'kmsKey') {
        throw invalidArgument(`update_mask path "${path}" cannot be updated; use kms_key.`);
      }
    }
    const kmsKey = req.cmekConfig?.kmsKey ?? '';
    if (kmsKey) {
      const match = KEY_RE.exec(kmsKey);
      if (!match) {
        throw invalidArgument(
          `CmekConfig.kms_key must be formatted: "projects/<PROJECT_ID>/locations/<LOCATION_ID>/keyRings/<KEY_RING>/cryptoKeys/<KEY>", got "${kmsKey}".`,
        );
      }
      if (match[1] !== locationId) {
        throw invalidArgument(
          `CmekConfig.kms_key must be in the location of the config (${locationId}), not ${match[1]}.`,
        );
      }
    }
    if (kmsKey) this.keys.set(location, kmsKey);
    else this.keys.delete(location);
    return { name, kmsKey };
  }
}
